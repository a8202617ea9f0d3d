/**
 * What the ONNX families share: the model info from the bundle, the alpha-bar table, the
 * autoencoder (VAE mean, then (z - shift) * scale, and back), session pooling, grouping a
 * predictor batch into graph calls, and tiling for large photos: the denoiser runs on latent
 * tiles of the bundle's `tiling.predictor` (tiledPredictor; the family builds its network for the
 * tile, with the text conditioning computed once per prompt and guidance), the VAE on tiles of
 * `tiling.vae` (vae-tiles.ts). A latent that fits one tile takes the untiled path unchanged.
 */
import { join } from 'node:path';
import type { LatentShape, NoisePredictor } from '../../codec/model.js';
import { tileGrid, tiledPredictor, type TileSpecInput } from '../../codec/tiling/index.js';
import { fromPlanarSigned, toPlanarSigned } from '../../image/geometry.js';
import type { RgbImage } from '../../image/types.js';
import { alphaBarTable, roleFile, type Bundle, type FileRole } from '../bundle.js';
import { ModelError } from '../errors.js';
import { modelTiling } from '../tiling.js';
import type { Conditioning, DiffusionModel, ModelInfo } from '../types.js';
import { guidanceDefaults } from '../guidance.js';
import { ClipTokenizer } from './clip-tokenizer.js';
import { T5Tokenizer } from './t5-tokenizer.js';
import { SessionPool, type OnnxSession, type SessionOptions } from './session.js';
import { decodeTiled, encodeTiled } from './vae-tiles.js';

export interface OnnxModelOptions extends SessionOptions {
  /** Largest batch one graph call receives (classifier-free guidance doubles it inside). */
  readonly maxBatch?: number;
  /**
   * Most VAE tiles per encoder/decoder call when the graph has a dynamic batch axis (default 1:
   * a real VAE's activations for one 1024 px tile are GBs and it runs once per image, so batching
   * buys little speed for several times the peak memory).
   */
  readonly vaeMaxBatch?: number;
}

export abstract class OnnxModelBase<Text = unknown> implements DiffusionModel {
  readonly info: ModelInfo;
  readonly table: Float64Array;
  /** Denoiser and VAE tiles, latent cells (the bundle's tiling, else the family's). */
  readonly tiling: { readonly predictor: TileSpecInput; readonly vae: TileSpecInput };
  protected readonly pool: SessionPool;
  protected readonly maxBatch: number;
  private readonly vaeMaxBatch: number;
  private readonly predictors = new Map<string, Promise<NoisePredictor>>();
  private readonly texts = new Map<string, Promise<Text>>();
  private readonly clipTokenizers = new Map<FileRole, Promise<ClipTokenizer | undefined>>();
  private t5?: Promise<T5Tokenizer | undefined>;

  constructor(readonly bundle: Bundle, sizeMultiple: number, opts: OnnxModelOptions = {}) {
    const m = bundle.manifest;
    this.info = {
      id: m.id, family: m.family, hash: bundle.hash, prediction: m.prediction,
      latentChannels: m.latent.channels, downsample: m.latent.downsample, sizeMultiple,
      ...(m.oneStep ? { oneStep: true } : {}),
      defaults: { ...m.defaults, ...guidanceDefaults(m.family, m.defaults) },
    };
    this.table = alphaBarTable(m.schedule);
    this.pool = new SessionPool(opts);
    this.maxBatch = Math.max(1, opts.maxBatch ?? 4);
    this.vaeMaxBatch = Math.max(1, opts.vaeMaxBatch ?? 1);
    this.tiling = modelTiling(m.family, m.tiling);
  }

  latentShape(width: number, height: number): LatentShape {
    const m = this.info.sizeMultiple, d = this.info.downsample;
    if (width % m || height % m || width <= 0 || height <= 0) throw new RangeError(`${width}x${height} is not a positive multiple of ${m}`);
    return { channels: this.info.latentChannels, height: height / d, width: width / d };
  }

  protected session(role: FileRole): Promise<OnnxSession> {
    const p = roleFile(this.bundle, role);
    if (!p) throw new ModelError('family', `${this.info.id}: the bundle has no ${role} file`);
    return this.pool.get(p);
  }

  protected has(role: FileRole): boolean {
    return roleFile(this.bundle, role) !== undefined;
  }

