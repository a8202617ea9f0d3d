/**
 * The embedded models as bundles (models/default/, models/default-dct-v1/): the generic loader
 * (../bundle.ts) checks the manifest and params.json's sha256 and computes the model hash; this
 * file names them and turns verified params into a DctModel.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DctModel, type DctModelOptions } from './model.js';
import { DctModelParams } from './params.js';
import type { TileSpecInput } from '../../codec/tiling/index.js';

/**
 * models/ of the package: two levels above this module in the sources, three in the compiled
 * dist/ (what the worker image runs), so the nearest one up the tree holding the default is used.
 */
const EMBEDDED_ROOT = ((): string => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'models');
    if (existsSync(join(candidate, 'default', 'manifest.json'))) return candidate;
    const up = dirname(dir);
    if (up === dir) return fileURLToPath(new URL('../../../models', import.meta.url));
    dir = up;
  }
})();

/**
 * The embedded models by id, shipped with the package (no download): the default, and the
 * models it replaced, kept so that their .dfc files still decode (docs/models.md §4).
 */
export const EMBEDDED_MODELS: Readonly<Record<string, string>> = {
  'diffc-default-lw-v2': `${join(EMBEDDED_ROOT, 'default')}/`,
  'diffc-default-dct-v1': `${join(EMBEDDED_ROOT, 'default-dct-v1')}/`,
};

/** The id 'default' (and no --model) means. */
export const DEFAULT_MODEL_ID = 'diffc-default-lw-v2';
export const DEFAULT_MODEL_DIR = EMBEDDED_MODELS[DEFAULT_MODEL_ID];

/** Sorted-key JSON: the canonical form model hashes are computed over. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

export class DctBundleError extends Error {
  override readonly name = 'DctBundleError';
}

/** A DctModel from a bundle whose files the generic loader has already checked. */
export async function dctModelFromBundle(dir: string, id: string, hash: Uint8Array, paramsPath: string, defaults: DctModelOptions['defaults'], tiling: TileSpecInput): Promise<DctModel> {
  const raw = await readFile(join(dir, paramsPath), 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (e) {
    throw new DctBundleError(`${paramsPath}: not JSON (${(e as Error).message})`);
  }
  const params = DctModelParams.safeParse(json);
  if (!params.success) throw new DctBundleError(`invalid ${paramsPath}: ${params.error.issues[0].path.join('.')}: ${params.error.issues[0].message}`);
  return new DctModel({ id, hash, params: params.data, defaults, tiling });
}
