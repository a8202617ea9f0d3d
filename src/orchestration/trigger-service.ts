/**
 * Bucket triggers wired to Temporal. Each accepted object-created event is handed to
 * compressImage by signal-with-start under the one workflow id of its output
 * (compressWorkflowId), with the event's source version as both the job's version and the
 * signal: a redelivery while the run is going is a signal it ignores, a newer upload supersedes
 * it, and after a run ended (done, failed, terminated) the id may be reused, so a redelivered
 * event retries a failed run and costs a finished one a skip check. The output key is the one
 * bulk jobs and sweeps use (outputKeyFor), so a sweep over the watched prefix finds the trigger's
 * outputs and compresses nothing twice. A Temporal Schedule runs bulkArchive over the prefix to
 * catch events that never arrived.
 */
import type { Server } from 'node:http';
import { createHash } from 'node:crypto';
import { ScheduleOverlapPolicy, WorkflowIdReusePolicy, type Client, type ScheduleHandle } from '@temporalio/client';
import {
  createTriggerServer, filterFromConfig, sourceVersionOf, TriggerError, type HandedOver, type ObjectCreatedEvent, type TriggerConfig,
} from '../trigger/index.js';
import { BulkArchiveInput } from './bulk-types.js';
import { CompressImageInput, type SourceVersion } from './types.js';
import { compressWorkflowId, outputKeyFor } from './output-key.js';
import { bulkArchive, compressImage } from '../../workflows/index.js';
import { sourceVersionSignal } from '../../workflows/signals.js';
import type { TemporalConfig } from './config.js';
import { log } from './runtime.js';
import type { QualityTarget } from '../pipeline/quality-target.js';

export interface TriggerJobDefaults {
  readonly bpp?: number;
  readonly steps?: number;
  /** Keep the shortest prefix reaching this quality (--target-quality); bpp/steps cap it. */
  readonly targetQuality?: QualityTarget;
  readonly seed: number;
  readonly model: string;
  /** Encode settings (optional: absent, the model's defaults), as diffc compress --prompt / --guidance / --denoise-guidance. */
  readonly prompt?: string;
  readonly guidance?: number;
  readonly denoiseGuidance?: number;
}

const targetOf = (d: TriggerJobDefaults) => (d.targetQuality ? { targetQuality: d.targetQuality } : {});

const conditioningOf = (d: TriggerJobDefaults) => ({
  ...(d.prompt !== undefined ? { prompt: d.prompt } : {}),
  ...(d.guidance !== undefined ? { guidance: d.guidance } : {}),
  ...(d.denoiseGuidance !== undefined ? { denoiseGuidance: d.denoiseGuidance } : {}),
});

/**
 * The compressImage job for an event: the .dfc goes to outputKeyFor(key, prefix, outputPrefix) in
 * the same bucket, from the version the event names. skipExisting holds because the skip check
 * compares source versions: an output of this version is kept, one of an older version redone.
 * Throws TriggerError 'bad-event' for an event without a version, ZodError for bad defaults.
 */
export function jobForEvent(
  ev: ObjectCreatedEvent, cfg: Pick<TriggerConfig, 'prefix' | 'outputPrefix'>, defaults: TriggerJobDefaults, queues: TemporalConfig['queues'],
  version: SourceVersion = sourceVersionOf(ev),
): CompressImageInput {
  return CompressImageInput.parse({
    store: `s3://${ev.bucket}`, source: ev.key, output: outputKeyFor(ev.key, cfg.prefix ?? '', cfg.outputPrefix),
    bpp: defaults.bpp, steps: defaults.steps, ...targetOf(defaults), seed: defaults.seed, model: defaults.model, ...conditioningOf(defaults), queues,
    skipExisting: true, sourceVersion: version,
  });
}

/**
 * Signal-with-start of compressImage for `job` (which must name its sourceVersion): starts a run
 * under the output's workflow id unless one is running, and signals the version to that run.
 * Temporal does not say which of the two happened; `runId` is the run that got the signal.
 */
