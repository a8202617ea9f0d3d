/**
 * Per-process worker state shared by the activities: loaded models (once per process, kept across
 * activities), the RCC backend, the drain flag set on SIGTERM, metrics, and structured logs.
 */
import { loadModel, type LoadedModel } from '../pipeline/model-context.js';
import { resolveBackend, BACKEND_NAMES, type BackendName } from '../rcc-backends/index.js';
import type { RccBackend } from '../codec/rcc/select.js';
import { currentActivity } from './activity-context.js';

const models = new Map<string, Promise<LoadedModel>>();
let backendP: Promise<RccBackend> | undefined;
let draining = false;

export function workerModel(spec: string): Promise<LoadedModel> {
  let p = models.get(spec);
  if (!p) {
    p = loadModel(spec);
    // A failed load is not cached: the next activity tries again (the bundle may be syncing).
    p.catch(() => models.delete(spec));
    models.set(spec, p);
  }
  return p;
}

export function workerBackend(): Promise<RccBackend> {
  if (!backendP) {
    const name = (process.env.DIFFC_RCC_BACKEND ?? 'auto') as BackendName;
    if (!BACKEND_NAMES.includes(name)) throw new Error(`DIFFC_RCC_BACKEND=${name}: expected ${BACKEND_NAMES.join(', ')}`);
    backendP = resolveBackend(name, { log: (m) => log('info', 'rcc-backend', { detail: m }) }).then((b) => {
      metrics.rccBackend = b.name;
      return b;
    });
  }
  return backendP;
}

/**
 * DIFFC_CHECKPOINT_SECONDS caps every job's checkpoint interval on this worker, so a deployment
 * can size its termination grace period from one number (k8s: the diffc-config ConfigMap).
 */
export function checkpointSeconds(jobSeconds: number, env: NodeJS.ProcessEnv = process.env): number {
  const v = env.DIFFC_CHECKPOINT_SECONDS;
  if (v === undefined || v === '') return jobSeconds;
  const cap = Number(v);
  if (!(cap > 0)) throw new Error(`DIFFC_CHECKPOINT_SECONDS=${v}: expected a positive number of seconds`);
  return Math.min(jobSeconds, cap);
}

/** SIGTERM: step-range activities checkpoint at the next step boundary and hand back early. */
export function beginDrain(): void {
  draining = true;
}
export const isDraining = (): boolean => draining;

/**
 * Per-worker totals read by the worker's /metrics endpoint (Prometheus text). The labelled series
 * (by model, activity type, job) and the calls that feed both are in metrics.ts.
 */
export const metrics = {
  steps: 0,
  payloadBits: 0,
  checkpoints: 0,
  activitiesInFlight: 0,
  activitiesTotal: 0,
  activityFailures: 0,
  lastCheckpointAt: 0,
  rccBackend: 'none',
};

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/**
 * One JSON line on stderr; DIFFC_LOG_LEVEL (default info) filters. A line written inside an
 * activity names its workflow, run, activity type and attempt, so one job's lines can be found
 * across workers; explicit fields win.
 */
export function log(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
  const min = LEVELS[(process.env.DIFFC_LOG_LEVEL as LogLevel) ?? 'info'] ?? LEVELS.info;
  if (LEVELS[level] < min) return;
  const a = currentActivity();
  const ids = a ? { workflowId: a.workflowId, runId: a.runId, activityType: a.activityType, attempt: a.attempt } : {};
  process.stderr.write(`${JSON.stringify({ t: new Date().toISOString(), level, msg, pid: process.pid, ...ids, ...fields })}\n`);
}
