/**
 * A locally adaptive denoiser for one latent plane, E[x0 | u] with u = x0 + s n, n white:
 * an undecimated (a trous) B3-spline wavelet split u = c_J + sum_j w_j; each detail band gets a
 * per-pixel Wiener gain from its local energy (windowed mean of w_j^2 minus the band's noise
 * power, shrunk towards the band's prior power: an empirical-Bayes LAWML, Mihcak et al. 1999),
 * and the coarse band the stationary prior's per-coefficient Wiener gain in the DCT. A second
 * pass takes its gains from the first pass's estimate (empirical Wiener), and at high noise, where
 * a window cannot tell signal from noise, each band shares out to the stationary gain. A
 * stationary prior assumes one high-frequency power everywhere, so it leaves grain in flat
 * regions and blurs texture; the local gains fix both.
 * Arithmetic is float64 with + - * / and sqrt only on the data path (Math.cos appears only in
 * constants computed once from the model's parameters), so it is identical on every machine.
 */
import { Dct2 } from '../../codec/analytic/dct.js';

export interface LocalWienerSpec {
  /** Detail levels J (band j has holes 2^(j-1)). */
  readonly levels: number;
  /** Half-width of the square window of each level's local energy, in latent pixels. */
  readonly radius: readonly number[];
  /** Prior weight, in window samples, of the band's stationary power in each local estimate. */
  readonly kappa: number;
  /** Noise over-subtraction in the local energy (> 1 suppresses noise-only fluctuations). */
  readonly beta: number;
  /**
   * Second pass (empirical Wiener, as in BM3D's second stage): each band's gains from the local
   * energy of the first pass's estimate instead of the noisy band's, with window `pilotRadius`.
   */
  readonly pilotRadius?: readonly number[];
  /** Prior SNR at which a band is half local, half stationary (0: all local). */
  readonly mix: number;
}

const B3 = [1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16];

/** Edge-reflected index (half-sample symmetric: -1 -> 0, n -> n - 1), valid for |overshoot| <= n. */
function reflect(i: number, n: number): number {
  if (i < 0) i = -i - 1;
  if (i >= n) i = 2 * n - 1 - i;
  return i < 0 ? 0 : i >= n ? n - 1 : i;
}

/** The 5 reflected tap indices of each of n positions for holes `step` (flattened). */
function tapTable(n: number, step: number): Int32Array {
  const t = new Int32Array(5 * n);
  for (let x = 0; x < n; x++) for (let k = 0; k < 5; k++) t[5 * x + k] = reflect(x + (k - 2) * step, n);
  return t;
}

/** One a trous smoothing: separable B3 spline, rows then columns, taps from tapTable. */
function smooth(src: Float64Array, dst: Float64Array, tmp: Float64Array, h: number, w: number, tx: Int32Array, ty: Int32Array): void {
  const [b0, b1, b2, b3, b4] = B3;
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      const t = 5 * x;
      // Summed in tap order from 0, as a loop over k would.
      let s = 0;
      s += b0 * src[row + tx[t]]; s += b1 * src[row + tx[t + 1]]; s += b2 * src[row + tx[t + 2]];
      s += b3 * src[row + tx[t + 3]]; s += b4 * src[row + tx[t + 4]];
      tmp[row + x] = s;
    }
  }
  for (let y = 0; y < h; y++) {
    const t = 5 * y;
    const r0 = ty[t] * w, r1 = ty[t + 1] * w, r2 = ty[t + 2] * w, r3 = ty[t + 3] * w, r4 = ty[t + 4] * w, o = y * w;
    for (let x = 0; x < w; x++) {
      let s = 0;
      s += b0 * tmp[r0 + x]; s += b1 * tmp[r1 + x]; s += b2 * tmp[r2 + x]; s += b3 * tmp[r3 + x]; s += b4 * tmp[r4 + x];
      dst[o + x] = s;
    }
  }
}

/** Windowed mean of v over (2r+1)^2 with clamped edges: separable running sums. */
function boxMean(v: Float64Array, out: Float64Array, tmp: Float64Array, h: number, w: number, r: number): void {
  const inv = 1 / (2 * r + 1);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    let s = 0;
    for (let k = -r; k <= r; k++) s += v[row + Math.min(w - 1, Math.max(0, k))];
    for (let x = 0; x < w; x++) {
      tmp[row + x] = s * inv;
      s += v[row + Math.min(w - 1, x + r + 1)] - v[row + Math.max(0, x - r)];
    }
  }
  for (let x = 0; x < w; x++) {
    let s = 0;
    for (let k = -r; k <= r; k++) s += tmp[Math.min(h - 1, Math.max(0, k)) * w + x];
    for (let y = 0; y < h; y++) {
      out[y * w + x] = s * inv;
      s += tmp[Math.min(h - 1, y + r + 1) * w + x] - tmp[Math.max(0, y - r) * w + x];
    }
  }
}

/** B3 smoothing's frequency response at f cycles per sample, holes 2^level. */
function b3Response(f: number, level: number): number {
  const t = 2 * Math.PI * f * 2 ** level;
  return (3 + 4 * Math.cos(t) + Math.cos(2 * t)) / 8;
}

export interface BandConstants {
  /** Per detail band: noise power per unit white-noise variance. */
  readonly noise: Float64Array;
  /** Per detail band: mean signal power under the stationary prior. */
  readonly prior: Float64Array;
}

/**
 * Band constants for an h x w plane: each detail band's noise power per unit white-noise variance
 * (the squared norm of its impulse response, measured on an interior delta) and its prior power
 * under the stationary spectrum lambda (DCT grid of the plane, from `offset`).
 */
