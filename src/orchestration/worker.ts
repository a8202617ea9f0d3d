/**
 * The diffc Temporal worker: registers workflows/ and activities/ on one task queue.
 *
 *   node --import tsx src/orchestration/worker.ts   # TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, DIFFC_TASK_QUEUE
 */
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker } from '@temporalio/worker';
import * as activities from '../../activities/index.js';
import { temporalConfigFromEnv, type TemporalConfig } from './config.js';

/** The workflows module the worker bundles (TypeScript source; the SDK's bundler compiles it). */
export const WORKFLOWS_PATH = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

/** `opts.activities` replaces the activity implementations (tests inject failures through it). */
export async function createWorker(
  cfg: TemporalConfig, opts: { connection?: NativeConnection; activities?: typeof activities } = {},
): Promise<{ worker: Worker; connection: NativeConnection }> {
  const conn = opts.connection ?? (await NativeConnection.connect({ address: cfg.address }));
  const worker = await Worker.create({
    connection: conn, namespace: cfg.namespace, taskQueue: cfg.taskQueue, workflowsPath: WORKFLOWS_PATH,
    activities: opts.activities ?? activities,
  });
  return { worker, connection: conn };
}

async function main(): Promise<void> {
  const cfg = temporalConfigFromEnv();
  const { worker, connection } = await createWorker(cfg);
  console.error(`diffc worker: ${cfg.address} namespace ${cfg.namespace} task queue ${cfg.taskQueue}`);
  try {
    await worker.run();
  } finally {
    await connection.close();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
