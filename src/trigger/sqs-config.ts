/**
 * Configuration of `diffc trigger sqs`: a zod schema and its reading from the environment. The
 * event settings (buckets, prefix, suffixes, output prefix) are the HTTP receiver's, read from
 * the same DIFFC_TRIGGER_* variables, so both sources name outputs alike; it needs no secret (SQS
 * access is AWS credentials, the SDK's default chain).
 */
import { z } from 'zod';
import { BucketName, parseConfig, PREFIX_INSIDE_OUTPUT, prefixOutsideOutput, splitList } from './config.js';
import { TriggerError } from './errors.js';

const BUCKETS_NEEDED = 'set the buckets this consumer serves (DIFFC_TRIGGER_BUCKETS=a,b or --buckets a,b): ' +
  'a message for any other bucket is poison and goes to the dead-letter queue';

const QueueUrl = z.string().url('not a URL').regex(/^https?:\/\//, 'an http(s) queue URL');

export const SqsConfig = z.object({
  queueUrl: QueueUrl,
  /** Where poison messages go at once, with their reason; absent, the queue's RedrivePolicy moves them after maxReceiveCount receives. */
  dlqUrl: QueueUrl.optional(),
  /** An SQS-compatible server (ElasticMQ, LocalStack); absent, AWS's endpoint for the region. */
  endpoint: z.string().url('not a URL').optional(),
  region: z.string().min(1).optional(),
  // As TriggerConfig: the same rules, so the two sources accept and name the same objects.
  buckets: z.array(BucketName, { required_error: BUCKETS_NEEDED }).min(1, BUCKETS_NEEDED),
  prefix: z.string().min(1).regex(/\/$/, "prefix must end with '/' (a folder, as sweep and bulk jobs take it), or outputs would be named differently").optional(),
  suffixes: z.array(z.string().min(1)).default(['.png', '.jpg', '.jpeg', '.webp', '.tif', '.tiff']),
  outputPrefix: z.string().default('dfc/'),
  /** Long polling: SQS allows 0..20 s. */
  waitSeconds: z.number().int().min(0).max(20).default(20),
  /** Messages per receive: SQS allows 1..10. */
  batchSize: z.number().int().min(1).max(10).default(10),
  /** Messages whose starts are in flight at once. */
  concurrency: z.number().int().min(1).max(1000).default(16),
  /** Visibility timeout set on receipt and renewed every third of it while a message is worked on. */
  visibilitySeconds: z.number().int().min(3).max(43_200).default(60),
  /** After SIGTERM, how long in-flight messages may take before they are handed back (visibility 0). */
  drainSeconds: z.number().min(0).max(3600).default(20),
  /** One signal-with-start may take this long before it counts as a transient failure. */
  startTimeoutSeconds: z.number().positive().max(3600).default(30),
}).strict()
  .refine((c) => c.dlqUrl === undefined || c.dlqUrl !== c.queueUrl, { message: 'the dead-letter queue must not be the queue itself', path: ['dlqUrl'] })
  .refine(prefixOutsideOutput, PREFIX_INSIDE_OUTPUT);

export type SqsConfig = z.infer<typeof SqsConfig>;
export type SqsConfigInput = z.input<typeof SqsConfig>;

/** Validates `input`; throws TriggerError 'config' naming each bad field. */
export function parseSqsConfig(input: unknown): SqsConfig {
  return parseConfig(SqsConfig, input, 'SQS trigger');
}

/**
 * Reads DIFFC_SQS_QUEUE_URL, DIFFC_SQS_DLQ_URL, AWS_ENDPOINT_URL_SQS (else AWS_ENDPOINT_URL),
 * AWS_REGION (else AWS_DEFAULT_REGION), DIFFC_SQS_WAIT_SECONDS, DIFFC_SQS_BATCH_SIZE,
 * DIFFC_SQS_CONCURRENCY, DIFFC_SQS_VISIBILITY_SECONDS, DIFFC_SQS_DRAIN_SECONDS and the receiver's
 * DIFFC_TRIGGER_BUCKETS, DIFFC_TRIGGER_PREFIX, DIFFC_TRIGGER_SUFFIX, DIFFC_OUTPUT_PREFIX; unset or
 * empty variables take the defaults, `overrides` (flags) win. Throws TriggerError 'config'.
 */
export function sqsConfigFromEnv(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Record<keyof SqsConfigInput, unknown>> = {}): SqsConfig {
  const get = (name: string): string | undefined => (env[name] === undefined || env[name] === '' ? undefined : env[name]);
  // Only plain decimals are numbers (Number('0x1F') and Number(' ') are too); anything else stays a
  // string for zod to name.
  const num = (name: string): number | string | undefined => {
    const v = get(name);
    return v === undefined ? undefined : /^\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : v;
  };
  const input = {
    queueUrl: get('DIFFC_SQS_QUEUE_URL'),
    dlqUrl: get('DIFFC_SQS_DLQ_URL'),
    endpoint: get('AWS_ENDPOINT_URL_SQS') ?? get('AWS_ENDPOINT_URL'),
    region: get('AWS_REGION') ?? get('AWS_DEFAULT_REGION'),
    buckets: splitList(get('DIFFC_TRIGGER_BUCKETS')),
    prefix: get('DIFFC_TRIGGER_PREFIX'),
    suffixes: splitList(get('DIFFC_TRIGGER_SUFFIX')),
    outputPrefix: env.DIFFC_OUTPUT_PREFIX, // '' is meaningful: no output prefix
    waitSeconds: num('DIFFC_SQS_WAIT_SECONDS'),
    batchSize: num('DIFFC_SQS_BATCH_SIZE'),
    concurrency: num('DIFFC_SQS_CONCURRENCY'),
    visibilitySeconds: num('DIFFC_SQS_VISIBILITY_SECONDS'),
    drainSeconds: num('DIFFC_SQS_DRAIN_SECONDS'),
    ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)),
  };
  if (input.queueUrl === undefined) throw new TriggerError('config', 'set the queue to consume: --queue-url URL or DIFFC_SQS_QUEUE_URL');
  return parseSqsConfig(Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)));
}

/**
 * The region to sign for: the configured one, else the one an AWS queue URL names
 * (https://sqs.<region>.amazonaws.com/..., or the legacy <region>.queue.amazonaws.com), else
 * us-east-1 for an SQS-compatible endpoint (which ignores it); undefined leaves it to the SDK.
 */
export function regionFor(cfg: Pick<SqsConfig, 'region' | 'queueUrl' | 'endpoint'>): string | undefined {
  if (cfg.region) return cfg.region;
  const host = new URL(cfg.queueUrl).hostname;
  const m = /^sqs[.-]([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(host) ?? /^([a-z0-9-]+)\.queue\.amazonaws\.com(\.cn)?$/.exec(host);
  if (m) return m[1];
  return cfg.endpoint ? 'us-east-1' : undefined;
}
