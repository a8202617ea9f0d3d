/**
 * Bjontegaard deltas between two rate-quality curves, with piecewise cubic Hermite (PCHIP)
 * interpolation as in the JCT-VC/JVET common test conditions: log rate is interpolated as a
 * function of quality (BD-rate) or quality as a function of log rate (BD-quality) over each
 * curve's points, and the two are averaged over the interval both curves cover.
 * BD-rate is the average rate change of `test` against `anchor` at equal quality, in percent
 * (negative: test needs fewer bits). Pure; no I/O.
 */

export interface RdPoint {
  /** Any rate unit (bpp, kbit/s), the same for both curves. */
  readonly rate: number;
  /** The quality score; for metrics where lower is better (Butteraugli), pass `lowerIsBetter`. */
  readonly quality: number;
}

export interface BdOptions {
  readonly lowerIsBetter?: boolean;
}

export type BdResult =
  | { readonly value: number; readonly overlap: number }
  | { readonly value: null; readonly overlap: number; readonly reason: string };

export class BdRateError extends Error {
  override readonly name = 'BdRateError';
}

/** A monotone cubic through (x, y), x strictly increasing (Fritsch-Carlson slopes, SciPy's edge rule). */
export class Pchip {
  private readonly d: number[];

  constructor(private readonly x: readonly number[], private readonly y: readonly number[]) {
    const n = x.length;
    if (n < 2 || y.length !== n) throw new BdRateError(`PCHIP needs at least 2 points with one value each, got ${n} and ${y.length}`);
    for (let i = 1; i < n; i++) {
      if (!(x[i] > x[i - 1])) throw new BdRateError(`PCHIP abscissae must increase strictly (${x[i - 1]}, then ${x[i]})`);
    }
    const h = x.slice(1).map((v, i) => v - x[i]);
    const m = h.map((hi, i) => (y[i + 1] - y[i]) / hi);
    if (n === 2) {
      this.d = [m[0], m[0]];
      return;
    }
    const d = new Array<number>(n).fill(0);
    for (let k = 1; k < n - 1; k++) {
      if (m[k - 1] * m[k] <= 0) continue; // a local extremum or a flat piece: zero slope keeps it monotone
      const w1 = 2 * h[k] + h[k - 1], w2 = h[k] + 2 * h[k - 1];
      d[k] = (w1 + w2) / (w1 / m[k - 1] + w2 / m[k]);
    }
    d[0] = edgeSlope(h[0], h[1], m[0], m[1]);
    d[n - 1] = edgeSlope(h[n - 2], h[n - 3], m[n - 2], m[n - 3]);
    this.d = d;
  }

  /** The integral of the interpolant over [a, b], both inside the data's range. */
  integrate(a: number, b: number): number {
    const { x } = this;
    if (a < x[0] || b > x[x.length - 1] || a > b) throw new BdRateError(`integration bounds [${a}, ${b}] outside [${x[0]}, ${x[x.length - 1]}]`);
    let s = 0;
    for (let k = 0; k < x.length - 1; k++) {
      const lo = Math.max(a, x[k]), hi = Math.min(b, x[k + 1]);
      if (hi > lo) s += this.segmentPrimitive(k, hi) - this.segmentPrimitive(k, lo);
    }
    return s;
  }

  /** Antiderivative of segment k's cubic from x_k to `at`, via the Hermite basis in t. */
  private segmentPrimitive(k: number, at: number): number {
    const h = this.x[k + 1] - this.x[k];
    const t = (at - this.x[k]) / h;
    const t2 = t * t, t3 = t2 * t, t4 = t3 * t;
    const H00 = t4 / 2 - t3 + t, H10 = t4 / 4 - (2 * t3) / 3 + t2 / 2, H01 = -t4 / 2 + t3, H11 = t4 / 4 - t3 / 3;
    return h * (H00 * this.y[k] + H10 * h * this.d[k] + H01 * this.y[k + 1] + H11 * h * this.d[k + 1]);
  }
}

/** One-sided three-point slope at an end, clipped so the end piece stays shape-preserving. */
function edgeSlope(h0: number, h1: number, m0: number, m1: number): number {
  const d = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1);
  if (Math.sign(d) !== Math.sign(m0)) return 0;
  if (Math.sign(m0) !== Math.sign(m1) && Math.abs(d) > 3 * Math.abs(m0)) return 3 * m0;
  return d;
}

