/**
 * An exact test source: stationary-like Gaussian images with a 1/f^2 power spectrum, defined in
 * the orthonormal 2-D DCT-II basis where coefficient k has variance lambda_k (mean 1 per pixel).
 * Everything the codec needs is closed-form here:
 *   E[x0 | x_t] per coefficient: sqrt(ab) lambda / (ab lambda + 1 - ab) * y   (Wiener gain)
 *   MMSE per coefficient:        lambda (1 - ab) / (ab lambda + 1 - ab)
 *   I(x0; x_t) = sum 1/2 log2(1 + SNR lambda)   (the ideal DiffC rate, by I-MMSE)
 *   R(D) by reverse water-filling (Cover & Thomas 10.3.3).
 */
import type { NoisePredictor, DenoiseRequest, LatentShape } from '../model.js';
import type { PredictionKind } from '../diffusion/prediction.js';
import { epsFromX0 } from '../diffusion/prediction.js';
import { posteriorCoefficients } from '../diffusion/step-math.js';
import { Dct2 } from './dct.js';

export interface GaussianImageModelOptions {
  /** Image side (square, one channel). */
  size: number;
  /** Spectrum lambda ∝ 1 / (f^2 + f0^2)^(exponent/2), f the DCT frequency radius. */
  exponent?: number;
  f0?: number;
  /** What predict() returns, to exercise the converters; the math is exact for each. */
  prediction?: PredictionKind;
  maxBatch?: number;
}

export class GaussianImageModel implements NoisePredictor {
  readonly id: string;
  readonly hash: Uint8Array;
  readonly latent: LatentShape;
  readonly prediction: PredictionKind;
  readonly maxBatch: number;
  readonly lambda: Float64Array;
  readonly n: number;
  private readonly dct: Dct2;
  predictCalls = 0;

  constructor(opts: GaussianImageModelOptions) {
    const size = opts.size;
    if (!Number.isInteger(size) || size < 2 || size > 256) throw new RangeError(`size ${size} outside [2, 256]`);
    const exponent = opts.exponent ?? 2;
    const f0 = opts.f0 ?? 1;
    this.n = size * size;
    this.prediction = opts.prediction ?? 'x0';
    this.maxBatch = opts.maxBatch ?? 64;
    this.latent = { channels: 1, height: size, width: size };
    this.id = `analytic-gauss-${size}-p${exponent}-f${f0}`;
    this.hash = fnvHash8(this.id);
    const lambda = new Float64Array(this.n);
    let sum = 0;
    for (let u = 0; u < size; u++) {
      for (let v = 0; v < size; v++) {
        const l = 1 / (u * u + v * v + f0 * f0) ** (exponent / 2);
        lambda[u * size + v] = l;
        sum += l;
      }
    }
    for (let k = 0; k < this.n; k++) lambda[k] *= this.n / sum;
    this.lambda = lambda;
    this.dct = new Dct2(size, size);
  }

  /** An image x0 = IDCT(sqrt(lambda) * z) from standard normals z. */
  sample(z: Float32Array): Float32Array {
    const coef = new Float64Array(this.n);
    for (let k = 0; k < this.n; k++) coef[k] = Math.sqrt(this.lambda[k]) * z[k];
    return Float32Array.from(this.inverse(coef));
  }

  forward(x: ArrayLike<number>): Float64Array {
    return this.dct.forward(x);
  }

  inverse(y: ArrayLike<number>): Float64Array {
    return this.dct.inverse(y) as Float64Array;
  }

  /** Exact E[x0 | x_t = x] at level ab. */
  posteriorMean(x: Float32Array, ab: number): Float32Array {
    const y = this.forward(x);
    const a = Math.sqrt(ab);
    for (let k = 0; k < this.n; k++) y[k] *= (a * this.lambda[k]) / (ab * this.lambda[k] + 1 - ab);
    return Float32Array.from(this.inverse(y));
  }

