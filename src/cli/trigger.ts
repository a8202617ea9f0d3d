/**
 * `diffc trigger serve`: the HTTP receiver for bucket event notifications (MinIO webhook, S3 via
 * SNS or EventBridge) that starts one compressImage per new object version.
 * `diffc trigger sweep`: a Temporal Schedule that runs bulkArchive over the prefix to catch
 * events that were lost.
 */
import { parseArgs } from 'node:util';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { connectClient } from '../orchestration/client.js';
import { createTriggerService, upsertSweepSchedule } from '../orchestration/trigger-service.js';
import { splitPrefixUrl } from '../orchestration/locations.js';
import { log } from '../orchestration/runtime.js';
import { parseTriggerConfig, triggerConfigFromEnv } from '../trigger/index.js';
import { parseOrUsage, type Print } from './args.js';
import { commandFlags, SERVICE_HELP, SERVICE_OPTIONS, serviceConfig } from './service-flags.js';
import { UsageError } from './errors.js';

export const TRIGGER_HELP = `diffc trigger serve [options]
diffc trigger sweep --prefix s3://bucket/in/ --output-prefix dfc/ --every "1 hour" [options]

serve: listens for S3 event notifications on POST /events (GET /healthz for probes) and starts
compressImage for each created object under the prefix with an image suffix, writing
s3://<bucket>/<output-prefix><key>.dfc. Requests must carry 'Authorization: Bearer <secret>'
(MinIO's auth_token), Basic auth with the secret as password (SNS), or 'X-Diffc-Signature:
sha256=<HMAC-SHA256 of the body>'. The workflow id comes from bucket, key and version (or ETag),
so a redelivered event starts nothing new. Runs until SIGTERM.

  --port P            (default $DIFFC_TRIGGER_PORT or 8080)
  --host H            (default $DIFFC_TRIGGER_HOST or 0.0.0.0)
  --prefix K          only keys under K ($DIFFC_TRIGGER_PREFIX)
  --output-prefix K   where outputs go; never triggers (default $DIFFC_OUTPUT_PREFIX or dfc/)
  secrets only from the environment: DIFFC_TRIGGER_SECRET and/or DIFFC_TRIGGER_HMAC_SECRET (16+ chars)

sweep: creates or updates a Temporal Schedule running bulkArchive over --prefix every --every
(e.g. "15 minutes"); objects that already have a matching .dfc are skipped.

  --prefix URL/       s3://bucket/prefix/ to sweep
  --output-prefix K   key prefix for outputs in the same bucket (default dfc/)
  --every D           interval, e.g. "30 minutes", "1 hour" (default "1 hour")
  --concurrency N     compressions in flight per sweep (default 8)

Both: --bpp X | --steps N, --seed S (default 0), --model M (default $DIFFC_MODEL_ID or 'default').
${SERVICE_HELP}
`;

const Rate = {
  bpp: z.coerce.number().positive().optional(),
  steps: z.coerce.number().int().positive().optional(),
  seed: z.coerce.number().int().nonnegative().default(0),
  model: z.string().min(1).default(process.env.DIFFC_MODEL_ID || 'default'),
};
const ServeArgs = z.object({ port: z.coerce.number().int().min(0).max(65535).optional(), host: z.string().optional(), prefix: z.string().optional(), 'output-prefix': z.string().optional(), ...Rate }).strict();
const SweepArgs = z.object({
  prefix: z.string({ required_error: '--prefix is required' }).regex(/^s3:\/\//, 'sweep needs an s3:// prefix'),
  'output-prefix': z.string().default('dfc/'),
  every: z.string().regex(/^\d+\s*(seconds?|minutes?|hours?|days?|s|m|h|d)$/, 'an interval like "15 minutes" or "1h"').default('1 hour'),
  concurrency: z.coerce.number().int().min(1).optional(),
  ...Rate,
}).strict();

export async function triggerCommand(argv: string[], out: Print): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    out(TRIGGER_HELP);
    return 0;
  }
  const { values } = parseArgs({
    args: rest, strict: true,
    options: {
      port: { type: 'string' }, host: { type: 'string' }, prefix: { type: 'string' }, 'output-prefix': { type: 'string' }, every: { type: 'string' },
      concurrency: { type: 'string' }, bpp: { type: 'string' }, steps: { type: 'string' }, seed: { type: 'string' }, model: { type: 'string' },
      ...SERVICE_OPTIONS, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    out(TRIGGER_HELP);
    return 0;
  }
  const flags = commandFlags(values);
  const temporal = serviceConfig(values);
  if (sub === 'serve') {
    const a = parseOrUsage(ServeArgs, flags);
    const env = triggerConfigFromEnv();
    const cfg = parseTriggerConfig({ ...env, port: a.port ?? env.port, host: a.host ?? env.host, prefix: a.prefix ?? env.prefix, outputPrefix: a['output-prefix'] ?? env.outputPrefix });
    const client = await connectClient(temporal);
    const server = createTriggerService(client, cfg, temporal, { bpp: a.bpp, steps: a.steps, seed: a.seed, model: a.model });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(cfg.port, cfg.host, resolve));
    log('info', 'trigger-listening', { port: (server.address() as AddressInfo).port, prefix: cfg.prefix ?? '', outputPrefix: cfg.outputPrefix });
    await new Promise<void>((resolve) => {
      const stop = () => server.close(() => resolve());
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
    await client.connection.close();
    return 0;
  }
  if (sub === 'sweep') {
    const a = parseOrUsage(SweepArgs, flags);
    const loc = splitPrefixUrl(a.prefix);
    const every = a.every.replace(/^(\d+)\s*(s|m|h|d)$/, (_, n: string, u: string) => `${n} ${{ s: 'seconds', m: 'minutes', h: 'hours', d: 'days' }[u]}`);
    const client = await connectClient(temporal);
    try {
      const h = await upsertSweepSchedule(client, temporal, {
        store: loc.store, prefix: loc.key, outputPrefix: a['output-prefix'], every, concurrency: a.concurrency,
        defaults: { bpp: a.bpp, steps: a.steps, seed: a.seed, model: a.model },
      });
      out(h.scheduleId);
      return 0;
    } finally {
      await client.connection.close();
    }
  }
  throw new UsageError(`unknown trigger command '${sub}' (serve or sweep)\n\n${TRIGGER_HELP}`);
}
