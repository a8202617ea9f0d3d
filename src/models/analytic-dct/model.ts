/**
 * The embedded models: image priors that need no download. The "autoencoder" is box-downsampling
 * + opponent colour (colour.ts). The prior has a fitted power-law spectrum; version 1 takes it as
 * stationary, diagonal in each channel's 2-D DCT, so its denoiser at every noise level is a
 * per-coefficient Wiener gain: E[x0|x_t] = sqrt(ab) l / (ab l + 1 - ab) y. Version 2 (the default)
 * adapts the gains to local energy (local-wiener.ts) and back-projects its decode.
 */
import type { NoisePredictor, DenoiseRequest, LatentShape } from '../../codec/model.js';
import { Dct2 } from '../../codec/analytic/dct.js';
import { tiledPredictor, type TileSpecInput } from '../../codec/tiling/index.js';
import { posteriorCoefficients } from '../../codec/diffusion/step-math.js';
import { alphaBars, SD_SCHEDULE } from '../../codec/schedule/ddpm.js';
import type { RgbImage } from '../../image/types.js';
import type { CodingDefaults, DiffusionModel, ModelInfo } from '../types.js';
import { guidanceDefaults, type GuidanceDefaults } from '../guidance.js';
import { priorVariances, type DctModelParams, type LocalWienerParams } from './params.js';
import { imageToLatent, latentToLowRes, upsampleBackProjected } from './colour.js';
import { LocalWiener, bandConstants } from './local-wiener.js';

export interface DctModelOptions {
  readonly id: string;
  readonly hash: Uint8Array;
  readonly params: DctModelParams;
  /** The manifest's defaults (guidance ones optional: the family's, which the model ignores). */
  readonly defaults: CodingDefaults & Partial<GuidanceDefaults>;
  /** Latent tiles of the prior: the Wiener filter runs per tile and the tiles are blended. */
  readonly tiling: TileSpecInput;
}

class DctPredictor implements NoisePredictor {
  readonly prediction = 'x0' as const;
  readonly maxBatch = 16;
  readonly latent: LatentShape;
  private readonly dct: Dct2;
  private readonly coef: Float64Array;
  calls = 0;

  constructor(readonly id: string, readonly hash: Uint8Array, readonly lambda: Float64Array, h: number, w: number) {
    this.latent = { channels: 3, height: h, width: w };
    this.dct = new Dct2(h, w);
    this.coef = new Float64Array(h * w);
  }

  async predict(batch: readonly DenoiseRequest[]): Promise<Float32Array[]> {
    this.calls += batch.length;
    return batch.map((r) => this.posteriorMean(r.x, r.alphaBar));
  }

  posteriorMean(x: Float32Array, ab: number): Float32Array {
    const { height: h, width: w } = this.latent, n = h * w, a = Math.sqrt(ab);
    const out = new Float32Array(3 * n);
    for (let c = 0; c < 3; c++) {
      this.dct.forward(x, this.coef, c * n);
      for (let k = 0; k < n; k++) {
        const l = this.lambda[c * n + k];
        this.coef[k] *= (a * l) / (ab * l + 1 - ab);
      }
      this.dct.inverse(this.coef, out, c * n);
    }
    return out;
  }

  /** Sum over coefficients of the MMSE of E[x0|x_t] at level ab. */
  mmse(ab: number): number {
    let s = 0;
    for (const l of this.lambda) s += (l * (1 - ab)) / (ab * l + 1 - ab);
    return s;
  }
}

/** Version 2's predictor for one tile size: the locally adaptive denoiser per channel. */
class LocalWienerPredictor implements NoisePredictor {
  readonly prediction = 'x0' as const;
  readonly maxBatch = 16;
  readonly latent: LatentShape;
  private readonly filter: LocalWiener;
  private readonly bands: ReturnType<typeof bandConstants>[];
  private readonly u: Float64Array;

  constructor(readonly id: string, readonly hash: Uint8Array, private readonly lambda: Float64Array, h: number, w: number, spec: LocalWienerParams) {
    this.latent = { channels: 3, height: h, width: w };
    this.filter = new LocalWiener(h, w, spec);
    this.bands = [0, 1, 2].map((c) => bandConstants(h, w, spec.levels, lambda, c * h * w));
    this.u = new Float64Array(h * w);
  }

