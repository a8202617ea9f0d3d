/**
 * Configuration of the trigger receiver, for the CLI: a zod schema (defaults and the rule that a
 * receiver always has a secret) and its reading from the environment.
 */
import { z } from 'zod';
import { TriggerError } from './errors.js';
import { makeFilter, type EventFilter } from './filter.js';

export const TriggerConfig = z.object({
  port: z.number().int().min(0).max(65535).default(8080),
  host: z.string().min(1).default('0.0.0.0'),
  /** Bearer token (MinIO auth_token) or Basic password (SNS endpoint URL). */
  secret: z.string().min(16, 'secret must be at least 16 characters').optional(),
  /** Key for X-Diffc-Signature: sha256=<HMAC of the body>. */
  hmacSecret: z.string().min(16, 'hmacSecret must be at least 16 characters').optional(),
  /** Only objects under this prefix trigger. */
  prefix: z.string().optional(),
  /** Case-insensitive; [] accepts any suffix. */
  suffixes: z.array(z.string().min(1)).default(['.png', '.jpg', '.jpeg', '.webp', '.tif', '.tiff']),
  /** Where outputs are written; never triggers ('' relies on the built-in .dfc / .work/ rules). */
  outputPrefix: z.string().default('dfc/'),
}).strict()
  .refine((c) => c.secret !== undefined || c.hmacSecret !== undefined, {
    message: 'set a secret (DIFFC_TRIGGER_SECRET) or an HMAC secret (DIFFC_TRIGGER_HMAC_SECRET): the receiver never runs open',
    path: ['secret'],
  })
  .refine((c) => !(c.prefix && c.outputPrefix && c.prefix.startsWith(c.outputPrefix)), {
    message: 'prefix is inside outputPrefix, so every key would be filtered out as output',
    path: ['prefix'],
  });

export type TriggerConfig = z.infer<typeof TriggerConfig>;
export type TriggerConfigInput = z.input<typeof TriggerConfig>;

/** Validates `input`; throws TriggerError 'config' naming each bad field. */
export function parseTriggerConfig(input: unknown): TriggerConfig {
  const r = TriggerConfig.safeParse(input);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`);
  throw new TriggerError('config', `invalid trigger configuration: ${issues.join('; ')}`);
}

/**
 * Reads DIFFC_TRIGGER_SECRET, DIFFC_TRIGGER_HMAC_SECRET, DIFFC_TRIGGER_PREFIX, DIFFC_TRIGGER_SUFFIX
 * (comma-separated), DIFFC_OUTPUT_PREFIX, DIFFC_TRIGGER_PORT and DIFFC_TRIGGER_HOST; unset or empty
 * variables take the defaults. Throws TriggerError 'config'.
 */
export function triggerConfigFromEnv(env: NodeJS.ProcessEnv = process.env): TriggerConfig {
  const get = (name: string): string | undefined => (env[name] === undefined || env[name] === '' ? undefined : env[name]);
  const port = get('DIFFC_TRIGGER_PORT');
  const suffixes = get('DIFFC_TRIGGER_SUFFIX')?.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const input = {
    // Number('0x1F') and Number(' ') are numbers too; only plain digits are a port.
    port: port === undefined ? undefined : /^\d+$/.test(port.trim()) ? Number(port) : port,
    host: get('DIFFC_TRIGGER_HOST'),
    secret: get('DIFFC_TRIGGER_SECRET'),
    hmacSecret: get('DIFFC_TRIGGER_HMAC_SECRET'),
    prefix: get('DIFFC_TRIGGER_PREFIX'),
    suffixes: suffixes?.length ? suffixes : undefined,
    outputPrefix: env.DIFFC_OUTPUT_PREFIX, // '' is meaningful here: no output prefix
  };
  // Unset variables leave no key behind, so the result has no `x: undefined` noise.
  return parseTriggerConfig(Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)));
}

/** The filter a configuration implies: its prefix and suffixes, and never its outputs. */
export function filterFromConfig(cfg: Pick<TriggerConfig, 'prefix' | 'suffixes' | 'outputPrefix'>): EventFilter {
  return makeFilter({ prefix: cfg.prefix, suffixes: cfg.suffixes, excludePrefixes: [cfg.outputPrefix] });
}
