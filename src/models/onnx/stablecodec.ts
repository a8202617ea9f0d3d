/**
 * The `stablecodec` family: StableCodec (Zhang et al., ICCV 2025), a one-step diffusion codec.
 * Its whole code is the latent codec's streams in .dfc field 17 (src/models/stablecodec/stream.ts);
 * no DiffC chain steps are coded, and the reconstruction from zero steps (the prior mean at
 * alpha-bar 0, an MSE reconstruction) is its one-step decode, so every path that decodes a .dfc
 * (decompress, the activities, eval) decodes a StableCodec file unchanged.
 *
 * Encode, as LatentCodec.compress: VAE latent and ELIC latent2 -> analysis -> y -> hyper_analysis
 * -> z; z - medians rounded (halves to even, as torch.round) and coded with the bundle's
 * factorized tables; hyper_synthesis(z_hat) = base; then for each context group k = 0..3: its
 * means and scales from context_out_k(context(context_in_k(base))), y's group-k elements minus
 * the means rounded and coded Gaussian-conditionally (docs/learned-entropy.md §4), y_hat_k =
 * symbols + means plus 0.5 tanh(lrp_k(y_hat_k, base)) on the group's positions, and base takes
 * y_hat_k there. The encoder runs the decoder's own computation on the decoded values, so both
 * sides form the same scales (within float error, which the guard list absorbs).
 *
 * Condition features: synthesis(y_hat) (the UNet's input, Cin channels) then aux_decoder(y_hat)
 * (res, 4 channels), at the latent's size. The predictor runs the one-step UNet on them (tiled as
 * the original), x0 = (x_hat[:4] - sqrt(1 - a) eps) / sqrt(a) at the manifest's timestep,
 * clamped if the scheduler clips, plus res; the VAE decodes it.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DenoiseRequest, LatentShape, NoisePredictor } from '../../codec/model.js';
import { decodeFactorized, decodeGaussian, encodeFactorized, encodeGaussian, factorizedTables, type CdfTable, type FactorizedSpec } from '../../codec/entropy/learned/index.js';
import { toPlanarSigned } from '../../image/geometry.js';
import type { RgbImage } from '../../image/types.js';
import { roleFile, type Bundle, type FileRole } from '../bundle.js';
import { ModelError } from '../errors.js';
import type { ConditionCodec, Conditioning } from '../types.js';
import { GROUPS, checkYShape, groupSize, roundHalfEven, scatter, squeeze, unsqueeze, type YShape } from '../stablecodec/groups.js';
import { readStreams, writeStreams } from '../stablecodec/stream.js';
import { blendOneStep, oneStepGrid } from '../stablecodec/tiles.js';
import { cutTile } from '../../codec/tiling/index.js';
import { OnnxModelBase, type OnnxModelOptions } from './base.js';
import type { FloatTensor, OnnxSession } from './session.js';

/** Images are padded to this: z is y / 4 and y is the image / 64. */
export const STABLECODEC_MULTIPLE = 256;

interface HyperSpec extends FactorizedSpec {
  readonly medians: readonly number[];
}

type OneStep = NonNullable<Bundle['manifest']['oneStep']>;

/** One context group as coded: its symbols and the squeezed means and scales they were coded with. */
export interface CodedGroup {
  readonly symbols: Int32Array;
  readonly means: Float32Array;
  readonly scales: Float32Array;
}

export interface DecodedLatentCodec {
  readonly zSymbols: Int32Array;
  readonly groups: readonly CodedGroup[];
  readonly yHat: Float32Array;
  readonly features: Float32Array;
}

export class StableCodecModel extends OnnxModelBase<undefined> {
  readonly condition: ConditionCodec;
  private readonly oneStep: OneStep;
  /** VAE latents of the images encode() saw, for their condition (imageLatent encodes, then conditions, the same padded image). */
  private readonly latents = new WeakMap<RgbImage, Float32Array>();

  private constructor(bundle: Bundle, private readonly tables: readonly CdfTable[], private readonly medians: Float32Array, opts: OnnxModelOptions) {
    super(bundle, STABLECODEC_MULTIPLE, opts);
    this.oneStep = bundle.manifest.oneStep!;
    if (tables.length !== medians.length) throw new ModelError('manifest', `${this.info.id}: ${tables.length} hyper-latent tables but ${medians.length} medians`);
    this.condition = { encode: (img) => this.encodeCondition(img), decode: (b, w, h) => this.decodeCondition(b, w, h) };
  }

