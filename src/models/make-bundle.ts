/**
 * Writes manifest.json for an ONNX export directory in optimum's layout (`optimum-cli export
 * onnx`): text_encoder/, text_encoder_2/, unet/, transformer/, vae_encoder/, vae_decoder/,
 * tokenizer/, tokenizer_2/ and, for SDXL, an optional refiner_unet/ (the refiner export's unet/
 * moved there). Each folder's graph and external-data files get the folder's role, with sha256
 * and size; the tokenizer folders give the files diffc's tokenizers read: tokenizer/'s and SDXL's
 * tokenizer_2/'s vocab.json + merges.txt (CLIP), Flux's tokenizer_2/tokenizer.json (T5).
 * Prediction type and VAE scaling come from the export's scheduler/ and vae_*\/config.json when
 * present, else from the family's known values; everything can be overridden.
 */
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SD_SCHEDULE } from '../codec/schedule/ddpm.js';
import { FLUX_DEV_SHIFT } from '../codec/schedule/flow.js';
import { parseManifest, sha256File, type FileRole, type Manifest } from './bundle.js';
import { checkFamily } from './load.js';
import { ModelError } from './errors.js';

export type OnnxFamily = 'sd15' | 'sd21' | 'sdxl' | 'flux-dev';

export interface MakeBundleOptions {
  readonly family: OnnxFamily;
  readonly id: string;
  readonly prediction?: 'eps' | 'v' | 'flow';
  readonly defaults?: Partial<Manifest['defaults']>;
  /** Fraction of the noise range the SDXL base handles before the refiner (default 0.8). */
  readonly refinerFrom?: number;
  readonly source?: { repo: string; revision: string };
  readonly onFile?: (path: string) => void;
}

const FOLDERS: readonly [string, FileRole][] = [
  ['text_encoder', 'text_encoder'], ['text_encoder_2', 'text_encoder_2'], ['unet', 'unet'], ['transformer', 'transformer'],
  ['vae_encoder', 'vae_encoder'], ['vae_decoder', 'vae_decoder'], ['refiner_unet', 'refiner_unet'], ['tokenizer', 'tokenizer'],
  ['tokenizer_2', 'tokenizer_2'],
];

/** The files of a tokenizer folder diffc reads: CLIP's vocab.json + merges.txt, T5's tokenizer.json (Flux's tokenizer_2). */
function tokenizerFiles(role: FileRole, family: OnnxFamily): readonly string[] {
  return role === 'tokenizer_2' && family === 'flux-dev' ? ['tokenizer.json'] : ['vocab.json', 'merges.txt'];
}

/**
 * New bundles' coding defaults. Chunk bits by the RCC backend at encode time ('auto':
 * src/pipeline/chunk-bits.ts); the schedule the reference implementation chose by Algorithm 3
 * on KL measured on the real model ('paper'; Flux 'paper-flow'). A schedule measured on these
 * weights with this codec (`diffc schedule measure` + `optimize`) replaces it with
 * `make-bundle --schedule list:...` (or per file, `diffc compress --schedule`).
 */
const MEASURED_DEFAULTS: Manifest['defaults'] = { maxChunkBits: 'auto', schedule: 'paper', reconMethod: 'flow', reconSteps: 16 };

const GRAPH_FILE = /\.(onnx|onnx_data|onnx\.data|pb|data|bin)$/;

