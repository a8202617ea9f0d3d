/** Bad command-line usage: printed without a stack trace, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A failure the user can act on (bad input file, existing output, I/O): exit code 1. */
export class CliError extends Error {
  override readonly name = 'CliError';
}

export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;