  async predict(batch: readonly DenoiseRequest[]): Promise<Float32Array[]> {
    return batch.map((r) => {
      const n = this.latent.height * this.latent.width, a = Math.sqrt(r.alphaBar), s2 = (1 - r.alphaBar) / r.alphaBar;
      const out = new Float32Array(3 * n);
      for (let c = 0; c < 3; c++) {
        // u = x_t / sqrt(ab) = x0 + s n with s^2 = (1 - ab) / ab.
        for (let i = 0; i < n; i++) this.u[i] = r.x[c * n + i] / a;
        this.filter.denoise(this.u, s2, this.lambda, c * n, this.bands[c], out, c * n);
      }
      return out;
    });
  }
}

export class DctModel implements DiffusionModel {
  readonly info: ModelInfo;
  readonly table = alphaBars(SD_SCHEDULE);
  private readonly predictors = new Map<string, Promise<NoisePredictor>>();

  constructor(private readonly opts: DctModelOptions) {
    const d = opts.params.downsample;
    this.info = {
      id: opts.id, family: 'analytic-dct', hash: opts.hash, prediction: 'x0',
      latentChannels: 3, downsample: d, sizeMultiple: d, defaults: { ...opts.defaults, ...guidanceDefaults('analytic-dct', opts.defaults) },
    };
  }

  /** The fitted prior (benchmarks build variants of the model from it). */
  get params(): DctModelParams {
    return this.opts.params;
  }

  latentShape(width: number, height: number): LatentShape {
    const d = this.opts.params.downsample;
    if (width % d || height % d) throw new RangeError(`${width}x${height} is not a multiple of ${d}`);
    return { channels: 3, height: height / d, width: width / d };
  }

  async encode(images: readonly RgbImage[]): Promise<Float32Array[]> {
    return images.map((img) => imageToLatent(img, this.opts.params.downsample, this.opts.params.scale));
  }

  async decode(latents: readonly Float32Array[], width: number, height: number): Promise<RgbImage[]> {
    const { height: h, width: w } = this.latentShape(width, height);
    const d = this.opts.params.downsample;
    return latents.map((l) => ({
      width, height, bitDepth: 8 as const,
      data: upsampleBackProjected(latentToLowRes(l, w, h, this.opts.params.scale), w, h, d, this.rounds),
    }));
  }

  private get rounds(): number {
    return this.opts.params.version === 2 ? this.opts.params.backProjection : 0;
  }

  /** Whole-latent filter up to one tile; above it, tiles of the bundle's tiling blended. */
  predictor(width: number, height: number): Promise<NoisePredictor> {
    const key = `${width}x${height}`;
    let p = this.predictors.get(key);
    if (!p) {
      const latent = this.latentShape(width, height);
      const prm = this.opts.params;
      p = tiledPredictor(latent, this.opts.tiling, async (h, w) => prm.version === 2
        ? new LocalWienerPredictor(this.opts.id, this.opts.hash, priorVariances(prm, h, w), h, w, prm.denoiser)
        : new DctPredictor(this.opts.id, this.opts.hash, priorVariances(prm, h, w), h, w));
      this.predictors.set(key, p);
    }
    return p;
  }

  /**
   * The stationary prior's closed-form KL per step (protocol plans, the schedule optimiser). For
   * version 2 it is an upper bound: the adaptive denoiser's error is below the Wiener MMSE.
   */
  expectedStepKlBits(width: number, height: number, abT: number, abS: number): number {
    const { height: h, width: w } = this.latentShape(width, height);
    const lambda = this.wholeVariances(h, w);
    let mmse = 0;
    for (const l of lambda) mmse += (l * (1 - abT)) / (abT * l + 1 - abT);
    const c = posteriorCoefficients(abT, abS);
    return (0.5 * (c.cX0 / c.sigma) ** 2 * mmse) / Math.LN2;
  }

  /**
   * The whole-latent prior variances, kept for the last size asked: protocol plans call
   * expectedStepKlBits once per step, and recomputing them cost 0.26 s a call at 4K.
   */
  private wholeVariances(h: number, w: number): Float64Array {
    if (this.variances?.h !== h || this.variances.w !== w) this.variances = { h, w, lambda: priorVariances(this.opts.params, h, w) };
    return this.variances.lambda;
  }

  private variances?: { readonly h: number; readonly w: number; readonly lambda: Float64Array };

  async close(): Promise<void> {
    this.variances = undefined;
    this.predictors.clear();
  }
}
