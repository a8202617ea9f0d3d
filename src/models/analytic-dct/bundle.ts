/**
 * Loading the embedded default model from its bundle directory (models/default/): the manifest
 * names params.json with its sha256, which is checked; the model hash is the first 8 bytes of
 * the sha256 of the manifest's canonical JSON (sorted keys), so any change to the parameters or
 * defaults changes the hash written into .dfc headers.
 */
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { z } from 'zod';
import { DctModel } from './model.js';
import { DctModelParams } from './params.js';

export const DEFAULT_MODEL_DIR = fileURLToPath(new URL('../../../models/default/', import.meta.url));

const DctManifest = z.object({
  schema: z.literal(1),
  id: z.string().min(1).max(255),
  family: z.literal('analytic-dct'),
  prediction: z.literal('x0'),
  files: z.array(z.object({ role: z.literal('params'), path: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/), bytes: z.number().int().nonnegative() })).length(1),
  defaults: z.object({
    maxChunkBits: z.number().int().min(1).max(24),
    schedule: z.string(),
    reconMethod: z.enum(['flow', 'ancestral', 'mse']),
    reconSteps: z.number().int().min(1),
  }),
  /** Named coding schedules this model defines (ids usable in .dfc headers). */
  schedules: z.record(z.array(z.number().int().nonnegative())).default({}),
}).passthrough();

export class DctBundleError extends Error {
  override readonly name = 'DctBundleError';
}

export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

export async function loadDctBundle(dir = DEFAULT_MODEL_DIR): Promise<{ model: DctModel; schedules: Record<string, number[]> }> {
  let manifestRaw: unknown;
  try {
    manifestRaw = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
  } catch (e) {
    throw new DctBundleError(`cannot read ${join(dir, 'manifest.json')}: ${(e as Error).message}`);
  }
  const m = DctManifest.safeParse(manifestRaw);
  if (!m.success) throw new DctBundleError(`invalid manifest in ${dir}: ${m.error.issues[0].path.join('.')}: ${m.error.issues[0].message}`);
  const file = m.data.files[0];
  const bytes = await readFile(join(dir, file.path));
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== file.sha256) throw new DctBundleError(`${file.path}: sha256 ${sha} does not match the manifest's ${file.sha256}`);
  const params = DctModelParams.safeParse(JSON.parse(bytes.toString('utf8')));
  if (!params.success) throw new DctBundleError(`invalid ${file.path}: ${params.error.issues[0].message}`);
  const { source: _source, ...hashed } = manifestRaw as Record<string, unknown>;
  const hash = createHash('sha256').update(canonicalJson(hashed)).digest().subarray(0, 8);
  const model = new DctModel({ id: m.data.id, hash: new Uint8Array(hash), params: params.data, defaults: m.data.defaults });
  return { model, schedules: m.data.schedules };
}
