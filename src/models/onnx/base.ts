/**
 * What the ONNX families share: the model info from the bundle, the alpha-bar table, the
 * autoencoder (VAE mean, then (z - shift) * scale, and back), session pooling, and grouping a
 * predictor batch into graph calls.
 */
import { join } from 'node:path';
import type { LatentShape, NoisePredictor } from '../../codec/model.js';
import { fromPlanarSigned, toPlanarSigned } from '../../image/geometry.js';
import type { RgbImage } from '../../image/types.js';
import { alphaBarTable, roleFile, type Bundle, type FileRole } from '../bundle.js';
import { ModelError } from '../errors.js';
import type { Conditioning, DiffusionModel, ModelInfo } from '../types.js';
import { ClipTokenizer } from './clip-tokenizer.js';
import { SessionPool, type OnnxSession, type SessionOptions } from './session.js';

export interface OnnxModelOptions extends SessionOptions {
  /** Largest batch one graph call receives (classifier-free guidance doubles it inside). */
  readonly maxBatch?: number;
}

export abstract class OnnxModelBase implements DiffusionModel {
  readonly info: ModelInfo;
  readonly table: Float64Array;
  protected readonly pool: SessionPool;
  protected readonly maxBatch: number;
  private readonly predictors = new Map<string, Promise<NoisePredictor>>();
  private tokenizer?: Promise<ClipTokenizer | undefined>;

  constructor(readonly bundle: Bundle, sizeMultiple: number, opts: OnnxModelOptions = {}) {
    const m = bundle.manifest;
    this.info = {
      id: m.id, family: m.family, hash: bundle.hash, prediction: m.prediction,
      latentChannels: m.latent.channels, downsample: m.latent.downsample, sizeMultiple, defaults: m.defaults,
    };
    this.table = alphaBarTable(m.schedule);
    this.pool = new SessionPool(opts);
    this.maxBatch = Math.max(1, opts.maxBatch ?? 4);
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

  /** The bundle's CLIP tokenizer (tokenizer files vocab.json + merges.txt), if it ships one. */
  protected clipTokenizer(): Promise<ClipTokenizer | undefined> {
    this.tokenizer ??= (async () => {
      const files = this.bundle.manifest.files.filter((f) => f.role === 'tokenizer');
      const vocab = files.find((f) => f.path.endsWith('vocab.json'));
      const merges = files.find((f) => f.path.endsWith('merges.txt'));
      if (!vocab || !merges) return undefined;
      return ClipTokenizer.load(join(this.bundle.dir, vocab.path), join(this.bundle.dir, merges.path));
    })();
    return this.tokenizer;
  }

  /** Pad id of the (first) CLIP tokenizer: manifest text.padId, else the family's. */
  protected padId(key: 'padId' | 'padId2', fallback: number): number {
    const v = (this.bundle.manifest.text as Record<string, unknown> | undefined)?.[key];
    return typeof v === 'number' ? v : fallback;
  }

  async encode(images: readonly RgbImage[]): Promise<Float32Array[]> {
    const s = await this.session('vae_encoder');
    const { channels: C, scale, shift } = this.bundle.manifest.latent;
    const out: Float32Array[] = [];
    for (const img of images) {
      const { height: h, width: w } = this.latentShape(img.width, img.height);
      const r = await s.run({ sample: { data: toPlanarSigned(img), dims: [1, 3, img.height, img.width] } });
      const t = r.latent_parameters ?? r.latent_sample ?? Object.values(r)[0];
      if (!t || t.dims.length !== 4 || t.dims[2] !== h || t.dims[3] !== w || (t.dims[1] !== C && t.dims[1] !== 2 * C)) {
        throw new ModelError('family', `${s.path}: expected latents [1, ${C} or ${2 * C}, ${h}, ${w}], got [${t?.dims.join(', ')}]`);
      }
      // 2C channels are the Gaussian's (mean, logvar): the mean is the first half.
      const z = t.data.subarray(0, C * h * w);
      out.push(Float32Array.from(z, (v) => (v - shift) * scale));
    }
    return out;
  }

  async decode(latents: readonly Float32Array[], width: number, height: number): Promise<RgbImage[]> {
    const s = await this.session('vae_decoder');
    const { height: h, width: w, channels: C } = this.latentShape(width, height);
    const { scale, shift } = this.bundle.manifest.latent;
    const out: RgbImage[] = [];
    for (const x of latents) {
      if (x.length !== C * h * w) throw new RangeError(`latent has ${x.length} values, expected ${C * h * w}`);
      const r = await s.run({ latent_sample: { data: Float32Array.from(x, (v) => v / scale + shift), dims: [1, C, h, w] } });
      const t = r.sample ?? Object.values(r)[0];
      if (!t || t.data.length !== 3 * width * height) throw new ModelError('family', `${s.path}: expected an image [1, 3, ${height}, ${width}], got [${t?.dims.join(', ')}]`);
      out.push(fromPlanarSigned(t.data, width, height));
    }
    return out;
  }

  predictor(width: number, height: number, cond: Conditioning = {}): Promise<NoisePredictor> {
    const key = JSON.stringify([width, height, cond.prompt ?? '', cond.guidance ?? null]);
    let p = this.predictors.get(key);
    if (!p) {
      try {
        this.latentShape(width, height);
      } catch (e) {
        return Promise.reject(e);
      }
      p = this.makePredictor(width, height, cond);
      this.predictors.set(key, p);
      p.catch(() => this.predictors.delete(key));
    }
    return p;
  }

  protected abstract makePredictor(width: number, height: number, cond: Conditioning): Promise<NoisePredictor>;

  async close(): Promise<void> {
    this.predictors.clear();
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