const FAMILY: Record<OnnxFamily, Pick<Manifest, 'prediction' | 'schedule' | 'latent' | 'defaults'> & { text: NonNullable<Manifest['text']> }> = {
  sd15: {
    prediction: 'eps', schedule: { kind: 'ddpm', config: SD_SCHEDULE }, latent: { channels: 4, downsample: 8, scale: 0.18215, shift: 0 },
    defaults: MEASURED_DEFAULTS, text: { maxLength: 77, hiddenSize: 768 },
  },
  sd21: {
    prediction: 'v', schedule: { kind: 'ddpm', config: SD_SCHEDULE }, latent: { channels: 4, downsample: 8, scale: 0.18215, shift: 0 },
    defaults: MEASURED_DEFAULTS, text: { maxLength: 77, hiddenSize: 1024 },
  },
  sdxl: {
    prediction: 'eps', schedule: { kind: 'ddpm', config: SD_SCHEDULE }, latent: { channels: 4, downsample: 8, scale: 0.13025, shift: 0 },
    defaults: MEASURED_DEFAULTS, text: { maxLength: 77, hiddenSize: 2048, pooled: 1280 },
  },
  'flux-dev': {
    prediction: 'flow', schedule: { kind: 'flow', shift: FLUX_DEV_SHIFT, steps: 1000 }, latent: { channels: 16, downsample: 8, scale: 0.3611, shift: 0.1159 },
    defaults: { ...MEASURED_DEFAULTS, schedule: 'paper-flow' }, text: { maxLength: 512, hiddenSize: 4096, pooled: 768 },
  },
};

async function readJson(path: string): Promise<Record<string, unknown> | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** Builds (and returns) the manifest for `dir`; writes it to dir/manifest.json unless `write` is false. */
export async function makeBundle(dir: string, opts: MakeBundleOptions, write = true): Promise<Manifest> {
  const fam = FAMILY[opts.family];
  if (!fam) throw new ModelError('family', `unknown family '${opts.family}' (sd15, sd21, sdxl, flux-dev)`);
  const files: Manifest['files'] = [];
  for (const [folder, role] of FOLDERS) {
    let names: string[];
    try {
      names = (await readdir(join(dir, folder))).sort();
    } catch {
      continue;
    }
    const wanted = role === 'tokenizer' || role === 'tokenizer_2' ? names.filter((n) => tokenizerFiles(role, opts.family).includes(n)) : names.filter((n) => GRAPH_FILE.test(n));
    // The graph first: roleFile() takes a role's first .onnx.
    wanted.sort((a, b) => Number(b.endsWith('.onnx')) - Number(a.endsWith('.onnx')) || a.localeCompare(b));
    for (const name of wanted) {
      const rel = `${folder}/${name}`;
      opts.onFile?.(rel);
      files.push({ role, path: rel, sha256: await sha256File(join(dir, rel)), bytes: (await stat(join(dir, rel))).size });
    }
  }
  if (files.length === 0) throw new ModelError('not-found', `${dir} has none of the folders of an optimum ONNX export (${FOLDERS.map((f) => f[0]).join(', ')})`);

  const scheduler = await readJson(join(dir, 'scheduler', 'scheduler_config.json'));
  const vae = (await readJson(join(dir, 'vae_decoder', 'config.json'))) ?? (await readJson(join(dir, 'vae_encoder', 'config.json')));
  const predictionFromExport = scheduler?.prediction_type === 'v_prediction' ? 'v' : scheduler?.prediction_type === 'epsilon' ? 'eps' : undefined;
  const latent = {
    ...fam.latent,
    ...(typeof vae?.scaling_factor === 'number' ? { scale: vae.scaling_factor } : {}),
    ...(typeof vae?.shift_factor === 'number' ? { shift: vae.shift_factor } : {}),
    ...(typeof vae?.latent_channels === 'number' ? { channels: vae.latent_channels } : {}),
  };
  const raw: Record<string, unknown> = {
    schema: 1,
    id: opts.id,
    family: opts.family,
    prediction: opts.prediction ?? (opts.family === 'flux-dev' ? 'flow' : predictionFromExport ?? fam.prediction),
    files,
    schedule: fam.schedule,
    latent,
    defaults: { ...fam.defaults, ...opts.defaults },
    text: fam.text,
    ...(files.some((f) => f.role === 'refiner_unet') ? { refiner: { fromFraction: opts.refinerFrom ?? 0.8 } } : {}),
    ...(opts.source ? { source: opts.source } : {}),
  };
  const manifest = parseManifest(raw, dir);
  checkFamily({ dir, manifest, raw, hash: new Uint8Array(8), hashHex: '' });
  if (write) await writeFile(join(dir, 'manifest.json'), JSON.stringify(raw, null, 2) + '\n');
  return manifest;
}