export function bandConstants(h: number, w: number, levels: number, lambda: Float64Array, offset: number): BandConstants {
  const noise = new Float64Array(levels), prior = new Float64Array(levels);
  const side = 4 * 2 ** levels + 1, n = side * side;
  let c = new Float64Array(n), next = new Float64Array(n);
  const tmp = new Float64Array(n);
  c[(side >> 1) * side + (side >> 1)] = 1;
  for (let j = 0; j < levels; j++) {
    const t = tapTable(side, 2 ** j);
    smooth(c, next, tmp, side, side, t, t);
    let e = 0;
    for (let i = 0; i < n; i++) e += (c[i] - next[i]) ** 2;
    noise[j] = e;
    [c, next] = [next, c];
  }
  const N = h * w;
  for (let u = 0; u < h; u++) {
    for (let v = 0; v < w; v++) {
      const fu = u / (2 * h), fv = v / (2 * w);
      let low = 1;
      for (let j = 0; j < levels; j++) {
        const hj = b3Response(fu, j) * b3Response(fv, j);
        prior[j] += (lambda[offset + u * w + v] * (low * (1 - hj)) ** 2) / N;
        low *= hj;
      }
    }
  }
  return { noise, prior };
}

/** The denoiser for one h x w plane size; holds its scratch buffers (one call at a time). */
export class LocalWiener {
  private readonly dct: Dct2;
  private readonly coef: Float64Array;
  /** Band, next coarse level, scratch, local energy, estimate, stationary remainder. */
  private readonly bufs: Float64Array[];
  /** Second pass: the first pass's estimate and its next coarse level. */
  private readonly pilot: Float64Array[];
  /** Per level: row and column tap tables. */
  private readonly taps: [Int32Array, Int32Array][];

  constructor(readonly h: number, readonly w: number, readonly spec: LocalWienerSpec) {
    if (spec.radius.length !== spec.levels) throw new RangeError(`need ${spec.levels} radii, got ${spec.radius.length}`);
    const n = h * w;
    this.dct = new Dct2(h, w);
    this.coef = new Float64Array(n);
    this.bufs = Array.from({ length: 6 }, () => new Float64Array(n));
    this.pilot = spec.pilotRadius ? Array.from({ length: 2 }, () => new Float64Array(n)) : [];
    this.taps = Array.from({ length: spec.levels }, (_, j) => [tapTable(w, 2 ** j), tapTable(h, 2 ** j)]);
  }

  /**
   * E[x0 | u] for u = x0 + s n, written to out (float32) from `outOffset`. lambda (from `lo`) is
   * the plane's stationary DCT spectrum, band the constants of bandConstants for it.
   */
  denoise(u: Float64Array, s2: number, lambda: Float64Array, lo: number, band: BandConstants, out: Float32Array, outOffset: number): void {
    const n = this.h * this.w, est = this.bufs[4];
    this.pass(u, s2, lambda, lo, band, false);
    if (this.spec.pilotRadius) this.pass(u, s2, lambda, lo, band, true);
    for (let i = 0; i < n; i++) out[outOffset + i] = est[i];
  }

  /**
   * One pass into est. Band j's share w_j of the local estimate is snr_j / (snr_j + mix) for its
   * prior SNR snr_j = prior_j / noise_j: at high noise a window cannot tell signal from noise,
   * and the rest of the band goes through the stationary per-coefficient Wiener gain with the
   * coarse level. The first pass's local gains come from the noisy band's windowed energy
   * (minus beta x its noise power, shrunk towards the prior power with weight kappa); the
   * second's from the windowed energy of the first pass's estimate (empirical Wiener).
   */
  private pass(u: Float64Array, s2: number, lambda: Float64Array, lo: number, band: BandConstants, second: boolean): void {
    const { h, w, spec } = this, n = h * w;
    const [cur, next, tmp, energy, est, rest] = this.bufs;
    const [pc, pn] = this.pilot;
    cur.set(u);
    if (second) pc.set(est);
    est.fill(0);
    rest.fill(0);
    for (let j = 0; j < spec.levels; j++) {
      const [tx, ty] = this.taps[j];
      smooth(cur, next, tmp, h, w, tx, ty);
      if (second) smooth(pc, pn, tmp, h, w, tx, ty);
      for (let i = 0; i < n; i++) {
        const d = cur[i] - next[i];
        cur[i] = d;
        const e = second ? pc[i] - pn[i] : d;
        energy[i] = e * e;
      }
      boxMean(energy, energy, tmp, h, w, second ? spec.pilotRadius![j] : spec.radius[j]);
      const nj = s2 * band.noise[j], pj = band.prior[j];
      const snr = pj / nj, share = spec.mix > 0 ? snr / (snr + spec.mix) : 1;
      if (second) {
        for (let i = 0; i < n; i++) {
          const e = energy[i];
          est[i] += share * (e / (e + nj)) * cur[i];
          rest[i] += (1 - share) * cur[i];
        }
      } else {
        const m = (2 * spec.radius[j] + 1) ** 2, k = spec.kappa, over = spec.beta * nj;
        for (let i = 0; i < n; i++) {
          const local = energy[i] - over;
          const sig = (k * pj + m * (local > 0 ? local : 0)) / (k + m);
          est[i] += share * (sig / (sig + nj)) * cur[i];
          rest[i] += (1 - share) * cur[i];
        }
      }
      cur.set(next);
      if (second) pc.set(pn);
    }
    // The coarse level and the bands' stationary shares: the per-coefficient Wiener gain.
    for (let i = 0; i < n; i++) rest[i] += cur[i];
    this.dct.forward(rest, this.coef);
    for (let k = 0; k < n; k++) {
      const l = lambda[lo + k];
      this.coef[k] *= l / (l + s2);
    }
    this.dct.inverse(this.coef, tmp);
    for (let i = 0; i < n; i++) est[i] += tmp[i];
  }
}