function curve(points: readonly RdPoint[], which: string, opts: BdOptions): { q: number[]; lr: number[] } {
  if (points.length < 2) throw new BdRateError(`${which}: BD needs at least 2 rate-quality points, got ${points.length}`);
  for (const p of points) {
    if (!(p.rate > 0) || !Number.isFinite(p.rate)) throw new BdRateError(`${which}: rate ${p.rate} is not a positive number`);
    if (!Number.isFinite(p.quality)) throw new BdRateError(`${which}: quality ${p.quality} is not a finite number`);
  }
  const sign = opts.lowerIsBetter ? -1 : 1;
  // The same point twice (a baseline at its floor for two targets) is one measurement.
  const distinct = points.filter((p, i) => points.findIndex((o) => o.rate === p.rate && o.quality === p.quality) === i);
  if (distinct.length < 2) throw new BdRateError(`${which}: BD needs at least 2 distinct rate-quality points, got ${distinct.length}`);
  const sorted = distinct.sort((a, b) => sign * a.quality - sign * b.quality);
  const q = sorted.map((p) => sign * p.quality);
  const dup = q.findIndex((v, i) => i > 0 && v === q[i - 1]);
  if (dup > 0) throw new BdRateError(`${which}: two points with quality ${sorted[dup].quality}: BD needs one rate per quality`);
  return { q, lr: sorted.map((p) => Math.log(p.rate)) };
}

function sortedBy(xs: readonly number[], ys: readonly number[]): { x: number[]; y: number[] } {
  const idx = xs.map((_, i) => i).sort((a, b) => xs[a] - xs[b]);
  return { x: idx.map((i) => xs[i]), y: idx.map((i) => ys[i]) };
}

/** The average of g_test - g_anchor over the overlap of their domains, or null without one. */
function averageGap(xa: number[], ya: number[], xt: number[], yt: number[]): BdResult {
  const lo = Math.max(xa[0], xt[0]), hi = Math.min(xa.at(-1)!, xt.at(-1)!);
  const span = Math.max(xa.at(-1)!, xt.at(-1)!) - Math.min(xa[0], xt[0]);
  const overlap = span > 0 ? Math.max(0, hi - lo) / span : 0;
  if (!(hi > lo)) return { value: null, overlap, reason: 'the curves do not overlap' };
  const fa = new Pchip(xa, ya), ft = new Pchip(xt, yt);
  return { value: (ft.integrate(lo, hi) - fa.integrate(lo, hi)) / (hi - lo), overlap };
}

/** BD-rate of `test` against `anchor` in percent, at equal quality. */
export function bdRate(anchor: readonly RdPoint[], test: readonly RdPoint[], opts: BdOptions = {}): BdResult {
  const a = curve(anchor, 'anchor', opts), t = curve(test, 'test', opts);
  const r = averageGap(a.q, a.lr, t.q, t.lr);
  return r.value === null ? r : { value: 100 * (Math.exp(r.value) - 1), overlap: r.overlap };
}

/** BD-quality (BD-PSNR for PSNR): the mean of test minus anchor quality at equal rate, in the metric's units. */
export function bdQuality(anchor: readonly RdPoint[], test: readonly RdPoint[], opts: BdOptions = {}): BdResult {
  const a = curve(anchor, 'anchor', opts), t = curve(test, 'test', opts);
  const sa = sortedBy(a.lr, a.q), st = sortedBy(t.lr, t.q);
  const sign = opts.lowerIsBetter ? -1 : 1;
  const r = averageGap(sa.x, sa.y, st.x, st.y);
  return r.value === null ? r : { value: sign * r.value, overlap: r.overlap };
}

/**
 * BD-rate of `test` against every other codec of `curves`, per metric, in percent (rounded to
 * 0.01): { anchor: { metric: value } }, null where the curves do not overlap or cannot be
 * interpolated (fewer than 2 points, a repeated score).
 */
export function bdRateTable(
  curves: Readonly<Record<string, readonly Readonly<Record<string, number | null>>[]>>, test: string,
  metrics: readonly { readonly key: string; readonly lowerIsBetter?: boolean }[], rateKey = 'bpp',
): Record<string, Record<string, number | null>> {
  const points = (codec: string, key: string): RdPoint[] => (curves[codec] ?? []).flatMap((p) => {
    const rate = p[rateKey], quality = p[key];
    return typeof rate === 'number' && typeof quality === 'number' ? [{ rate, quality }] : [];
  });
  const out: Record<string, Record<string, number | null>> = {};
  for (const anchor of Object.keys(curves)) {
    if (anchor === test) continue;
    out[anchor] = {};
    for (const m of metrics) {
      let v: number | null = null;
      try {
        const r = bdRate(points(anchor, m.key), points(test, m.key), { lowerIsBetter: m.lowerIsBetter });
        v = r.value === null ? null : +r.value.toFixed(2);
      } catch (e) {
        if (!(e instanceof BdRateError)) throw e;
      }
      out[anchor][m.key] = v;
    }
  }
  return out;
}
