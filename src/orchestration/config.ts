/**
 * Where workers and clients connect, validated with zod: the TEMPORAL_* names the Temporal CLI
 * reads (address, namespace, mTLS files) plus the names of diffc's two task queues.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { TaskQueues } from './types.js';

export const TemporalConfig = z.object({
  address: z.string().min(1).regex(/^[^\s/]+:\d+$/, 'address must be host:port').default('127.0.0.1:7233'),
  namespace: z.string().min(1).default('default'),
  /** mTLS: client certificate and key files, optionally a CA bundle and the server name to verify. */
  tls: z.object({
    cert: z.string().min(1),
    key: z.string().min(1),
    ca: z.string().min(1).optional(),
    serverName: z.string().min(1).optional(),
  }).strict().optional(),
  queues: TaskQueues.default({}),
}).strict();
export type TemporalConfig = z.infer<typeof TemporalConfig>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function parseTemporalConfig(input: unknown): TemporalConfig {
  const r = TemporalConfig.safeParse(input);
  if (!r.success) throw new ConfigError(`bad Temporal configuration: ${r.error.issues.map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`).join('; ')}`);
  return r.data;
}

/**
 * TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TLS_CERT + TEMPORAL_TLS_KEY (+ TEMPORAL_TLS_CA,
 * TEMPORAL_TLS_SERVER_NAME), DIFFC_QUEUE_IO, DIFFC_QUEUE_GPU; `overrides` (flags) win.
 */
export function temporalConfigFromEnv(env: NodeJS.ProcessEnv = process.env, overrides: Partial<z.input<typeof TemporalConfig>> = {}): TemporalConfig {
  const set = <T>(v: T | undefined | '') => (v === '' ? undefined : v);
  const cert = set(env.TEMPORAL_TLS_CERT), key = set(env.TEMPORAL_TLS_KEY);
  if (Boolean(cert) !== Boolean(key)) throw new ConfigError('set both TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY, or neither');
  return parseTemporalConfig({
    address: set(env.TEMPORAL_ADDRESS),
    namespace: set(env.TEMPORAL_NAMESPACE),
    tls: cert && key ? { cert, key, ca: set(env.TEMPORAL_TLS_CA), serverName: set(env.TEMPORAL_TLS_SERVER_NAME) } : undefined,
    queues: { io: set(env.DIFFC_QUEUE_IO), gpu: set(env.DIFFC_QUEUE_GPU) },
    ...overrides,
  });
}

/** The SDK's connection options (client and worker take the same shape). */
export function connectionOptions(cfg: TemporalConfig) {
  const read = (path: string, what: string) => {
    try {
      return readFileSync(path);
    } catch (e) {
      throw new ConfigError(`cannot read the Temporal TLS ${what} ${path}: ${(e as Error).message}`);
    }
  };
  return {
    address: cfg.address,
    tls: cfg.tls ? {
      clientCertPair: { crt: read(cfg.tls.cert, 'certificate'), key: read(cfg.tls.key, 'key') },
      serverRootCACertificate: cfg.tls.ca ? read(cfg.tls.ca, 'CA') : undefined,
      serverNameOverride: cfg.tls.serverName,
    } : undefined,
  };
}