  static async open(bundle: Bundle, opts: OnnxModelOptions = {}): Promise<StableCodecModel> {
    const path = roleFile(bundle, 'entropy')!;
    try {
      const spec = JSON.parse(await readFile(path, 'utf8')) as HyperSpec;
      if (!Array.isArray(spec.medians)) throw new Error('no medians');
      return new StableCodecModel(bundle, factorizedTables(spec), Float32Array.from(spec.medians), opts);
    } catch (e) {
      if (e instanceof ModelError) throw e;
      throw new ModelError('manifest', `${bundle.manifest.id}: bad hyper-latent tables in ${path}: ${(e as Error).message}`, { cause: e });
    }
  }

  override async encode(images: readonly RgbImage[]): Promise<Float32Array[]> {
    const out = await super.encode(images);
    images.forEach((img, i) => this.latents.set(img, out[i]));
    return out;
  }

  /** One of a role's four per-group graphs. */
  private groupSession(role: FileRole, k: number): Promise<OnnxSession> {
    const f = this.bundle.manifest.files.find((x) => x.role === role && x.group === k);
    if (!f) throw new ModelError('family', `${this.info.id}: the bundle has no ${role} graph for group ${k}`);
    return this.pool.get(join(this.bundle.dir, f.path));
  }

  private async call(s: OnnxSession, feeds: Record<string, { data: Float32Array; dims: number[] }>, output: string, dims?: readonly number[]): Promise<FloatTensor> {
    const r = await s.run(feeds, [output]);
    const t = r[output];
    if (!t || (dims && (t.dims.length !== dims.length || t.dims.some((d, i) => dims[i] >= 0 && d !== dims[i])))) {
      throw new ModelError('family', `${s.path}: expected ${output} [${dims?.map((d) => (d < 0 ? '?' : d)).join(', ')}], got [${t?.dims.join(', ')}]`);
    }
    return t;
  }

  private async encodeCondition(img: RgbImage): Promise<{ bytes: Uint8Array; features: Float32Array }> {
    const { width: W, height: H } = img;
    this.latentShape(W, H);
    const latent = this.latents.get(img) ?? (await this.encode([img]))[0];
    const h = H / 8, w = W / 8;
    const x = toPlanarSigned(img);
    const latent2 = await this.call(await this.session('aux_encoder'), { sample: { data: x, dims: [1, 3, H, W] } }, 'latent2', [1, -1, H / 16, W / 16]);
    const y = await this.call(await this.session('analysis'), {
      latent: { data: latent, dims: [1, 4, h, w] }, latent2: { data: latent2.data, dims: [...latent2.dims] },
    }, 'y', [1, -1, H / 64, W / 64]);
    const ys: YShape = { channels: y.dims[1], height: H / 64, width: W / 64 };
    const z = await this.call(await this.session('hyper_analysis'), { y: { data: y.data, dims: [...y.dims] } }, 'z', [1, this.tables.length, H / 256, W / 256]);
    const zSymbols = this.hyperSymbols(z.data, H, W);
    const zBytes = encodeFactorized(zSymbols, this.hyperChannel(H, W), this.tables);
    const groups: Uint8Array[] = [];
    const { yHat } = await this.contextGroups(zSymbols, ys, H, W, async (k, means, scales) => {
      const yk = squeeze(y.data, ys, k);
      const symbols = new Int32Array(yk.length);
      for (let i = 0; i < yk.length; i++) symbols[i] = roundHalfEven(Math.fround(yk[i] - means[i]));
      groups.push(encodeGaussian(symbols, scales).bytes);
      return symbols;
    });
    return { bytes: writeStreams({ z: zBytes, groups }), features: await this.features(yHat, ys, H, W) };
  }

  private async decodeCondition(bytes: Uint8Array, W: number, H: number): Promise<Float32Array> {
    return (await this.decodeLatentCodec(bytes, W, H)).features;
  }

