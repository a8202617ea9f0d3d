/**
 * Bucket triggers wired to Temporal: each accepted object-created event starts compressImage
 * under a workflow id derived from bucket/key/version-or-etag with REJECT_DUPLICATE, so an event
 * delivered twice (or by both a webhook and a sweep) starts one workflow. A Temporal Schedule runs
 * bulkArchive over the watched prefix to catch events that never arrived.
 */
import type { Server } from 'node:http';
import { createHash } from 'node:crypto';
import {
  ScheduleOverlapPolicy, WorkflowExecutionAlreadyStartedError, type Client, type ScheduleHandle,
} from '@temporalio/client';
import { createTriggerServer, filterFromConfig, type ObjectCreatedEvent, type TriggerConfig } from '../trigger/index.js';
import { startCompressImage } from './client.js';
import { BulkArchiveInput } from './bulk-types.js';
import { bulkArchive } from '../../workflows/index.js';
import type { TemporalConfig } from './config.js';
import { log } from './runtime.js';

export interface TriggerJobDefaults {
  readonly bpp?: number;
  readonly steps?: number;
  readonly seed: number;
  readonly model: string;
}

/**
 * The compressImage job for an event: the .dfc goes to `<outputPrefix><key>.dfc` in the same
 * bucket. An event is a new object version by construction (duplicates share a workflow id), so
 * an existing .dfc is the old version's and is always redone.
 */
export function jobForEvent(ev: ObjectCreatedEvent, cfg: Pick<TriggerConfig, 'outputPrefix'>, defaults: TriggerJobDefaults, queues: TemporalConfig['queues']) {
  return {
    store: `s3://${ev.bucket}`, source: ev.key, output: `${cfg.outputPrefix}${ev.key}.dfc`,
    bpp: defaults.bpp, steps: defaults.steps, seed: defaults.seed, model: defaults.model, queues, skipExisting: false,
  };
}

export function createTriggerService(client: Client, cfg: TriggerConfig, temporal: TemporalConfig, defaults: TriggerJobDefaults): Server {
  return createTriggerServer({
    auth: { secret: cfg.secret, hmacSecret: cfg.hmacSecret },
    filter: filterFromConfig(cfg),
    log: (line) => log('info', 'trigger', line as Record<string, unknown>),
    start: async (ev, workflowId) => {
      try {
        await startCompressImage(client, jobForEvent(ev, cfg, defaults, temporal.queues), { workflowId, reuse: 'reject', queues: temporal.queues });
        return 'started';
      } catch (e) {
        if (e instanceof WorkflowExecutionAlreadyStartedError) return 'duplicate';
        throw e;
      }
    },
  });
}

export interface SweepOptions {
  /** Bucket store, e.g. s3://photos. */
  readonly store: string;
  readonly prefix: string;
  readonly outputPrefix: string;
  readonly every: string;
  readonly defaults: TriggerJobDefaults;
  readonly concurrency?: number;
  readonly scheduleId?: string;
}

/**
 * Creates (or replaces) the Schedule that sweeps `prefix` every `every`: a bulkArchive whose
 * planner skips what already has a matching .dfc. Overlapping sweeps are skipped.
 */
export async function upsertSweepSchedule(client: Client, temporal: TemporalConfig, o: SweepOptions): Promise<ScheduleHandle> {
  const id = o.scheduleId ?? `sweep-${createHash('sha256').update(`${o.store}\0${o.prefix}\0${o.outputPrefix}`).digest('hex').slice(0, 16)}`;
  const job = BulkArchiveInput.parse({
    store: o.store, prefix: o.prefix, outputPrefix: o.outputPrefix, jobId: id, queues: temporal.queues,
    bpp: o.defaults.bpp, steps: o.defaults.steps, seed: o.defaults.seed, model: o.defaults.model, concurrency: o.concurrency,
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
