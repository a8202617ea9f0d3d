import { CodedError } from '../errors.js';
/**
 * The one error type of the model layer. `code` says what the user can do about it:
 *   not-found  no such bundle directory or cached id (pull it, or check the path)
 *   manifest   manifest.json missing, unparsable or invalid
 *   checksum   a file's size or sha256 differs from the manifest (re-download)
 *   family     the bundle's family/prediction/files do not fit together, or are not supported
 *   offline    the hub could not be reached (no network, closed port, connect timeout)
 *   download   the hub answered, but with an error (404, 5xx, truncated transfer)
 *   runtime    ONNX Runtime failed (session creation, execution provider, inference)
 *   non-finite a graph produced NaN or Infinity (typically float16 overflow: use a float32 graph)
 */
export type ModelErrorCode = 'not-found' | 'manifest' | 'checksum' | 'family' | 'offline' | 'download' | 'runtime' | 'non-finite';

export class ModelError extends CodedError<ModelErrorCode> {
  override readonly name = 'ModelError';
}

export function isModelError(e: unknown, code?: ModelErrorCode): e is ModelError {
  return e instanceof ModelError && (code === undefined || e.code === code);
}
