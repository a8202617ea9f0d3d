/**
 * Store configuration, validated with zod. Everything has a default, so `openStore(url)` works;
 * s3ConfigFromEnv() reads the variables that infra/dev-up.sh writes to .cache/dev-services.env.
 */
import { z } from 'zod';
import { StorageError } from './errors.js';

export const MiB = 1024 * 1024;
/** S3's smallest part (all but the last) and largest part. */
export const MIN_PART_SIZE = 5 * MiB;
export const MAX_PART_SIZE = 5 * 1024 * MiB;
export const MAX_PARTS = 10_000;

export const RetryConfig = z.object({
  /** Tries in all, the first included. */
  maxAttempts: z.number().int().min(1).max(20).default(5),
  /** No new try starts once this much time has passed since the first. */
  maxElapsedMs: z.number().int().min(0).max(600_000).default(30_000),
  /** Backoff before try n+1 is about baseDelayMs * 2^(n-1), capped at maxDelayMs, with jitter. */
  baseDelayMs: z.number().int().min(1).max(60_000).default(200),
  maxDelayMs: z.number().int().min(1).max(120_000).default(5_000),
}).strict();
export type RetryConfig = z.infer<typeof RetryConfig>;

export const S3Credentials = z.object({
  accessKeyId: z.string().min(1),
  secretAccessKey: z.string().min(1),
  sessionToken: z.string().min(1).optional(),
}).strict();
export type S3Credentials = z.infer<typeof S3Credentials>;

export const S3Config = z.object({
  /** e.g. http://127.0.0.1:9000 for MinIO; absent for AWS itself. */
  endpoint: z.string().url().refine((u) => /^https?:$/.test(new URL(u).protocol), 'endpoint must be an http(s) URL').optional(),
  region: z.string().min(1).default('us-east-1'),
  /** bucket in the path rather than the host name; defaults to true when an endpoint is given. */
  forcePathStyle: z.boolean().optional(),
  /** Absent: the AWS SDK's default chain (AWS_* variables, ~/.aws, instance roles). */
  credentials: S3Credentials.optional(),
  /** Checksum sent with every upload and verified by the service. CRC32C is also kept as a
   *  full-object checksum for multipart uploads; SHA-256 becomes composite there. */
  checksumAlgorithm: z.enum(['CRC32C', 'SHA256']).default('CRC32C'),
  /** Objects larger than this go up as multipart uploads. */
  multipartThreshold: z.number().int().min(1).default(16 * MiB),
  /** Size of every part but the last (raised when an object would need more than 10,000 parts). */
  partSize: z.number().int().min(MIN_PART_SIZE).max(MAX_PART_SIZE).default(8 * MiB),
  /** Parts in flight at once. */
  partConcurrency: z.number().int().min(1).max(16).default(4),
  connectTimeoutMs: z.number().int().min(1).default(5_000),
  requestTimeoutMs: z.number().int().min(1).default(120_000),
  retry: RetryConfig.default({}),
}).strict();
export type S3Config = z.infer<typeof S3Config>;

export const LocalConfig = z.object({
  /** fsync each file and its directory before a put returns (off only for scratch data). */
  fsync: z.boolean().default(true),
}).strict();
export type LocalConfig = z.infer<typeof LocalConfig>;

export const StoreConfig = z.object({
  s3: S3Config.default({}),
  local: LocalConfig.default({}),
}).strict();
export type StoreConfig = z.infer<typeof StoreConfig>;
export type StoreConfigInput = z.input<typeof StoreConfig>;

export function parseStoreConfig(input: unknown): StoreConfig {
  const r = StoreConfig.safeParse(input ?? {});
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`).join('; ');
    throw new StorageError('invalid', `bad storage config: ${issues}`);
  }
  return r.data;
}

/**
 * S3 settings from the environment: S3_ENDPOINT, S3_REGION (else AWS_REGION), S3_FORCE_PATH_STYLE
 * (1/true/0/false), S3_ACCESS_KEY_ID + S3_SECRET_ACCESS_KEY (+ S3_SESSION_TOKEN). Unset values are
 * left out so the defaults (and the SDK's own credential chain) apply.
 */
export function s3ConfigFromEnv(env: NodeJS.ProcessEnv = process.env): z.input<typeof S3Config> {
  const out: z.input<typeof S3Config> = {};
  if (env.S3_ENDPOINT) out.endpoint = env.S3_ENDPOINT;
  const region = env.S3_REGION || env.AWS_REGION;
  if (region) out.region = region;
  const ps = env.S3_FORCE_PATH_STYLE?.trim().toLowerCase();
  if (ps) {
    if (!['1', 'true', '0', 'false'].includes(ps)) throw new StorageError('invalid', `S3_FORCE_PATH_STYLE must be 1, true, 0 or false, not ${JSON.stringify(ps)}`);
    out.forcePathStyle = ps === '1' || ps === 'true';
  }
  const id = env.S3_ACCESS_KEY_ID;
  const secret = env.S3_SECRET_ACCESS_KEY;
  if (Boolean(id) !== Boolean(secret)) throw new StorageError('invalid', 'set both S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY, or neither');
  if (id && secret) out.credentials = { accessKeyId: id, secretAccessKey: secret, ...(env.S3_SESSION_TOKEN ? { sessionToken: env.S3_SESSION_TOKEN } : {}) };
  return out;
}
