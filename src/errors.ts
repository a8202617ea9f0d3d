/**
 * Base of the project's typed errors: a machine-readable `code` for callers and tests, and a
 * message written for the person at the terminal. Each layer narrows the code to its own set.
 */
export class CodedError<C extends string> extends Error {
  constructor(readonly code: C, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
