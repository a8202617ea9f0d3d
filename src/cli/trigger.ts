/**
 * `diffc trigger serve`: the HTTP receiver for bucket event notifications (MinIO webhook, S3 via
 * SNS or EventBridge) that hands each created object to its output's compressImage workflow.
 * `diffc trigger sqs`: the same hand-over for events delivered to an SQS queue.
 * `diffc trigger sweep`: a Temporal Schedule that runs bulkArchive over the prefix to catch
 * events that were lost. Neither touches S3 (the workers do), so neither takes S3 settings.
 */
import { parseArgs } from 'node:util';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { connectClient } from '../orchestration/client.js';
import { createTriggerService, upsertSweepSchedule } from '../orchestration/trigger-service.js';
import { splitPrefixUrl } from '../orchestration/locations.js';
import { log } from '../orchestration/runtime.js';
import { splitList, triggerConfigFromEnv } from '../trigger/index.js';
import { sqsConfigFromEnv } from '../trigger/sqs-config.js';
import { createSqsTrigger, sqsClientFor } from '../trigger/sqs-service.js';
import { parseOrUsage, type Print } from './args.js';
import { commandFlags, SERVICE_OPTIONS, serviceConfig } from './service-flags.js';
import { UsageError } from './errors.js';
import { GUIDANCE_RANGE } from '../pipeline/conditioning.js';
import { QualityTargetSpec, type QualityTarget } from '../pipeline/quality-target.js';

export const TRIGGER_HELP = `diffc trigger serve --buckets B[,B...] [--prefix K/] [options]
diffc trigger sqs --queue-url URL --buckets B[,B...] [--dlq-url URL] [--prefix K/] [options]
diffc trigger sweep --prefix s3://bucket/K/ [--output-prefix P] [--every "1 hour"] [options]

serve: listens for S3 event notifications on POST /events (GET /healthz for probes). Each object
created in one of --buckets, under --prefix, with an image suffix, is compressed to
s3://<bucket>/<output-prefix><key without the prefix>.dfc, the key a sweep (or submit --prefix)
over the same prefix gives it: with --prefix incoming/, incoming/a/cat.png -> dfc/a/cat.png.dfc.
Requests must carry 'Authorization: Bearer <secret>' (MinIO's auth_token), Basic auth with the
secret as password (SNS), or 'X-Diffc-Signature: sha256=<HMAC-SHA256 of the body>'. Events for
any other bucket are refused (403) and start nothing.
Each event goes to the one workflow of its output by signal-with-start, with the object version
(ETag, versionId, sequencer) it names; Temporal does not say whether that started a run, so the
answer lists each as 'signalled' with the run's id. A redelivery while the run is going changes
nothing; a newer upload supersedes the run; a redelivery after a failed run starts a new one, and
after a finished one a new run that finds the .dfc of that version and stops. It reads no objects
itself (the workers do) and needs no S3 credentials. Runs until SIGTERM.

  --buckets B,B       required: the only buckets whose events are accepted ($DIFFC_TRIGGER_BUCKETS)
  --port P            (default $DIFFC_TRIGGER_PORT or 8080)
  --host H            (default $DIFFC_TRIGGER_HOST or 0.0.0.0)
  --prefix K/         only keys under K/, cut from the output names ($DIFFC_TRIGGER_PREFIX)
  --output-prefix P   where outputs go; never triggers (default $DIFFC_OUTPUT_PREFIX or dfc/)
  secrets only from the environment: DIFFC_TRIGGER_SECRET and/or DIFFC_TRIGGER_HMAC_SECRET (16+ chars)

sqs: long-polls an SQS queue that S3 notifies (directly, through SNS, or through EventBridge) and
hands each created object over exactly as serve does (same buckets, prefix, suffixes, output keys,
workflow ids). A message is deleted only once every event in it was handed over; when a start
fails the message is left and comes back after its visibility timeout (the queue's RedrivePolicy
moves it to the dead-letter queue after maxReceiveCount receives). A poison message (not JSON, not
an S3 event, a bucket not in --buckets, no version) is sent to --dlq-url at once with attributes
diffc-poison-code and diffc-poison-reason, then deleted; without --dlq-url it is left for the
RedrivePolicy. The s3:TestEvent S3 sends on setup is deleted. While a message is worked on, its
visibility is renewed every third of --visibility-seconds. SIGTERM stops polling, waits up to
--drain-seconds for messages in flight, makes the rest visible again, and exits 0. AWS
credentials: the SDK's default chain (env, profile, IRSA); no S3 credentials.

  --queue-url URL         required: the queue ($DIFFC_SQS_QUEUE_URL)
  --dlq-url URL           where poison goes at once ($DIFFC_SQS_DLQ_URL; default: left for the RedrivePolicy)
  --endpoint URL          an SQS-compatible server ($AWS_ENDPOINT_URL_SQS; default AWS)
  --region R              (default $AWS_REGION, else the queue URL's, else us-east-1 with --endpoint)
  --buckets B,B           required: the only buckets whose events are accepted ($DIFFC_TRIGGER_BUCKETS)
  --prefix K/, --output-prefix P   as serve ($DIFFC_TRIGGER_PREFIX, $DIFFC_OUTPUT_PREFIX or dfc/)
  --wait-seconds N        long-poll wait, 0..20 (default $DIFFC_SQS_WAIT_SECONDS or 20)
  --batch-size N          messages per receive, 1..10 (default $DIFFC_SQS_BATCH_SIZE or 10)
  --concurrency N         messages in flight (default $DIFFC_SQS_CONCURRENCY or 16)
  --visibility-seconds N  visibility timeout while worked on (default $DIFFC_SQS_VISIBILITY_SECONDS or 60)
  --drain-seconds N       on SIGTERM, time for messages in flight (default $DIFFC_SQS_DRAIN_SECONDS or 20)

sweep: creates or updates a Temporal Schedule running bulkArchive over --prefix every --every
(e.g. "15 minutes"); an object whose .dfc records its current version with these settings is
skipped. Give it the receiver's prefix and output prefix, so both name outputs alike and nothing
is compressed twice. Prints the schedule id.

  --prefix URL/       s3://bucket/prefix/ to sweep
  --output-prefix P   key prefix for outputs in the same bucket (default $DIFFC_OUTPUT_PREFIX or dfc/)
  --every D           interval, e.g. "30 minutes", "1 hour" (default "1 hour")
  --concurrency N     compressions in flight per sweep (default 8)

serve, sqs and sweep: --bpp X | --steps N, --target-quality M=V (the shortest prefix reaching V on metric M;
--bpp/--steps cap it, default 1 bpp), --seed S (default 0), --model M (default $DIFFC_MODEL_ID or 'default'),
--prompt TEXT, --guidance G, --denoise-guidance G (as diffc compress; default the model's).

  --temporal-address H:P   Temporal frontend (default $TEMPORAL_ADDRESS or 127.0.0.1:7233)
  --namespace NS           Temporal namespace (default $TEMPORAL_NAMESPACE or default)
  --queue-io NAME          the io task queue (default $DIFFC_QUEUE_IO or io)
  --queue-gpu NAME         the gpu task queue (default $DIFFC_QUEUE_GPU or gpu)

Environment: TEMPORAL_TLS_CERT + TEMPORAL_TLS_KEY (+ TEMPORAL_TLS_CA, TEMPORAL_TLS_SERVER_NAME)
for mTLS.
`;

