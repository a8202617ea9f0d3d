/**
 * The diffc command line. Verbs are small modules; this file only dispatches and maps errors to
 * exit codes: 0 ok, 1 failure (bad input file, I/O), 2 usage.
 */
import { scheduleCommand, SCHEDULE_HELP } from './schedule.js';
import { compressCommand } from './compress.js';
import { decompressCommand } from './decompress.js';
import { infoCommand } from './info.js';
import { evalCommand } from './eval.js';
import { modelsCommand, MODELS_HELP } from './models.js';
import { workerCommand } from './worker.js';
import { submitCommand } from './submit.js';
import { triggerCommand } from './trigger.js';
import { workCommand } from './work.js';
import { workerDeploymentCommand } from './worker-deployment.js';
import { UsageError, CliError, EXIT } from './errors.js';
import type { Print } from './args.js';
import { DfcError } from '../codec/format/index.js';
import { ImageError } from '../image/errors.js';
import { ModelError } from '../models/errors.js';
import { ConfigError } from '../orchestration/config.js';
import { LocationError } from '../orchestration/locations.js';
import { TriggerError } from '../trigger/index.js';
import { StorageError } from '../storage/index.js';

const HELP = `diffc — extreme lossy image compression with diffusion models (DiffC)

usage: diffc <command> [options]

commands:
  compress            image -> .dfc           (diffc compress photo.jpg -o photo.dfc --bpp 0.1)
  decompress          .dfc -> image           (diffc decompress photo.dfc -o photo.png)
  info                what a .dfc holds       (diffc info photo.dfc --json)
  eval                rate-distortion vs JPEG/WebP/AVIF on images or folders
  models              list | verify | pull model bundles (Hugging Face hub)
  schedule measure    a model's mean per-step KL on photos -> a KL matrix file
  schedule optimize   minimum-cost coding schedule from a KL matrix (Algorithm 3)

cluster (Temporal; see README "Running on a cluster"):
  worker              run a worker on the gpu and/or io task queue (diffc worker --queues gpu,io)
  submit              compress an object, a prefix or a manifest in S3 as workflows; follow them
  trigger             serve: start compressions from bucket event notifications; sweep: schedule
  work gc             remove the work folders of closed runs (terminated runs leave theirs)
  worker-deployment   Worker Versioning: set-current | ramp | describe the workers' build ids

Run 'diffc <command> --help' for a command's options.
Exit codes: 0 success, 1 failure (bad input, I/O), 2 usage error.
`;

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
      case 'compress':
        return await compressCommand(rest, out, err);
      case 'decompress':
        return await decompressCommand(rest, out, err);
      case 'info':
        return await infoCommand(rest, out);
      case 'eval':
        return await evalCommand(rest, out, err);
      case 'models':
        if (rest[0] === undefined || rest[0] === '--help') {
          out(MODELS_HELP);
          return EXIT.ok;
        }
        return await modelsCommand(rest, out, err);
      case 'worker':
        return await workerCommand(rest, out);
      case 'submit':
        return await submitCommand(rest, out, err);
      case 'trigger':
        return await triggerCommand(rest, out);
      case 'work':
        return await workCommand(rest, out, err);
      case 'worker-deployment':
        return await workerDeploymentCommand(rest, out);
      case 'schedule':
        if (rest[0] === undefined || rest[0] === '--help') {
          out(SCHEDULE_HELP);
          return EXIT.ok;
        }
        return await scheduleCommand(rest, out, err);
      default:
        throw new UsageError(`unknown command '${cmd}'\n\n${HELP}`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      err(`diffc: ${e.message}`);
      return EXIT.usage;
    }
    if (e instanceof DfcError || e instanceof CliError || e instanceof ImageError || e instanceof ModelError || e instanceof ConfigError || e instanceof LocationError || e instanceof TriggerError || e instanceof StorageError) {
      err(`diffc: ${e.message}`);
      return EXIT.failure;
    }
    if (e instanceof Error && 'code' in e && typeof e.code === 'string' && e.code.startsWith('ERR_PARSE_ARGS_')) {
      err(`diffc: ${e.message}`);
      return EXIT.usage;
    }
    err(`diffc: ${e instanceof Error ? e.message : String(e)}`);
    return EXIT.failure;
  }
}