  /** The bundle's CLIP tokenizer of a role (its vocab.json + merges.txt), if it ships one. */
  protected clipTokenizer(role: 'tokenizer' | 'tokenizer_2' = 'tokenizer'): Promise<ClipTokenizer | undefined> {
    let t = this.clipTokenizers.get(role);
    if (!t) {
      t = (async () => {
        const files = this.bundle.manifest.files.filter((f) => f.role === role);
        const vocab = files.find((f) => f.path.endsWith('vocab.json'));
        const merges = files.find((f) => f.path.endsWith('merges.txt'));
        if (!vocab || !merges) return undefined;
        return ClipTokenizer.load(join(this.bundle.dir, vocab.path), join(this.bundle.dir, merges.path));
      })();
      this.clipTokenizers.set(role, t);
    }
    return t;
  }

  /** The bundle's T5 tokenizer (tokenizer_2's tokenizer.json: Flux), if it ships one. */
  protected t5Tokenizer(): Promise<T5Tokenizer | undefined> {
    this.t5 ??= (async () => {
      const f = this.bundle.manifest.files.find((x) => x.role === 'tokenizer_2' && x.path.endsWith('tokenizer.json'));
      return f ? T5Tokenizer.load(join(this.bundle.dir, f.path)) : undefined;
    })();
    return this.t5;
  }

  /** Pad id of the (first) CLIP tokenizer: manifest text.padId, else the family's. */
  protected padId(key: 'padId' | 'padId2', fallback: number): number {
    const v = (this.bundle.manifest.text as Record<string, unknown> | undefined)?.[key];
    return typeof v === 'number' ? v : fallback;
  }

  /** Tiles per VAE call: batched only when the graph's batch axis is dynamic. */
  private vaeBatch(s: OnnxSession, input: string): number {
    return typeof s.input(input).shape[0] === 'number' ? 1 : this.vaeMaxBatch;
  }

  async encode(images: readonly RgbImage[]): Promise<Float32Array[]> {
    const s = await this.session('vae_encoder');
    const out: Float32Array[] = [];
    for (const img of images) {
      const shape = this.latentShape(img.width, img.height);
      const grid = tileGrid(shape.height, shape.width, this.tiling.vae);
      if (grid.tiles.length === 1) {
        out.push((await this.encodeCall(s, toPlanarSigned(img), 1, shape.height, shape.width))[0]);
      } else {
        const call = (x: Float32Array, n: number, th: number, tw: number) => this.encodeCall(s, x, n, th / this.info.downsample, tw / this.info.downsample);
        out.push(await encodeTiled(img, shape, grid, this.info.downsample, this.vaeBatch(s, 'sample'), call));
      }
    }
    return out;
  }

  /** n planar signed images of (h d) x (w d) px -> n model-scaled latents C x h x w. */
  private async encodeCall(s: OnnxSession, x: Float32Array, n: number, h: number, w: number): Promise<Float32Array[]> {
    const { channels: C, scale, shift } = this.bundle.manifest.latent;
    const d = this.info.downsample;
    const r = await s.run({ sample: { data: x, dims: [n, 3, h * d, w * d] } });
    const t = r.latent_parameters ?? r.latent_sample ?? Object.values(r)[0];
    if (!t || t.dims.length !== 4 || t.dims[0] !== n || t.dims[2] !== h || t.dims[3] !== w || (t.dims[1] !== C && t.dims[1] !== 2 * C)) {
      throw new ModelError('family', `${s.path}: expected latents [${n}, ${C} or ${2 * C}, ${h}, ${w}], got [${t?.dims.join(', ')}]`);
    }
    // 2C channels are the Gaussian's (mean, logvar): the mean is the first half.
    const per = t.dims[1] * h * w;
    return Array.from({ length: n }, (_, j) => Float32Array.from(t.data.subarray(j * per, j * per + C * h * w), (v) => (v - shift) * scale));
  }

  async decode(latents: readonly Float32Array[], width: number, height: number): Promise<RgbImage[]> {
    const s = await this.session('vae_decoder');
    const shape = this.latentShape(width, height);
    const { height: h, width: w, channels: C } = shape;
    const { scale, shift } = this.bundle.manifest.latent;
    const toVae = (v: number) => v / scale + shift;
    const grid = tileGrid(h, w, this.tiling.vae);
    const out: RgbImage[] = [];
    for (const x of latents) {
      if (x.length !== C * h * w) throw new RangeError(`latent has ${x.length} values, expected ${C * h * w}`);
      if (grid.tiles.length === 1) {
        out.push(fromPlanarSigned((await this.decodeCall(s, Float32Array.from(x, toVae), 1, h, w))[0], width, height));
      } else {
        out.push(await decodeTiled(x, shape, grid, this.info.downsample, this.vaeBatch(s, 'latent_sample'), toVae, (z, n, th, tw) => this.decodeCall(s, z, n, th, tw)));
      }
    }
    return out;
  }