export async function startCompressForEvent(client: Client, job: CompressImageInput): Promise<HandedOver> {
  if (!job.sourceVersion) throw new Error('startCompressForEvent: the job names no sourceVersion');
  const workflowId = compressWorkflowId(job.outputStore ?? job.store, job.output);
  const h = await client.workflow.signalWithStart(compressImage, {
    workflowId, taskQueue: job.queues.io, args: [job],
    signal: sourceVersionSignal, signalArgs: [job.sourceVersion],
    // Not REJECT_DUPLICATE: a failed run must be restartable by the event's redelivery.
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
  });
  return { workflowId, runId: h.signaledRunId, output: job.output };
}

export function createTriggerService(client: Client, cfg: TriggerConfig, temporal: TemporalConfig, defaults: TriggerJobDefaults): Server {
  // Bad defaults (a rate out of range) fail here, at startup, not as a 503 on every event.
  try {
    jobForEvent({ bucket: cfg.buckets[0], key: `${cfg.prefix ?? ''}probe.png`, etag: 'probe', eventName: 'probe' }, cfg, defaults, temporal.queues);
  } catch (e) {
    throw new TriggerError('config', `the trigger's job settings are invalid: ${(e as Error).message}`, { cause: e });
  }
  return createTriggerServer({
    auth: { secret: cfg.secret, hmacSecret: cfg.hmacSecret },
    buckets: cfg.buckets,
    filter: filterFromConfig(cfg),
    log: (line) => log('info', 'trigger', line as Record<string, unknown>),
    start: (ev, version) => startCompressForEvent(client, jobForEvent(ev, cfg, defaults, temporal.queues, version)),
  });
}

export interface SweepOptions {
  /** Bucket store, e.g. s3://photos. */
  readonly store: string;
  /** The trigger's prefix, so both name outputs alike (outputKeyFor cuts it from the key). */
  readonly prefix: string;
  /** The trigger's output prefix, for the same reason. */
  readonly outputPrefix: string;
  readonly every: string;
  readonly defaults: TriggerJobDefaults;
  readonly concurrency?: number;
  readonly scheduleId?: string;
}

/**
 * Creates (or replaces) the Schedule that sweeps `prefix` every `every`: a bulkArchive whose
 * planner skips each object whose .dfc (same key as the trigger's) records the listed version
 * and settings. Overlapping sweeps are skipped.
 */
export async function upsertSweepSchedule(client: Client, temporal: TemporalConfig, o: SweepOptions): Promise<ScheduleHandle> {
  const id = o.scheduleId ?? `sweep-${createHash('sha256').update(`${o.store}\0${o.prefix}\0${o.outputPrefix}`).digest('hex').slice(0, 16)}`;
  const job = BulkArchiveInput.parse({
    store: o.store, prefix: o.prefix, outputPrefix: o.outputPrefix, jobId: id, queues: temporal.queues,
    bpp: o.defaults.bpp, steps: o.defaults.steps, ...targetOf(o.defaults), seed: o.defaults.seed, model: o.defaults.model, ...conditioningOf(o.defaults), concurrency: o.concurrency,
  });
  const action = { type: 'startWorkflow' as const, workflowType: bulkArchive, args: [job] as [BulkArchiveInput], taskQueue: temporal.queues.io, workflowId: id };
  const spec = { intervals: [{ every: o.every as `${number} ${'seconds' | 'minutes' | 'hours'}` }] };
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour' as const };
  const existing = client.schedule.getHandle(id);
  try {
    await existing.describe();
    await existing.update((prev) => ({ ...prev, spec, action, policies }));
    return existing;
  } catch (e) {
    if ((e as Error).name !== 'ScheduleNotFoundError') throw e;
  }
  return client.schedule.create({ scheduleId: id, spec, action, policies });
}
