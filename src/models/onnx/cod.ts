/**
 * The `cod` family: CoD-style conditional DiffC (Jia et al.), in pixel space. A condition encoder
 * maps the image to a small latent, which is rounded and coded with the bundle's factorized
 * tables (docs/learned-entropy.md §5) into .dfc field 17 before the chain; the condition decoder
 * turns the decoded symbols into features at the image's size, and the denoiser takes them at
 * every step (input `cond`), so the chain codes only what the condition does not already say.
 * Encoder and decoder compute the features the same way (decode of the coded symbols), so they
 * agree wherever the two machines' networks agree.
 *
 *   cond_encoder  sample [1,3,H,W] (sRGB in [-1,1]) -> z [1,Cz,H/d,W/d]
 *   cond_decoder  z_hat [1,Cz,H/d,W/d] -> condition [1,Cc,H,W]
 *   unet          sample [B,3,H,W], timestep [B] or scalar, cond [B,Cc,H,W] -> out_sample (eps or v)
 *   entropy       JSON {channels: [{offset, freqs}]}: one integer table per z channel
 *
 * The denoiser runs untiled (its condition covers the whole image).
 */
import { readFile } from 'node:fs/promises';
import type { DenoiseRequest, LatentShape, NoisePredictor } from '../../codec/model.js';
import type { PredictionKind } from '../../codec/diffusion/prediction.js';
import { timestepFromAlphaBar } from '../../codec/schedule/noise-level.js';
import { decodeFactorized, encodeFactorized, factorizedTables, type CdfTable, type FactorizedSpec } from '../../codec/entropy/learned/index.js';
import { fromPlanarSigned, toPlanarSigned } from '../../image/geometry.js';
import type { RgbImage } from '../../image/types.js';
import { roleFile, type Bundle } from '../bundle.js';
import { ModelError } from '../errors.js';
import type { ConditionCodec, Conditioning } from '../types.js';
import { OnnxModelBase, groupCalls, isScalar, repeat, stack, type OnnxModelOptions } from './base.js';
import type { OnnxSession } from './session.js';

/** Round half away from zero: the symbol of a condition latent value. */
const symbolOf = (v: number) => (v < 0 ? -Math.floor(-v + 0.5) : Math.floor(v + 0.5));

export class CodModel extends OnnxModelBase<undefined> {
  readonly condition: ConditionCodec;
  private readonly spec: NonNullable<Bundle['manifest']['condition']>;

  private constructor(bundle: Bundle, private readonly tables: readonly CdfTable[], opts: OnnxModelOptions) {
    super(bundle, bundle.manifest.condition!.downsample, opts);
    this.spec = bundle.manifest.condition!;
    if (tables.length !== this.spec.channels) throw new ModelError('manifest', `${this.info.id}: ${tables.length} entropy tables for ${this.spec.channels} condition channels`);
    this.condition = { encode: (img) => this.encodeCondition(img), decode: (b, w, h) => this.decodeCondition(b, w, h) };
  }