  /** n VAE-scaled latents C x h x w -> n planar [-1,1] images 3 x (h d) x (w d). */
  private async decodeCall(s: OnnxSession, z: Float32Array, n: number, h: number, w: number): Promise<Float32Array[]> {
    const C = this.info.latentChannels, d = this.info.downsample, per = 3 * h * d * w * d;
    const r = await s.run({ latent_sample: { data: z, dims: [n, C, h, w] } });
    const t = r.sample ?? Object.values(r)[0];
    if (!t || t.data.length !== n * per) throw new ModelError('family', `${s.path}: expected images [${n}, 3, ${h * d}, ${w * d}], got [${t?.dims.join(', ')}]`);
    return Array.from({ length: n }, (_, j) => t.data.subarray(j * per, (j + 1) * per));
  }

  /**
   * The denoiser for a padded image size: the family's network built for the latent tile
   * (tiledPredictor returns it as is when the latent fits one tile), cached per size and
   * conditioning.
   */
  predictor(width: number, height: number, cond: Conditioning = {}): Promise<NoisePredictor> {
    const key = JSON.stringify([width, height, cond.prompt ?? '', cond.guidance ?? null]);
    let p = this.predictors.get(key);
    if (!p) {
      let latent: LatentShape;
      try {
        latent = this.latentShape(width, height);
      } catch (e) {
        return Promise.reject(e);
      }
      p = tiledPredictor(latent, this.tiling.predictor, async (th, tw) => this.tileNetwork({ channels: latent.channels, height: th, width: tw }, await this.text(cond), cond));
      this.predictors.set(key, p);
      p.catch(() => this.predictors.delete(key));
    }
    return p;
  }

  /** The text conditioning for a prompt and guidance, computed once and shared by all tiles and sizes. */
  private text(cond: Conditioning): Promise<Text> {
    const key = JSON.stringify([cond.prompt ?? '', cond.guidance ?? null]);
    let t = this.texts.get(key);
    if (!t) {
      t = this.makeText(cond);
      this.texts.set(key, t);
      t.catch(() => this.texts.delete(key));
    }
    return t;
  }

  /** Runs the text encoders (or makes the manifest's zeros) for a prompt and guidance. */
  protected abstract makeText(cond: Conditioning): Promise<Text>;

  /** The family's noise predictor for one latent tile (the whole latent when it fits one). */
  protected abstract tileNetwork(tile: LatentShape, text: Text, cond: Conditioning): Promise<NoisePredictor>;

  async close(): Promise<void> {
    this.predictors.clear();
    this.texts.clear();
    await this.pool.close();
  }
}

/**
 * Splits request indices into graph calls: requests with equal `key` (e.g. the UNet used and, for
 * graphs whose timestep is a scalar, the timestep) go together, at most maxBatch per call.
 */
export function groupCalls(keys: readonly string[], maxBatch: number): number[][] {
  const groups = new Map<string, number[]>();
  keys.forEach((k, i) => {
    const g = groups.get(k);
    if (g) g.push(i); else groups.set(k, [i]);
  });
  const calls: number[][] = [];
  for (const g of groups.values()) for (let i = 0; i < g.length; i += maxBatch) calls.push(g.slice(i, i + maxBatch));
  return calls;
}

/** n copies of `x` back to back. */
export function repeat(x: Float32Array, n: number): Float32Array {
  const out = new Float32Array(x.length * n);
  for (let i = 0; i < n; i++) out.set(x, i * x.length);
  return out;
}

/** Concatenates equal-sized arrays. */
export function stack(xs: readonly Float32Array[]): Float32Array {
  const n = xs[0]?.length ?? 0, out = new Float32Array(n * xs.length);
  xs.forEach((x, i) => out.set(x, i * n));
  return out;
}

/** Whether a graph input is a scalar (rank 0) rather than one value per batch entry. */
export function isScalar(shape: readonly (number | string)[]): boolean {
  return shape.length === 0;
}
