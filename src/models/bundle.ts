/**
 * Model bundles: a directory holding manifest.json and the files it names (ONNX graphs, tokenizer,
 * parameters), each with its sha256 and size. The model hash written into every .dfc header is
 * the first 8 bytes of the sha256 of the manifest's canonical JSON without `source` (sorted keys,
 * as for the embedded default model), so the weights' checksums, the schedule, the latent scaling
 * and the defaults all take part in it, and where a bundle was downloaded from does not.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, normalize, resolve } from 'node:path';
import { z } from 'zod';
import { DdpmScheduleConfig, alphaBars } from '../codec/schedule/ddpm.js';
import { shiftSigma, type FluxShiftConfig } from '../codec/schedule/flow.js';
import { alphaBarFromFlowSigma } from '../codec/schedule/noise-level.js';
import { canonicalJson, DEFAULT_MODEL_DIR, EMBEDDED_MODELS } from './analytic-dct/bundle.js';
import { ModelError } from './errors.js';
import { ModelTiling } from './tiling.js';

export const FILE_ROLES = [
  'text_encoder', 'text_encoder_2', 'tokenizer', 'tokenizer_2', 'unet', 'transformer', 'vae_encoder', 'vae_decoder', 'refiner_unet', 'params',
  'cond_encoder', 'cond_decoder', 'entropy',
  // StableCodec's latent codec (src/models/onnx/stablecodec.ts); context_in, context_out and lrp come once per group.
  'aux_encoder', 'analysis', 'hyper_analysis', 'hyper_synthesis', 'context_in', 'context', 'context_out', 'lrp', 'synthesis', 'aux_decoder',
] as const;
export type FileRole = (typeof FILE_ROLES)[number];

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'sha256 must be 64 lowercase hex digits');
/** A path inside the bundle: relative, no '..', forward slashes. */
const BundlePath = z.string().min(1).max(500).refine(
  (p) => !isAbsolute(p) && !p.includes('\\') && !normalize(p).startsWith('..') && !p.split('/').includes('..'),
  'file paths must stay inside the bundle directory',
);

export const BundleFile = z.object({
  role: z.enum(FILE_ROLES),
  path: BundlePath,
  sha256: Sha256,
  bytes: z.number().int().nonnegative(),
  /** Which of a role's per-group graphs this is (StableCodec's four context groups). */
  group: z.number().int().min(0).max(63).optional(),
}).passthrough();
export type BundleFile = z.infer<typeof BundleFile>;

export const FlowShift = z.object({
  baseShift: z.number(),
  maxShift: z.number(),
  baseSeqLen: z.number().positive(),
  maxSeqLen: z.number().positive(),
});

export const ScheduleSpec = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('ddpm'), config: DdpmScheduleConfig }),
  z.object({ kind: z.literal('flow'), shift: FlowShift, steps: z.number().int().min(2).max(100_000).default(1000) }),
]);
export type ScheduleSpec = z.infer<typeof ScheduleSpec>;

export const MODEL_FAMILIES = ['sd15', 'sd21', 'sdxl', 'flux-dev', 'analytic-dct', 'cod', 'stablecodec'] as const;

export const Manifest = z.object({
  schema: z.literal(1),
  id: z.string().min(1).max(255).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'ids are letters, digits, dot, dash, underscore'),
  family: z.enum(MODEL_FAMILIES),
  prediction: z.enum(['eps', 'v', 'x0', 'flow']),
  files: z.array(BundleFile).min(1),
  schedule: ScheduleSpec,
  latent: z.object({
    channels: z.number().int().positive(),
    downsample: z.number().int().positive(),
    /** Model latent = (VAE latent - shift) * scale. */
    scale: z.number().positive(),
    shift: z.number(),
  }),
  defaults: z.object({
    /** 'auto': chosen by the RCC backend at encode time (src/pipeline/chunk-bits.ts); the .dfc records the result. */
    maxChunkBits: z.union([z.number().int().min(1).max(24), z.literal('auto')]),
    schedule: z.string().min(1),
    reconMethod: z.enum(['flow', 'ancestral', 'mse']),
    reconSteps: z.number().int().min(1),
    /** Guidance defaults (src/models/guidance.ts); absent: the family's. Optional, so existing manifests keep their hash. */
    guidance: z.number().min(0).max(100).optional(),
    denoiseGuidance: z.number().min(0).max(100).optional(),
    promptDenoiseGuidance: z.number().min(0).max(100).optional(),
  }),
  text: z.object({
    maxLength: z.number().int().positive(),
    hiddenSize: z.number().int().positive(),
    pooled: z.number().int().positive().optional(),
  }).passthrough().optional(),
  refiner: z.object({ fromFraction: z.number().gt(0).lt(1) }).passthrough().optional(),
  schedules: z.record(z.array(z.number().int().nonnegative())).optional(),
  /**
   * A conditional model's condition (family cod): the condition encoder's downsampling (images are
   * padded to a multiple of it), its latent's channels, and the decoded features' channels (at the
   * diffusion latent's size).
   */
  condition: z.object({
    downsample: z.number().int().positive().max(256),
    channels: z.number().int().positive().max(4096),
    featureChannels: z.number().int().positive().max(4096),
  }).strict().optional(),
  /**
   * A one-step model's decoder (family stablecodec): the scheduler timestep its UNet runs at, the
   * clamp of the predicted x0 (the scheduler's clip_sample range; null: none), and the UNet's
   * latent tiles (tile side and overlap, latent cells, the original's tiling).
   */
  oneStep: z.object({
    timestep: z.number().int().nonnegative(),
    clipSample: z.number().positive().nullable(),
    tile: z.number().int().min(8).max(4096),
    overlap: z.number().int().nonnegative(),
  }).strict().refine((o) => o.overlap < o.tile, { message: 'overlap must be smaller than the tile' }).optional(),
  /** Latent tiles for large photos (src/models/tiling.ts); absent: the family's defaults. */
  tiling: ModelTiling.optional(),
  source: z.object({ repo: z.string().min(1), revision: z.string().min(1) }).passthrough().optional(),
}).passthrough();
export type Manifest = z.infer<typeof Manifest>;