  /** The decoder's view of a code: z's symbols, each group's entropy parameters and symbols, y_hat, the features. */
  async decodeLatentCodec(bytes: Uint8Array, W: number, H: number): Promise<DecodedLatentCodec> {
    this.latentShape(W, H);
    const streams = readStreams(bytes);
    const n = this.tables.length * (H / 256) * (W / 256);
    const zSymbols = decodeFactorized(streams.z, n, this.hyperChannel(H, W), this.tables);
    const { yHat, groups, shape } = await this.contextGroups(zSymbols, undefined, H, W, async (k, _means, scales, s) => decodeGaussian(streams.groups[k], scales, groupSize(s)));
    return { zSymbols, groups, yHat, features: await this.features(yHat, shape, H, W) };
  }

  /** z's symbols: z - median rounded, halves to even (EntropyBottleneck.compress). */
  private hyperSymbols(z: Float32Array, H: number, W: number): Int32Array {
    const ch = this.hyperChannel(H, W), out = new Int32Array(z.length);
    for (let i = 0; i < z.length; i++) out[i] = roundHalfEven(Math.fround(z[i] - this.medians[ch(i)]));
    return out;
  }

  private hyperChannel(H: number, W: number): (i: number) => number {
    const plane = (H / 256) * (W / 256);
    return (i) => Math.floor(i / plane);
  }

  /**
   * The hyperprior and the four context groups, shared by encoder and decoder: `code` gets group
   * k's squeezed means and scales and returns its symbols (coding or decoding them); returns y_hat.
   */
  private async contextGroups(
    zSymbols: Int32Array, shape: YShape | undefined, H: number, W: number,
    code: (k: number, means: Float32Array, scales: Float32Array, shape: YShape) => Promise<Int32Array>,
  ): Promise<{ yHat: Float32Array; groups: CodedGroup[]; shape: YShape }> {
    const ch = this.hyperChannel(H, W);
    const zHat = Float32Array.from(zSymbols, (s, i) => Math.fround(s + this.medians[ch(i)]));
    const hs = await this.call(await this.session('hyper_synthesis'), { z_hat: { data: zHat, dims: [1, this.tables.length, H / 256, W / 256] } }, 'base', [1, -1, H / 64, W / 64]);
    const ys = shape ?? { channels: hs.dims[1], height: H / 64, width: W / 64 };
    checkYShape(ys);
    if (hs.dims[1] !== ys.channels) throw new ModelError('family', `${hs.dims[1]} hyper-synthesis channels for ${ys.channels} y channels`);
    const dims = [1, ys.channels, ys.height, ys.width];
    const base = Float32Array.from(hs.data);
    const context = await this.session('context');
    const groups: CodedGroup[] = [];
    for (let k = 0; k < GROUPS; k++) {
      const cin = await this.call(await this.groupSession('context_in', k), { base: { data: base, dims } }, 'context_in', [1, -1, ys.height, ys.width]);
      const ctx = await this.call(context, { context_in: { data: cin.data, dims: [...cin.dims] } }, 'context', [...cin.dims]);
      const params = await this.call(await this.groupSession('context_out', k), { context: { data: ctx.data, dims: [...ctx.dims] } }, 'params', [1, 2 * ys.channels, ys.height, ys.width]);
      const half = ys.channels * ys.height * ys.width;
      const means = squeeze(params.data.subarray(0, half), ys, k), scales = squeeze(params.data.subarray(half), ys, k);
      const symbols = await code(k, means, scales, ys);
      groups.push({ symbols, means, scales });
      const yk = Float32Array.from(symbols, (s, i) => Math.fround(s + means[i]));
      const lrp = await this.call(await this.groupSession('lrp', k), { y_hat: { data: unsqueeze(yk, ys, k), dims }, base: { data: base, dims } }, 'lrp', dims);
      const lk = squeeze(lrp.data, ys, k);
      for (let i = 0; i < yk.length; i++) yk[i] = Math.fround(yk[i] + Math.fround(0.5 * Math.fround(Math.tanh(lk[i]))));
      scatter(base, yk, ys, k);
    }
    return { yHat: base, groups, shape: ys };
  }

