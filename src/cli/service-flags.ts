/**
 * Flags shared by the cluster commands (worker, submit, trigger): where Temporal and S3 are. Each
 * overrides its environment variable; the result is validated (zod) before anything connects.
 */
import { temporalConfigFromEnv, type TemporalConfig } from '../orchestration/config.js';
import { s3ConfigFromEnv } from '../storage/index.js';

export const SERVICE_OPTIONS = {
  'temporal-address': { type: 'string' },
  namespace: { type: 'string' },
  'queue-io': { type: 'string' },
  'queue-gpu': { type: 'string' },
  's3-endpoint': { type: 'string' },
} as const;

export const SERVICE_HELP = `
  --temporal-address H:P   Temporal frontend (default $TEMPORAL_ADDRESS or 127.0.0.1:7233)
  --namespace NS           Temporal namespace (default $TEMPORAL_NAMESPACE or default)
  --queue-io NAME          the io task queue (default $DIFFC_QUEUE_IO or io)
  --queue-gpu NAME         the gpu task queue (default $DIFFC_QUEUE_GPU or gpu)
  --s3-endpoint URL        S3-compatible endpoint (default $S3_ENDPOINT; AWS when unset)

Environment: TEMPORAL_TLS_CERT + TEMPORAL_TLS_KEY (+ TEMPORAL_TLS_CA, TEMPORAL_TLS_SERVER_NAME)
for mTLS; S3_REGION, S3_FORCE_PATH_STYLE, S3_ACCESS_KEY_ID + S3_SECRET_ACCESS_KEY (else the AWS
SDK's default credential chain).`;

type Values = Partial<Record<keyof typeof SERVICE_OPTIONS, string | boolean | undefined>>;

/** The parsed flags without the service ones (and --help), for the command's own zod schema. */
export function commandFlags<V extends Record<string, unknown>>(values: V): Omit<V, keyof typeof SERVICE_OPTIONS | 'help'> {
  const out: Record<string, unknown> = { ...values };
  for (const k of [...Object.keys(SERVICE_OPTIONS), 'help']) delete out[k];
  return out as Omit<V, keyof typeof SERVICE_OPTIONS | 'help'>;
}

/** The Temporal config from env + flags; S3 settings checked now (activities read them per call). */
export function serviceConfig(values: Values, env: NodeJS.ProcessEnv = process.env): TemporalConfig {
  const str = (k: keyof typeof SERVICE_OPTIONS) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  if (str('s3-endpoint') !== undefined) env.S3_ENDPOINT = str('s3-endpoint');
  s3ConfigFromEnv(env);
  const base = temporalConfigFromEnv(env);
  return temporalConfigFromEnv(env, {
    ...(str('temporal-address') ? { address: str('temporal-address') } : {}),
    ...(str('namespace') ? { namespace: str('namespace') } : {}),
    queues: { io: str('queue-io') ?? base.queues.io, gpu: str('queue-gpu') ?? base.queues.gpu },
  });
}
