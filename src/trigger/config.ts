/**
 * Configuration of the trigger receiver, for the CLI: a zod schema (defaults, and the rules that a
 * receiver always has a secret and a bucket allow-list) and its reading from the environment.
 */
import { z } from 'zod';
import { TriggerError } from './errors.js';
import { makeFilter, type EventFilter } from './filter.js';

/**
 * S3 names (3-63 lower-case characters) plus what legacy AWS buckets and other stores allow; no
 * '/', ',' or spaces, so a comma-separated list parses one way.
 */
export const BucketName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/, 'not a bucket name');

const BUCKETS_NEEDED = 'set the buckets this receiver serves (DIFFC_TRIGGER_BUCKETS=a,b or --buckets a,b): ' +
  'an event for any other bucket is refused, so a holder of the secret cannot make it write elsewhere';

/** Keys under the output prefix never trigger, so a watched prefix inside it would watch nothing. */
export const prefixOutsideOutput = (c: { prefix?: string; outputPrefix?: string }): boolean => !(c.prefix && c.outputPrefix && c.prefix.startsWith(c.outputPrefix));
export const PREFIX_INSIDE_OUTPUT = { message: 'prefix is inside outputPrefix, so every key would be filtered out as output', path: ['prefix'] };

export const TriggerConfig = z.object({
  port: z.number().int().min(0).max(65535).default(8080),
  host: z.string().min(1).default('0.0.0.0'),
  /** Bearer token (MinIO auth_token) or Basic password (SNS endpoint URL). */
  secret: z.string().min(16, 'secret must be at least 16 characters').optional(),
  /** Key for X-Diffc-Signature: sha256=<HMAC of the body>. */
  hmacSecret: z.string().min(16, 'hmacSecret must be at least 16 characters').optional(),
  /** The only buckets whose events are accepted. Required: there is no "any bucket". */
  buckets: z.array(BucketName, { required_error: BUCKETS_NEEDED }).min(1, BUCKETS_NEEDED),
  /**
   * Only objects under this prefix trigger, and it is cut from the output name (outputKeyFor), as
   * a sweep or bulk job over the same prefix cuts it: hence a folder, ending in '/'.
   */
  prefix: z.string().min(1).regex(/\/$/, "prefix must end with '/' (a folder, as sweep and bulk jobs take it), or outputs would be named differently").optional(),
  /** Case-insensitive; [] accepts any suffix. */
  suffixes: z.array(z.string().min(1)).default(['.png', '.jpg', '.jpeg', '.webp', '.tif', '.tiff']),
  /** Where outputs are written; never triggers ('' relies on the built-in .dfc / work-folder rules). */
  outputPrefix: z.string().default('dfc/'),
}).strict()
  .refine((c) => c.secret !== undefined || c.hmacSecret !== undefined, {
    message: 'set a secret (DIFFC_TRIGGER_SECRET) or an HMAC secret (DIFFC_TRIGGER_HMAC_SECRET): the receiver never runs open',
    path: ['secret'],
  })
  .refine(prefixOutsideOutput, PREFIX_INSIDE_OUTPUT);

export type TriggerConfig = z.infer<typeof TriggerConfig>;
export type TriggerConfigInput = z.input<typeof TriggerConfig>;

/** Validates `input`; throws TriggerError 'config' naming each bad field. */
export function parseTriggerConfig(input: unknown): TriggerConfig {
  return parseConfig(TriggerConfig, input, 'trigger');
}

/** Parses `input` with `schema`; throws TriggerError 'config' naming each bad field (the receiver's and the SQS consumer's). */
export function parseConfig<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, input: unknown, what: string): T {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`);
  throw new TriggerError('config', `invalid ${what} configuration: ${issues.join('; ')}`);
}

/** 'a, b,,c' -> ['a', 'b', 'c']; undefined when nothing is left. */
export function splitList(s: string | undefined): string[] | undefined {
  const items = s?.split(',').map((x) => x.trim()).filter((x) => x !== '');
  return items?.length ? items : undefined;
}

/**
 * Reads DIFFC_TRIGGER_SECRET, DIFFC_TRIGGER_HMAC_SECRET, DIFFC_TRIGGER_BUCKETS and
 * DIFFC_TRIGGER_SUFFIX (comma-separated), DIFFC_TRIGGER_PREFIX, DIFFC_OUTPUT_PREFIX,
 * DIFFC_TRIGGER_PORT and DIFFC_TRIGGER_HOST; unset or empty variables take the defaults.
 * `overrides` (flags) win. Throws TriggerError 'config'.
 */
export function triggerConfigFromEnv(env: NodeJS.ProcessEnv = process.env, overrides: Partial<TriggerConfigInput> = {}): TriggerConfig {
  const get = (name: string): string | undefined => (env[name] === undefined || env[name] === '' ? undefined : env[name]);
  const port = get('DIFFC_TRIGGER_PORT');
  const input = {
    // Number('0x1F') and Number(' ') are numbers too; only plain digits are a port.
    port: port === undefined ? undefined : /^\d+$/.test(port.trim()) ? Number(port) : port,
    host: get('DIFFC_TRIGGER_HOST'),
    secret: get('DIFFC_TRIGGER_SECRET'),
    hmacSecret: get('DIFFC_TRIGGER_HMAC_SECRET'),
    buckets: splitList(get('DIFFC_TRIGGER_BUCKETS')),
    prefix: get('DIFFC_TRIGGER_PREFIX'),
    suffixes: splitList(get('DIFFC_TRIGGER_SUFFIX')),
    outputPrefix: env.DIFFC_OUTPUT_PREFIX, // '' is meaningful here: no output prefix
    // An override left undefined (a flag not given) keeps the environment's value.
    ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)),
  };
  // Unset values leave no key behind, so the result has no `x: undefined` noise.
  return parseTriggerConfig(Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)));
}

/** The filter a configuration implies: its prefix and suffixes, and never its outputs. */
export function filterFromConfig(cfg: Pick<TriggerConfig, 'prefix' | 'suffixes' | 'outputPrefix'>): EventFilter {
  return makeFilter({ prefix: cfg.prefix, suffixes: cfg.suffixes, excludePrefixes: [cfg.outputPrefix] });
}
