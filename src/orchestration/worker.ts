/**
 * diffc's Temporal workers: one Worker per task queue role on one connection. The io worker runs
 * the workflows and the light I/O activities; the gpu worker the model and RCC activities. A
 * process may serve both (`diffc worker --queues gpu,io`).
 */
import { fileURLToPath } from 'node:url';
import { DefaultLogger, NativeConnection, Runtime, Worker, type ActivityInterceptors, type LogLevel } from '@temporalio/worker';
import * as activities from '../../activities/index.js';
import { connectionOptions, type TemporalConfig } from './config.js';
import { IllegalStateError } from '@temporalio/common';
import type { LogEntry } from '@temporalio/worker';
import { log } from './runtime.js';
import { setSdkMetricsUrl } from './metrics.js';

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
  /**
   * Worker Versioning: this process is version { deploymentName, buildId } of a Worker
   * Deployment, and takes only the tasks Temporal routes to that version. Absent: unversioned.
   */
  deployment?: WorkerDeployment;
}

export interface WorkerDeployment {
  deploymentName: string;
  buildId: string;
}

/** Activities running in this process now, and when the last one ended (exit-when-idle). */
export interface ActivityIdleness {
  inFlight(): number;
  /** ms timestamp (Date.now()) of the last activity's end, or of createWorkers when none ran. */
  lastActiveAt(): number;
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
  readonly activity: ActivityIdleness;
}

let runtimeInstalled = false;

/** An SDK log entry (workflow code's `log` included, with its workflow and run ids) as a diffc JSON line. */
function sdkLogLine(entry: LogEntry): void {
  const level = entry.level === 'TRACE' ? 'debug' : (entry.level.toLowerCase() as 'debug' | 'info' | 'warn' | 'error');
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(entry.meta ?? {})) {
    fields[k] = typeof v === 'bigint' ? v.toString() : v instanceof Error ? { name: v.name, message: v.message } : v;
  }
  log(level, entry.message, { ...fields, source: 'temporal-sdk' });
}

/** Tries for a free loopback port for the SDK's exporter when DIFFC_TEMPORAL_METRICS_PORT names none. */
const PORT_TRIES = 8;

/**
 * The process's Temporal runtime: the SDK's logs as diffc JSON lines (warnings and errors only
 * unless DIFFC_TEMPORAL_LOG_LEVEL says otherwise), and its Prometheus exporter on 127.0.0.1, whose
 * text the worker's /metrics appends to diffc's (health.ts), so nothing else needs exposing.
 * DIFFC_TEMPORAL_METRICS_PORT fixes its port (default: a free one; -1: no SDK metrics). Runtime.install
 * binds synchronously and throws when the port is taken, so a random port is simply tried again.
 */
function installRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const level = (process.env.DIFFC_TEMPORAL_LOG_LEVEL ?? 'WARN') as LogLevel;
  const logger = new DefaultLogger(level, sdkLogLine);
  // Core's own lines too, instead of its console format.
  const logging = { forward: {}, filter: { core: level, other: 'ERROR' as const } };
  const fixed = process.env.DIFFC_TEMPORAL_METRICS_PORT;
  const ports = fixed ? [Number(fixed)] : Array.from({ length: PORT_TRIES }, () => 32768 + Math.floor(Math.random() * 28000));
  let why = `DIFFC_TEMPORAL_METRICS_PORT=${fixed}`;
  for (const port of ports) {
    if (!(Number.isInteger(port) && port > 0 && port < 65536)) break;
    try {
      Runtime.install({
        logger,
        telemetryOptions: {
          logging,
          metrics: { prometheus: { bindAddress: `127.0.0.1:${port}`, countersTotalSuffix: true, unitSuffix: true, useSecondsForDurations: true } },
        },
      });
      setSdkMetricsUrl(`http://127.0.0.1:${port}/metrics`);
      return;
    } catch (e) {
      why = (e as Error).message;
      // Already instantiated by an earlier connection in this process: keep it (no SDK metrics).
      if (e instanceof IllegalStateError) return void log('warn', 'temporal-sdk-metrics-off', { reason: why });
      if (!/in use/i.test(why)) break;
    }
  }
  log('warn', 'temporal-sdk-metrics-off', { reason: why });
  try {
    Runtime.install({ logger, telemetryOptions: { logging } });
  } catch {
    // Instantiated meanwhile: keep it.
  }
}

export async function createWorkers(cfg: TemporalConfig, opts: WorkerOptions = {}): Promise<DiffcWorkers> {
  installRuntime();
  const roles = opts.roles ?? ['io', 'gpu'];
  const own = opts.connection === undefined;
  const connection = opts.connection ?? (await NativeConnection.connect(connectionOptions(cfg)));
  const workers = new Map<QueueRole, Worker>();
  // Counted around every activity of every role, whatever implementations were injected.
  let inFlight = 0;
  let lastActiveAt = Date.now();
  const counting = (): ActivityInterceptors => ({
    inbound: {
      async execute(input, next) {
        inFlight++;
        try {
          return await next(input);
        } finally {
          inFlight--;
          lastActiveAt = Date.now();
        }
      },
    },
  });
  const versioning = opts.deployment
    ? {
      workerDeploymentOptions: {
        version: { deploymentName: opts.deployment.deploymentName, buildId: opts.deployment.buildId },
        useWorkerVersioning: true as const,
        // Only for a workflow type workflows/versioning.ts does not annotate (none today):
        // PINNED keeps such a run on the code it started with.
        defaultVersioningBehavior: 'PINNED' as const,
      },
    }
    : {};
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
        interceptors: { activity: [counting] },
        ...versioning,
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
    activity: { inFlight: () => inFlight, lastActiveAt: () => lastActiveAt },
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

/**
 * Calls onIdle once when no activity has run in `workers` for `seconds` (counted from the last
 * activity's end, or from createWorkers). A running activity never counts as idle, however long
 * it takes. Returns a stop function.
 */
export function whenIdle(workers: Pick<DiffcWorkers, 'activity'>, seconds: number, onIdle: () => void): () => void {
  const timer = setInterval(() => {
    if (workers.activity.inFlight() > 0 || Date.now() - workers.activity.lastActiveAt() < seconds * 1000) return;
    clearInterval(timer);
    onIdle();
  }, Math.max(50, Math.min(1000, seconds * 250)));
  return () => clearInterval(timer);
}
