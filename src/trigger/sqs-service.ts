/**
 * `diffc trigger sqs` wired to Temporal: the SQS consumer whose jobs and starts are exactly the
 * HTTP receiver's (jobForEvent, startCompressForEvent in src/orchestration/trigger-service.ts),
 * so an object gets the same output, workflow id and version whichever source delivered it.
 * Kept out of src/trigger/index.ts: it imports the orchestration layer, which imports that index.
 */
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Client } from '@temporalio/client';
import type { TemporalConfig } from '../orchestration/config.js';
import { log } from '../orchestration/runtime.js';
import { jobForEvent, startCompressForEvent, type TriggerJobDefaults } from '../orchestration/trigger-service.js';
import type { CompressImageInput } from '../orchestration/types.js';
import { filterFromConfig } from './config.js';
import { TriggerError } from './errors.js';
import { SqsConsumer } from './sqs.js';
import { regionFor, type SqsConfig } from './sqs-config.js';

/** An SQS client for `cfg`: its endpoint and region; credentials from the AWS SDK's default chain. */
export function sqsClientFor(cfg: Pick<SqsConfig, 'endpoint' | 'region' | 'queueUrl'>): SQSClient {
  const region = regionFor(cfg);
  return new SQSClient({
    ...(cfg.endpoint ? { endpoint: cfg.endpoint } : {}),
    ...(region ? { region } : {}),
    // Our own retries (redelivery) are the real ones; the SDK's cover a dropped connection.
    maxAttempts: 3,
  });
}

export function createSqsTrigger(
  client: Client, cfg: SqsConfig, temporal: TemporalConfig, defaults: TriggerJobDefaults, sqs: SQSClient = sqsClientFor(cfg),
): SqsConsumer<CompressImageInput> {
  // Bad defaults (a rate out of range) fail here, at startup, not as poison on every message.
  try {
    jobForEvent({ bucket: cfg.buckets[0], key: `${cfg.prefix ?? ''}probe.png`, etag: 'probe', eventName: 'probe' }, cfg, defaults, temporal.queues);
  } catch (e) {
    throw new TriggerError('config', `the trigger's job settings are invalid: ${(e as Error).message}`, { cause: e });
  }
  return new SqsConsumer<CompressImageInput>({
    sqs, queueUrl: cfg.queueUrl, dlqUrl: cfg.dlqUrl, buckets: cfg.buckets, filter: filterFromConfig(cfg),
    prepare: (ev, version) => jobForEvent(ev, cfg, defaults, temporal.queues, version),
    // A deadline, so a Temporal that does not answer is a transient failure, not a message held
    // (and renewed) for ever.
    start: (job) => client.withDeadline(Date.now() + cfg.startTimeoutSeconds * 1000, () => startCompressForEvent(client, job)),
    waitSeconds: cfg.waitSeconds, batchSize: cfg.batchSize, concurrency: cfg.concurrency,
    visibilitySeconds: cfg.visibilitySeconds, drainSeconds: cfg.drainSeconds,
    log: (level, msg, fields) => log(level, msg, fields),
  });
}
