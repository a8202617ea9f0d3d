/**
 * The diffc command line. Verbs are small modules; this file only dispatches and maps errors to
 * exit codes: 0 ok, 1 failure (bad input file, I/O), 2 usage.
 */
import { scheduleCommand, SCHEDULE_HELP } from './schedule.js';
import { UsageError, EXIT } from './errors.js';
import { DfcError } from '../codec/format/index.js';

const HELP = `diffc — extreme lossy image compression with diffusion models (DiffC)

usage: diffc <command> [options]

commands:
  schedule optimize   minimum-cost coding schedule from a KL matrix (Algorithm 3)

Run 'diffc <command> --help' for a command's options.
Exit codes: 0 success, 1 failure (bad input, I/O), 2 usage error.
`;

export type Print = (s: string) => unknown;

export async function main(argv: string[], out: Print = (s) => process.stdout.write(s.endsWith('\n') ? s : s + '\n'), err: Print = (s) => process.stderr.write(s.endsWith('\n') ? s : s + '\n')): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        out(HELP);
        return EXIT.ok;
      case 'schedule':
        if (rest[0] === undefined || rest[0] === '--help') {
          out(SCHEDULE_HELP);
          return EXIT.ok;
        }
        return await scheduleCommand(rest, out);
      default:
        throw new UsageError(`unknown command '${cmd}'\n\n${HELP}`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      err(`diffc: ${e.message}`);
      return EXIT.usage;
    }
    if (e instanceof DfcError) {
      err(`diffc: ${e.message}`);
      return EXIT.failure;
    }
    if (e instanceof Error && 'code' in e && e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      err(`diffc: ${e.message}`);
      return EXIT.usage;
    }
    err(`diffc: ${e instanceof Error ? e.message : String(e)}`);
    return EXIT.failure;
  }
}
