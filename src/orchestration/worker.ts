/**
 * diffc's Temporal workers: one Worker per task queue role on one connection. The io worker runs
 * the workflows and the light I/O activities; the gpu worker the model and RCC activities. A
 * process may serve both (`diffc worker --queues gpu,io`).
 */
import { fileURLToPath } from 'node:url';
import { DefaultLogger, NativeConnection, Runtime, Worker, type LogLevel } from '@temporalio/worker';
import * as activities from '../../activities/index.js';
import { connectionOptions, type TemporalConfig } from './config.js';

/** The workflows module the worker bundles: the .ts source under tsx, the compiled .js from dist/. */
export const WORKFLOWS_PATH = fileURLToPath(new URL(`../../workflows/index.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url));

export type QueueRole = 'io' | 'gpu';

export interface WorkerOptions {
  roles?: readonly QueueRole[];
  connection?: NativeConnection;
  /** Replaces the activity implementations (tests inject failures through it). */
  activities?: typeof activities;
  /** Activities run at once per role; the gpu default is 1 (one chain at a time per device). */
  maxConcurrentActivities?: Partial<Record<QueueRole, number>>;
  /** How long SIGTERM's drain waits for in-flight activities before cancelling them. */
  shutdownGraceTime?: string;
}

export interface DiffcWorkers {
  readonly workers: ReadonlyMap<QueueRole, Worker>;
  readonly connection: NativeConnection;
  /** Runs every worker until shutdown() (or one fails), then closes the connection it opened. */
  run(): Promise<void>;
  /** Stops polling; in-flight activities finish (step ranges hand back at a checkpoint). */
  shutdown(): void;
  /** Runs f with the workers running, then shuts them down (tests). */
  runUntil<T>(f: () => Promise<T>): Promise<T>;
}

let runtimeInstalled = false;

/** The SDK's own logs: warnings and errors only unless DIFFC_TEMPORAL_LOG_LEVEL says otherwise. */
function installRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger((process.env.DIFFC_TEMPORAL_LOG_LEVEL ?? 'WARN') as LogLevel) });
  } catch {
    // Already instantiated by an earlier connection in this process: keep its logger.
  }
}

export async function createWorkers(cfg: TemporalConfig, opts: WorkerOptions = {}): Promise<DiffcWorkers> {
  installRuntime();
  const roles = opts.roles ?? ['io', 'gpu'];
  const own = opts.connection === undefined;
  const connection = opts.connection ?? (await NativeConnection.connect(connectionOptions(cfg)));
  const workers = new Map<QueueRole, Worker>();
  try {
    for (const role of roles) {
      workers.set(role, await Worker.create({
        connection, namespace: cfg.namespace, taskQueue: cfg.queues[role],
        activities: opts.activities ?? activities,
        ...(role === 'io' ? { workflowsPath: WORKFLOWS_PATH } : {}),
        maxConcurrentActivityTaskExecutions: opts.maxConcurrentActivities?.[role] ?? (role === 'gpu' ? 1 : 16),
        shutdownGraceTime: opts.shutdownGraceTime ?? '5 minutes',
        // Heartbeats carry cancellation back to a step range: flush them every few seconds
        // rather than the SDK's default of most of the heartbeat timeout.
        defaultHeartbeatThrottleInterval: '3 seconds',
        maxHeartbeatThrottleInterval: '5 seconds',
      }));
    }
  } catch (e) {
    if (own) await connection.close();
    throw e;
  }
  const all = [...workers.values()];
  const shutdown = () => {
    for (const w of all) if (w.getState() === 'RUNNING') w.shutdown();
  };
  const run = async () => {
    try {
      const results = await Promise.allSettled(all.map((w) => w.run()));
      // One worker failing stops the others: a half-serving process would look healthy.
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    } finally {
      if (own) await connection.close();
    }
  };
  return {
    workers, connection, run, shutdown,
    async runUntil(f) {
      const running = run();
      try {
        return await f();
      } finally {
        shutdown();
        await running;
      }
    },
  };
}