  static async open(bundle: Bundle, opts: OnnxModelOptions = {}): Promise<CodModel> {
    const path = roleFile(bundle, 'entropy')!;
    let spec: FactorizedSpec;
    try {
      spec = JSON.parse(await readFile(path, 'utf8')) as FactorizedSpec;
      return new CodModel(bundle, factorizedTables(spec), opts);
    } catch (e) {
      if (e instanceof ModelError) throw e;
      throw new ModelError('manifest', `${bundle.manifest.id}: bad entropy tables in ${path}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** The condition latent's size for a padded image. */
  private zShape(width: number, height: number) {
    const d = this.spec.downsample;
    if (width % d || height % d) throw new RangeError(`${width}x${height} is not a multiple of the condition's ${d}`);
    return { channels: this.spec.channels, height: height / d, width: width / d };
  }

  private async encodeCondition(img: RgbImage): Promise<{ bytes: Uint8Array; features: Float32Array }> {
    const s = await this.session('cond_encoder');
    const z = this.zShape(img.width, img.height);
    const r = await s.run({ sample: { data: toPlanarSigned(img), dims: [1, 3, img.height, img.width] } });
    const t = r.z ?? Object.values(r)[0];
    const n = z.channels * z.height * z.width;
    if (!t || t.data.length !== n) throw new ModelError('family', `${s.path}: expected z [1, ${z.channels}, ${z.height}, ${z.width}], got [${t?.dims.join(', ')}]`);
    const symbols = Int32Array.from(t.data, symbolOf);
    const bytes = encodeFactorized(symbols, this.channelOf(z), this.tables);
    return { bytes, features: await this.features(symbols, img.width, img.height) };
  }

  private async decodeCondition(bytes: Uint8Array, width: number, height: number): Promise<Float32Array> {
    const z = this.zShape(width, height);
    return this.features(decodeFactorized(bytes, z.channels * z.height * z.width, this.channelOf(z), this.tables), width, height);
  }

  private channelOf(z: { height: number; width: number }) {
    const plane = z.height * z.width;
    return (i: number) => Math.floor(i / plane);
  }

  /** Decoded symbols -> the denoiser's condition features (the same call on both sides). */
  private async features(symbols: Int32Array, width: number, height: number): Promise<Float32Array> {
    const s = await this.session('cond_decoder');
    const z = this.zShape(width, height);
    const r = await s.run({ z_hat: { data: Float32Array.from(symbols), dims: [1, z.channels, z.height, z.width] } });
    const t = r.condition ?? Object.values(r)[0];
    const n = this.spec.featureChannels * height * width;
    if (!t || t.data.length !== n) throw new ModelError('family', `${s.path}: expected condition [1, ${this.spec.featureChannels}, ${height}, ${width}], got [${t?.dims.join(', ')}]`);
    return Float32Array.from(t.data);
  }

  /** Pixel space: the model's latent is the planar image in [-1, 1], (v - shift) * scale. */
  override async encode(images: readonly RgbImage[]): Promise<Float32Array[]> {
    const { scale, shift } = this.bundle.manifest.latent;
    return images.map((img) => {
      this.latentShape(img.width, img.height);
      return Float32Array.from(toPlanarSigned(img), (v) => (v - shift) * scale);
    });
  }

  override async decode(latents: readonly Float32Array[], width: number, height: number): Promise<RgbImage[]> {
    const { scale, shift } = this.bundle.manifest.latent;
    const size = 3 * width * height;
    return latents.map((x) => {
      if (x.length !== size) throw new RangeError(`latent has ${x.length} values, expected ${size}`);
      return fromPlanarSigned(Float32Array.from(x, (v) => v / scale + shift), width, height);
    });
  }

  /** The denoiser bound to one image's decoded condition (not cached: each image has its own). */
  override async predictor(width: number, height: number, cond: Conditioning = {}): Promise<NoisePredictor> {
    const latent = this.latentShape(width, height);
    const c = cond.condition;
    if (c && c.length !== this.spec.featureChannels * height * width) throw new RangeError(`condition has ${c.length} values, expected ${this.spec.featureChannels * height * width}`);
    return new CodPredictor(this, latent, await this.session('unet'), c, this.spec.featureChannels, this.maxBatch);
  }

  protected async makeText(): Promise<undefined> {
    return undefined;
  }

  protected async tileNetwork(): Promise<NoisePredictor> {
    throw new ModelError('family', `${this.info.id}: cod models run untiled`);
  }
}

class CodPredictor implements NoisePredictor {
  readonly id: string;
  readonly hash: Uint8Array;
  readonly prediction: PredictionKind;

  constructor(
    private readonly model: CodModel, readonly latent: LatentShape, private readonly unet: OnnxSession,
    private readonly cond: Float32Array | undefined, private readonly condChannels: number, readonly maxBatch: number,
  ) {
    this.id = model.info.id;
    this.hash = model.info.hash;
    this.prediction = model.info.prediction;
  }

  async predict(batch: readonly DenoiseRequest[]): Promise<Float32Array[]> {
    // Bitstream parsing (diffc info, truncation) never gets here; a chain without its condition cannot run.
    if (!this.cond) throw new ModelError('family', `${this.id}: a cod model's denoiser needs the image's decoded condition (.dfc field 17)`);
    const tIn = this.unet.input('timestep');
    const scalar = isScalar(tIn.shape);
    const plans = batch.map((r) => {
      const t = timestepFromAlphaBar(this.model.table, r.alphaBar);
      const value = tIn.type.startsWith('int') ? Math.round(t) : t;
      return { value, key: scalar ? String(value) : '' };
    });
    const out: Float32Array[] = new Array(batch.length);
    const { channels: C, height: h, width: w } = this.latent;
    const size = C * h * w;
    for (const idx of groupCalls(plans.map((p) => p.key), this.maxBatch)) {
      const n = idx.length, ts = idx.map((i) => plans[i].value);
      const r = await this.unet.run({
        sample: { data: stack(idx.map((i) => batch[i].x)), dims: [n, C, h, w] },
        timestep: scalar ? { data: [ts[0]], dims: [] } : { data: ts, dims: [n] },
        cond: { data: repeat(this.cond, n), dims: [n, this.condChannels, h, w] },
      }, ['out_sample']);
      const y = r.out_sample;
      if (!y || y.data.length !== n * size) throw new ModelError('family', `${this.unet.path}: expected out_sample [${n}, ${C}, ${h}, ${w}], got [${y?.dims.join(', ')}]`);
      idx.forEach((i, j) => { out[i] = y.data.slice(j * size, (j + 1) * size); });
    }
    return out;
  }
}