  /** y_hat -> [x_hat (the UNet's input); res], at the latent's size. */
  private async features(yHat: Float32Array, ys: YShape, H: number, W: number): Promise<Float32Array> {
    const h = H / 8, w = W / 8, dims = [1, ys.channels, ys.height, ys.width];
    const xHat = await this.call(await this.session('synthesis'), { y_hat: { data: yHat, dims } }, 'x_hat', [1, -1, h, w]);
    const res = await this.call(await this.session('aux_decoder'), { y_hat: { data: yHat, dims } }, 'res', [1, 4, h, w]);
    const out = new Float32Array(xHat.data.length + res.data.length);
    out.set(xHat.data);
    out.set(res.data, xHat.data.length);
    return out;
  }

  /** The one-step decode of a condition's features: the x0 latent (model scaling). */
  async oneStepLatent(features: Float32Array, width: number, height: number): Promise<Float32Array> {
    const { height: h, width: w } = this.latentShape(width, height);
    const plane = h * w, cin = features.length / plane - 4;
    if (!Number.isInteger(cin) || cin < 4) throw new RangeError(`condition features of ${features.length} values do not fit a ${h}x${w} latent`);
    const xHat = features.subarray(0, cin * plane), res = features.subarray(cin * plane);
    const unet = await this.session('unet');
    const run = async (x: Float32Array, th: number, tw: number) =>
      (await this.call(unet, { sample: { data: x, dims: [1, cin, th, tw] } }, 'out_sample', [1, 4, th, tw])).data;
    const o = this.oneStep;
    const grid = oneStepGrid(h, w, o.tile, o.overlap);
    let eps: Float32Array;
    if (!grid) eps = Float32Array.from(await run(xHat.slice(), h, w));
    else {
      const tiles: Float32Array[] = [];
      for (const t of grid.tiles) tiles.push(Float32Array.from(await run(cutTile(xHat, cin, h, w, t.y, t.x, grid.size, grid.size), grid.size, grid.size)));
      eps = blendOneStep(grid, tiles, 4, h, w);
    }
    // DDPMScheduler.step to the final sample from t: x0 (its coefficient is 1 and the sample's 0), in float32.
    const ab = Math.fround(this.table[o.timestep]);
    const sb = Math.fround(Math.sqrt(Math.fround(1 - ab))), sa = Math.fround(Math.sqrt(ab));
    const clip = o.clipSample;
    const out = new Float32Array(4 * plane);
    for (let i = 0; i < out.length; i++) {
      let x0 = Math.fround(Math.fround(xHat[i] - Math.fround(sb * eps[i])) / sa);
      if (clip !== null) x0 = Math.min(clip, Math.max(-clip, x0));
      out[i] = x0 + res[i];
    }
    return out;
  }

  /** The one-step decoder bound to one image's condition features. */
  override async predictor(width: number, height: number, cond: Conditioning = {}): Promise<NoisePredictor> {
    return new OneStepPredictor(this, this.latentShape(width, height), cond.condition, width, height);
  }

  protected async makeText(): Promise<undefined> {
    return undefined;
  }

  protected async tileNetwork(): Promise<NoisePredictor> {
    throw new ModelError('family', `${this.info.id}: StableCodec's UNet tiles itself (oneStep)`);
  }
}

/**
 * A NoisePredictor that is the one-step decode: E[x0 | condition] whatever the request's x,
 * computed when a reconstruction asks (once per decode; not kept, so eval times every decode).
 * Nothing else may be asked of it: a StableCodec file codes no chain steps (compressionSettings),
 * so the reconstruction asks only at alpha-bar 0.
 */
class OneStepPredictor implements NoisePredictor {
  readonly id: string;
  readonly hash: Uint8Array;
  readonly prediction = 'x0' as const;
  readonly maxBatch = 1;

  constructor(private readonly model: StableCodecModel, readonly latent: LatentShape, private readonly features: Float32Array | undefined, private readonly width: number, private readonly height: number) {
    this.id = model.info.id;
    this.hash = model.info.hash;
  }

  priorMean(): Promise<Float32Array> {
    if (!this.features) return Promise.reject(new ModelError('family', `${this.id}: a StableCodec decode needs the file's coded condition (.dfc field 17)`));
    return this.model.oneStepLatent(this.features, this.width, this.height);
  }

  async predict(batch: readonly DenoiseRequest[]): Promise<Float32Array[]> {
    if (batch.length) throw new ModelError('family', `${this.id}: StableCodec codes no chain steps; its decoder is the one-step decode of the condition`);
    return [];
  }
}