/** The service flags without --s3-endpoint: these commands never talk to S3. */
const { 's3-endpoint': _s3, ...TEMPORAL_OPTIONS } = SERVICE_OPTIONS;

const Rate = {
  bpp: z.coerce.number().positive().optional(),
  steps: z.coerce.number().int().positive().optional(),
  'target-quality': QualityTargetSpec.optional(),
  seed: z.coerce.number().int().nonnegative().default(0),
  model: z.string().min(1).default(process.env.DIFFC_MODEL_ID || 'default'),
  prompt: z.string().optional(),
  guidance: z.coerce.number().min(GUIDANCE_RANGE.min).max(GUIDANCE_RANGE.max).optional(),
  'denoise-guidance': z.coerce.number().min(GUIDANCE_RANGE.min).max(GUIDANCE_RANGE.max).optional(),
};
/** The compress settings the trigger's and the sweep's jobs get (CompressImageInput checks them again). */
const jobDefaults = (a: { bpp?: number; steps?: number; 'target-quality'?: QualityTarget; seed: number; model: string; prompt?: string; guidance?: number; 'denoise-guidance'?: number }) => ({
  bpp: a.bpp, steps: a.steps, ...(a['target-quality'] ? { targetQuality: a['target-quality'] } : {}), seed: a.seed, model: a.model, prompt: a.prompt, guidance: a.guidance, denoiseGuidance: a['denoise-guidance'],
});
const ServeArgs = z.object({
  port: z.coerce.number().int().min(0).max(65535).optional(), host: z.string().optional(), buckets: z.string().optional(),
  prefix: z.string().optional(), 'output-prefix': z.string().optional(), ...Rate,
}).strict();
const SqsArgs = z.object({
  'queue-url': z.string().optional(), 'dlq-url': z.string().optional(), endpoint: z.string().optional(), region: z.string().optional(),
  buckets: z.string().optional(), prefix: z.string().optional(), 'output-prefix': z.string().optional(),
  'wait-seconds': z.coerce.number().optional(), 'batch-size': z.coerce.number().optional(), concurrency: z.coerce.number().optional(),
  'visibility-seconds': z.coerce.number().optional(), 'drain-seconds': z.coerce.number().optional(), ...Rate,
}).strict();
const SweepArgs = z.object({
  prefix: z.string({ required_error: '--prefix is required' }).regex(/^s3:\/\//, 'sweep needs an s3:// prefix'),
  // Default: the receiver's ($DIFFC_OUTPUT_PREFIX or dfc/, read when the command runs), so a
  // sweep beside it names outputs alike ('' is a valid prefix).
  'output-prefix': z.string().optional(),
  every: z.string().regex(/^\d+\s*(seconds?|minutes?|hours?|days?|s|m|h|d)$/, 'an interval like "15 minutes" or "1h"').default('1 hour'),
  concurrency: z.coerce.number().int().min(1).optional(),
  ...Rate,
}).strict();

/** The environment without S3_*: the trigger never uses them, so they must not stop it starting. */
function withoutS3(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('S3_')));
}

