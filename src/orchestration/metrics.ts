/**
 * diffc's labelled worker metrics, and the calls the activities make to feed them. Labels are
 * bounded: model (the models a worker loads), activity_type (diffc's activity names), and
 * workflow_id only on per-job gauges, which exist while that job's activity runs on this worker
 * and are removed when it ends (activity() in activities/failures.ts removes what an activity
 * left). The unlabelled per-worker totals of `metrics` (runtime.ts) stay as they were.
 */
import { currentActivity } from './activity-context.js';
import { metrics } from './runtime.js';
import { Registry } from './prom.js';

export const registry = new Registry();

const STEP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const ACTIVITY_BUCKETS = [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
/** Models per worker are a handful; past this, new model labels are dropped (and counted). */
const MAX_MODELS = 32;
/** Per-job gauges live while a job's activity runs here: activity slots bound them; this is a backstop. */
const MAX_JOBS = 2000;

// activity_type tells encoding (encodeSteps) from decoding steps and checkpoints.
const stepSeconds = registry.histogram('diffc_step_duration_seconds', 'Wall time of one chain step (model + RCC), by model and activity type.',
  ['model', 'activity_type'], STEP_BUCKETS, 4 * MAX_MODELS);
const checkpointSeconds = registry.histogram('diffc_checkpoint_duration_seconds', 'Time to write one chain checkpoint to the store, by model and activity type.',
  ['model', 'activity_type'], STEP_BUCKETS, 4 * MAX_MODELS);
const modelSteps = registry.counter('diffc_model_steps_total', 'Chain steps coded, by model.', ['model'], MAX_MODELS);
const modelBits = registry.counter('diffc_model_payload_bits_total', 'Payload bits produced by the steps coded, by model.', ['model'], MAX_MODELS);
const inFlight = registry.gauge('diffc_activity_in_flight', 'Activities running now, by activity type (0 once seen and idle).', ['activity_type'], 64);
const results = registry.counter('diffc_activity_results_total',
  'Activities ended, by type and result: ok, retryable (Temporal retries it), permanent (non-retryable) or cancelled.', ['activity_type', 'result'], 256);
const activitySeconds = registry.histogram('diffc_activity_duration_seconds', 'Wall time of one activity attempt, by activity type.', ['activity_type'], ACTIVITY_BUCKETS, 64);
const jobStep = registry.gauge('diffc_job_step', 'Chain steps done of a job whose activity runs on this worker now.', ['workflow_id', 'model'], MAX_JOBS);
const jobTarget = registry.gauge('diffc_job_steps_target', 'Chain steps the job will code at most (its rate target).', ['workflow_id', 'model'], MAX_JOBS);
const jobUpdated = registry.gauge('diffc_job_updated_timestamp_seconds', 'Unix time of the job\'s last progress report here.', ['workflow_id', 'model'], MAX_JOBS);

export interface JobRef {
  /** The model spec the job runs (CompressImageInput.model: 'default', 'sdxl-base-onnx', ...). */
  readonly model: string;
  /** The job's workflow id; default: the workflow of the activity this is called from. */
  readonly workflowId?: string;
}

const workflowOf = (job: { workflowId?: string }) => job.workflowId ?? currentActivity()?.workflowId ?? '';
const typeOf = () => currentActivity()?.activityType ?? 'none';

/** One chain step coded in `seconds`, producing `bits` payload bits (also the worker totals). */
export function observeStep(job: JobRef, seconds: number, bits: number): void {
  metrics.steps++;
  metrics.payloadBits += bits;
  stepSeconds.observe({ model: job.model, activity_type: typeOf() }, seconds);
  modelSteps.inc({ model: job.model });
  modelBits.inc({ model: job.model }, bits);
}

/** One checkpoint written in `seconds` (also the worker's checkpoint count and age). */
export function observeCheckpoint(job: JobRef, seconds: number): void {
  metrics.checkpoints++;
  metrics.lastCheckpointAt = Date.now();
  checkpointSeconds.observe({ model: job.model, activity_type: typeOf() }, seconds);
}

/** Which activity set each job's gauges, so that activity's end removes them (and only its own). */
const owners = new Map<string, string>();
const ownerKey = () => {
  const a = currentActivity();
  return a ? `${a.runId}/${a.activityId}` : '';
};

/** The job's progress: `step` of at most `stepsTarget` steps. */
export function jobProgress(job: JobRef, step: number, stepsTarget: number, now = Date.now()): void {
  const workflowId = workflowOf(job);
  if (!workflowId) return;
  const labels = { workflow_id: workflowId, model: job.model };
  // A job that changed model here (a rerun) keeps one set of series.
  if (owners.has(workflowId)) for (const g of [jobStep, jobTarget, jobUpdated]) g.removeMatching({ workflow_id: workflowId });
  jobStep.set(labels, step);
  jobTarget.set(labels, stepsTarget);
  jobUpdated.set(labels, now / 1000);
  owners.set(workflowId, ownerKey());
}

/** The job's activity ended here: its per-job series go. */
export function jobEnded(job: { workflowId?: string }): void {
  const workflowId = workflowOf(job);
  owners.delete(workflowId);
  for (const g of [jobStep, jobTarget, jobUpdated]) g.removeMatching({ workflow_id: workflowId });
}

export type ActivityResult = 'ok' | 'retryable' | 'permanent' | 'cancelled';

/** Called by activity() as an attempt starts; the returned function as it ends. */
export function activityStarted(activityType: string, t0 = performance.now()): (result: ActivityResult) => void {
  const labels = { activity_type: activityType };
  inFlight.inc(labels);
  const owner = ownerKey();
  return (result) => {
    inFlight.inc(labels, -1);
    results.inc({ activity_type: activityType, result });
    activitySeconds.observe(labels, (performance.now() - t0) / 1000);
    // Gauges this attempt set and did not end (it threw, or the caller forgot jobEnded).
    for (const [workflowId, by] of owners) if (owner && by === owner) jobEnded({ workflowId });
  };
}

/** Where the Temporal SDK's own Prometheus exporter listens (loopback), once the runtime is installed. */
let sdkUrl: string | undefined;
export const setSdkMetricsUrl = (url: string | undefined): void => {
  sdkUrl = url;
};
export const sdkMetricsUrl = (): string | undefined => sdkUrl;
