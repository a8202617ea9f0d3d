import { CodedError } from '../errors.js';
/**
 * The one error type of the storage layer. `code` says what the caller can do about it:
 *   not-found    no such object (or bucket / root directory)
 *   exists       put with ifNoneMatch found an object already there
 *   changed      a pinned read or an ifMatch put found another version of the object
 *   auth         credentials missing, wrong or not allowed (403, bad signature, EACCES)
 *   unavailable  the service could not be reached or kept failing after bounded retries
 *   invalid      a bad key, URL or configuration, or a request the service refused as malformed
 *   io           anything else (disk full, truncated transfer, unexpected answer)
 * Only 'unavailable' is worth retrying later; the store has already retried it.
 */
export type StorageErrorCode = 'not-found' | 'exists' | 'changed' | 'auth' | 'unavailable' | 'invalid' | 'io';

export class StorageError extends CodedError<StorageErrorCode> {
  override readonly name = 'StorageError';
}

export function isStorageError(e: unknown, code?: StorageErrorCode): e is StorageError {
  return e instanceof StorageError && (code === undefined || e.code === code);
}