export interface Bundle {
  readonly dir: string;
  readonly manifest: Manifest;
  /** manifest.json as read (what the hash covers). */
  readonly raw: Record<string, unknown>;
  readonly hash: Uint8Array;
  readonly hashHex: string;
}

export interface LoadBundleOptions {
  /**
   * true: sha256 every file (skipped for files unchanged since the last full check, see
   * VERIFIED_STAMP); false: only check that each file exists with the manifest's size.
   */
  readonly verify?: boolean;
  /** Hash every file even when the stamp says it was checked. */
  readonly force?: boolean;
  /**
   * After hashing, record the checked files in VERIFIED_STAMP so later loads skip unchanged
   * ones (used for the model cache, which diffc owns; off by default so that checking a
   * directory never writes into it).
   */
  readonly stamp?: boolean;
  /** Called per file while hashing (bytes done, bytes total). */
  readonly onProgress?: (file: BundleFile, done: number, total: number) => void;
}

/** Written after a full check: sizes and mtimes of the files whose sha256 matched. */
export const VERIFIED_STAMP = '.diffc-verified.json';

export function manifestHash(raw: Record<string, unknown>): Uint8Array {
  const { source: _source, ...hashed } = raw;
  return new Uint8Array(createHash('sha256').update(canonicalJson(hashed)).digest().subarray(0, 8));
}

export function parseManifest(raw: unknown, where: string): Manifest {
  const m = Manifest.safeParse(raw);
  if (!m.success) {
    const i = m.error.issues[0];
    throw new ModelError('manifest', `invalid manifest in ${where}: ${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  return m.data;
}

export async function readManifest(dir: string): Promise<{ manifest: Manifest; raw: Record<string, unknown> }> {
  const path = join(dir, 'manifest.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ModelError(code === 'ENOENT' || code === 'ENOTDIR' ? 'not-found' : 'manifest', `cannot read ${path}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ModelError('manifest', `${path} is not JSON: ${(e as Error).message}`);
  }
  const manifest = parseManifest(raw, dir);
  return { manifest, raw: raw as Record<string, unknown> };
}

export async function sha256File(path: string, onProgress?: (done: number) => void): Promise<string> {
  const h = createHash('sha256');
  let done = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 22 })) {
    h.update(chunk as Buffer);
    done += (chunk as Buffer).length;
    onProgress?.(done);
  }
  return h.digest('hex');
}

interface Stamp { hash: string; files: Record<string, { bytes: number; mtimeMs: number; sha256: string }> }

async function readStamp(dir: string): Promise<Stamp | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, VERIFIED_STAMP), 'utf8')) as Stamp;
  } catch {
    return undefined;
  }
}

export async function loadBundle(dir: string, opts: LoadBundleOptions = {}): Promise<Bundle> {
  const abs = resolve(dir);
  const { manifest, raw } = await readManifest(abs);
  const hash = manifestHash(raw);
  const hashHex = Buffer.from(hash).toString('hex');
  const verify = opts.verify ?? true;
  const stamp = verify && !opts.force ? await readStamp(abs) : undefined;
  const checked: Stamp['files'] = {};
  let hashedAny = false;
  for (const f of manifest.files) {
    const path = join(abs, f.path);
    let st;
    try {
      st = await stat(path);
    } catch {
      throw new ModelError('not-found', `${manifest.id}: ${f.path} (${f.role}) is missing from ${abs}`);
    }
    if (!st.isFile()) throw new ModelError('not-found', `${manifest.id}: ${f.path} is not a file`);
    if (st.size !== f.bytes) throw new ModelError('checksum', `${manifest.id}: ${f.path} has ${st.size} bytes, the manifest says ${f.bytes}`);
    if (!verify) continue;
    const s = stamp?.hash === hashHex ? stamp.files[f.path] : undefined;
    if (s && s.bytes === st.size && s.mtimeMs === st.mtimeMs && s.sha256 === f.sha256) {
      checked[f.path] = s;
      continue;
    }
    const sha = await sha256File(path, (done) => opts.onProgress?.(f, done, f.bytes));
    hashedAny = true;
    if (sha !== f.sha256) throw new ModelError('checksum', `${manifest.id}: ${f.path} has sha256 ${sha}, the manifest says ${f.sha256}`);
    checked[f.path] = { bytes: st.size, mtimeMs: st.mtimeMs, sha256: sha };
  }
  if (verify && hashedAny && opts.stamp) {
    // Best effort: a read-only bundle is simply re-hashed next time.
    await writeFile(join(abs, VERIFIED_STAMP), JSON.stringify({ hash: hashHex, files: checked })).catch(() => undefined);
  }
  return { dir: abs, manifest, raw, hash, hashHex };
}