export async function triggerCommand(argv: string[], out: Print): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    out(TRIGGER_HELP);
    return 0;
  }
  const { values } = parseArgs({
    args: rest, strict: true,
    options: {
      port: { type: 'string' }, host: { type: 'string' }, buckets: { type: 'string' }, prefix: { type: 'string' }, 'output-prefix': { type: 'string' },
      every: { type: 'string' }, concurrency: { type: 'string' }, bpp: { type: 'string' }, steps: { type: 'string' }, 'target-quality': { type: 'string' }, seed: { type: 'string' },
      model: { type: 'string' }, prompt: { type: 'string' }, guidance: { type: 'string' }, 'denoise-guidance': { type: 'string' }, ...TEMPORAL_OPTIONS, help: { type: 'boolean', short: 'h' },
      'queue-url': { type: 'string' }, 'dlq-url': { type: 'string' }, endpoint: { type: 'string' }, region: { type: 'string' },
      'wait-seconds': { type: 'string' }, 'batch-size': { type: 'string' }, 'visibility-seconds': { type: 'string' }, 'drain-seconds': { type: 'string' },
    },
  });
  if (values.help) {
    out(TRIGGER_HELP);
    return 0;
  }
  const flags = commandFlags(values);
  const temporal = serviceConfig(values, withoutS3(process.env));
  if (sub === 'serve') {
    const a = parseOrUsage(ServeArgs, flags);
    const cfg = triggerConfigFromEnv(process.env, {
      port: a.port, host: a.host, buckets: splitList(a.buckets), prefix: a.prefix, outputPrefix: a['output-prefix'],
    });
    const client = await connectClient(temporal);
    const server = createTriggerService(client, cfg, temporal, jobDefaults(a));
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(cfg.port, cfg.host, resolve));
    log('info', 'trigger-listening', { port: (server.address() as AddressInfo).port, buckets: cfg.buckets, prefix: cfg.prefix ?? '', outputPrefix: cfg.outputPrefix });
    await new Promise<void>((resolve) => {
      const stop = () => server.close(() => resolve());
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
    await client.connection.close();
    return 0;
  }
  if (sub === 'sqs') return sqsCommand(flags, temporal);
  if (sub === 'sweep') {
    const a = parseOrUsage(SweepArgs, flags);
    const loc = splitPrefixUrl(a.prefix);
    const every = a.every.replace(/^(\d+)\s*(s|m|h|d)$/, (_, n: string, u: string) => `${n} ${{ s: 'seconds', m: 'minutes', h: 'hours', d: 'days' }[u]}`);
    const client = await connectClient(temporal);
    try {
      const h = await upsertSweepSchedule(client, temporal, {
        store: loc.store, prefix: loc.key, outputPrefix: a['output-prefix'] ?? process.env.DIFFC_OUTPUT_PREFIX ?? 'dfc/', every, concurrency: a.concurrency,
        defaults: jobDefaults(a),
      });
      out(h.scheduleId);
      return 0;
    } finally {
      await client.connection.close();
    }
  }
  throw new UsageError(`unknown trigger command '${sub}' (serve, sqs or sweep)\n\n${TRIGGER_HELP}`);
}

/** `diffc trigger sqs`: consumes until SIGTERM/SIGINT, drains, exits 0. */
async function sqsCommand(flags: Record<string, unknown>, temporal: ReturnType<typeof serviceConfig>): Promise<number> {
  const a = parseOrUsage(SqsArgs, flags);
  const cfg = sqsConfigFromEnv(process.env, {
    queueUrl: a['queue-url'], dlqUrl: a['dlq-url'], endpoint: a.endpoint, region: a.region,
    buckets: splitList(a.buckets), prefix: a.prefix, outputPrefix: a['output-prefix'],
    waitSeconds: a['wait-seconds'], batchSize: a['batch-size'], concurrency: a.concurrency,
    visibilitySeconds: a['visibility-seconds'], drainSeconds: a['drain-seconds'],
  });
  // Handlers first, so a SIGTERM at any point (even while connecting) ends in a drain and exit 0.
  let consumer: ReturnType<typeof createSqsTrigger> | undefined;
  let stopRequested = false;
  const stop = () => {
    stopRequested = true;
    consumer?.stop();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const sqs = sqsClientFor(cfg);
  let client: Awaited<ReturnType<typeof connectClient>> | undefined;
  try {
    client = await connectClient(temporal);
    consumer = createSqsTrigger(client, cfg, temporal, jobDefaults(a), sqs);
    await consumer.checkQueues();
    if (stopRequested) consumer.stop();
    await consumer.run();
    return 0;
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
    sqs.destroy();
    await client?.connection.close();
  }
}
