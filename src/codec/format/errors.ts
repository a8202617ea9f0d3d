/** The one error type the .dfc reader and writer throw (docs/format.md §3.6). */

export type DfcErrorCode = 'magic' | 'version' | 'truncated' | 'corrupt' | 'model-mismatch' | 'invalid';

export class DfcError extends Error {
  readonly code: DfcErrorCode;

  constructor(code: DfcErrorCode, message: string) {
    super(`dfc ${code}: ${message}`);
    this.name = 'DfcError';
    this.code = code;
  }
}