  async predict(batch: readonly DenoiseRequest[]): Promise<Float32Array[]> {
    this.predictCalls += batch.length;
    return batch.map(({ x, alphaBar }) => {
      const x0 = this.posteriorMean(x, alphaBar);
      switch (this.prediction) {
        case 'x0': return x0;
        case 'eps': return epsFromX0(x0, x, alphaBar);
        case 'v': {
          const eps = epsFromX0(x0, x, alphaBar);
          const a = Math.sqrt(alphaBar), b = Math.sqrt(1 - alphaBar);
          return eps.map((e, i) => a * e - b * x0[i]);
        }
        case 'flow': {
          // velocity = eps - x0 in the flow parameterisation (same eps, same x0).
          const eps = epsFromX0(x0, x, alphaBar);
          return eps.map((e, i) => e - x0[i]);
        }
      }
    });
  }

  /** Total (summed over pixels) MMSE of E[x0|x_t] at level ab; ab = 0 gives total variance. */
  mmse(ab: number): number {
    let s = 0;
    for (let k = 0; k < this.n; k++) s += (this.lambda[k] * (1 - ab)) / (ab * this.lambda[k] + 1 - ab);
    return s;
  }

  /** I(x0; x_t) in bits. */
  mutualInformationBits(ab: number): number {
    const snr = ab / (1 - ab);
    let s = 0;
    for (let k = 0; k < this.n; k++) s += 0.5 * Math.log2(1 + snr * this.lambda[k]);
    return s;
  }

  /** E[KL(q(x_s|x_t,x0) || p(x_s|x_t))] in bits under this source, for ab_t -> ab_s. */
  expectedStepKlBits(abT: number, abS: number): number {
    const c = posteriorCoefficients(abT, abS);
    return (0.5 * (c.cX0 / c.sigma) ** 2 * this.mmse(abT)) / Math.LN2;
  }
}

/** Shannon R(D) of the source in bits for a total squared error D (reverse water-filling). */
export function rateDistortionBits(lambda: Float64Array, totalDistortion: number): number {
  const theta = waterLevel(lambda, totalDistortion);
  let r = 0;
  for (const l of lambda) if (l > theta) r += 0.5 * Math.log2(l / theta);
  return r;
}

/** D(R): the least total squared error reachable with `bits` bits. */
export function distortionRateTotal(lambda: Float64Array, bits: number): number {
  let lo = 1e-12, hi = Math.max(...lambda);
  for (let it = 0; it < 200; it++) {
    const mid = Math.sqrt(lo * hi);
    let r = 0;
    for (const l of lambda) if (l > mid) r += 0.5 * Math.log2(l / mid);
    if (r > bits) lo = mid; else hi = mid;
  }
  let d = 0;
  for (const l of lambda) d += Math.min(l, hi);
  return d;
}

function waterLevel(lambda: Float64Array, total: number): number {
  let sum = 0;
  for (const l of lambda) sum += l;
  if (total >= sum) return Math.max(...lambda);
  let lo = 0, hi = Math.max(...lambda);
  for (let it = 0; it < 200; it++) {
    const mid = (lo + hi) / 2;
    let d = 0;
    for (const l of lambda) d += Math.min(l, mid);
    if (d > total) hi = mid; else lo = mid;
  }
  return (lo + hi) / 2;
}

/** 8-byte FNV-1a-64 of a string: a stable identity hash for models defined by code. */
export function fnvHash8(s: string): Uint8Array {
  let h = 0xcbf29ce484222325n;
  const bytes = new TextEncoder().encode(s);
  for (const b of bytes) h = BigInt.asUintN(64, (h ^ BigInt(b)) * 0x100000001b3n);
  const out = new Uint8Array(8);
  for (let i = 0; i < 8; i++) out[i] = Number((h >> BigInt(8 * (7 - i))) & 0xffn);
  return out;
}