/** Absolute paths of a role's files, in manifest order. */
export function roleFiles(b: Bundle, role: FileRole): string[] {
  return b.manifest.files.filter((f) => f.role === role).map((f) => join(b.dir, f.path));
}

/**
 * The role's main file: its first .onnx graph (a graph's external-data files, e.g.
 * unet/model.onnx_data or weights.pb, share its role and sit next to it), else its first file.
 */
export function roleFile(b: Bundle, role: FileRole): string | undefined {
  const files = roleFiles(b, role);
  return files.find((p) => p.endsWith('.onnx')) ?? files[0];
}

/**
 * alpha-bar over the model's integer timesteps 0..T-1.
 *   ddpm: the training schedule (ddpm.ts).
 *   flow: the DDPM equivalent of the flow sigmas sigma_t = (t+1)/(T+1) shifted by the base shift
 *         (mu = baseShift, the shift Flux applies at baseSeqLen tokens), so that `even:N`
 *         coding schedules are spaced like Flux's own sampling sigmas; sigma < 1 keeps alpha-bar > 0.
 */
export function alphaBarTable(s: ScheduleSpec): Float64Array {
  if (s.kind === 'ddpm') return alphaBars(s.config);
  const T = s.steps, out = new Float64Array(T);
  for (let t = 0; t < T; t++) out[t] = alphaBarFromFlowSigma(shiftSigma((t + 1) / (T + 1), s.shift.baseShift));
  return out;
}

export function flowShiftConfig(s: ScheduleSpec): FluxShiftConfig | undefined {
  return s.kind === 'flow' ? s.shift : undefined;
}

/** Where pulled models live: $DIFFC_MODELS, else ~/.cache/diffc/models. */
export function modelCacheDir(): string {
  return process.env.DIFFC_MODELS || join(homedir(), '.cache', 'diffc', 'models');
}

async function isBundleDir(p: string): Promise<boolean> {
  try {
    return (await stat(join(p, 'manifest.json'))).isFile();
  } catch {
    return false;
  }
}

/**
 * A --model value to a bundle directory: 'default' (or nothing) is the embedded default; the id
 * of an embedded model is that model; a path holding manifest.json is used as is; otherwise an
 * id under the cache directory.
 */
export async function resolveModel(nameOrDir: string | undefined, cacheDir = modelCacheDir()): Promise<string> {
  if (nameOrDir === undefined || nameOrDir === 'default') return DEFAULT_MODEL_DIR;
  if (Object.hasOwn(EMBEDDED_MODELS, nameOrDir)) return EMBEDDED_MODELS[nameOrDir];
  if (await isBundleDir(nameOrDir)) return resolve(nameOrDir);
  const looksLikePath = nameOrDir.includes('/') || nameOrDir.includes('\\') || nameOrDir.startsWith('.');
  if (!looksLikePath) {
    const cached = join(cacheDir, nameOrDir);
    if (await isBundleDir(cached)) return cached;
  }
  const hint = looksLikePath
    ? `no manifest.json in ${nameOrDir}`
    : `'${nameOrDir}' is neither a bundle directory nor a model in ${cacheDir} (try 'diffc models list', or 'diffc models pull ${nameOrDir}')`;
  throw new ModelError('not-found', hint);
}

let embeddedHashes: Promise<Map<string, string>> | undefined;

/**
 * The embedded model a .dfc's model hash names (its id), if any: decoding with 'default' follows
 * a file to the embedded model that wrote it, so files of a replaced default still decode.
 */
export async function embeddedModelForHash(hash: Uint8Array): Promise<string | undefined> {
  embeddedHashes ??= Promise.all(Object.entries(EMBEDDED_MODELS).map(async ([id, dir]) => {
    const { raw } = await readManifest(dir);
    return [Buffer.from(manifestHash(raw)).toString('hex'), id] as const;
  })).then((pairs) => new Map(pairs));
  return (await embeddedHashes).get(Buffer.from(hash).toString('hex'));
}
