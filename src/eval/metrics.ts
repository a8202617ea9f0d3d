/**
 * Image quality metrics on RgbImage ([0,1] sRGB values, as stored).
 *   psnr: 10 log10(1 / MSE) over all RGB samples (peak 1.0 = 255 on the 8-bit scale).
 *   msssim: Wang, Simoncelli & Bovik 2003 on each RGB channel, averaged over channels; values on
 *   the 8-bit scale (L = 255, K1 = 0.01, K2 = 0.03), 11-tap Gaussian window sigma 1.5 ('valid'
 *   filtering), 2x2 average pooling between the 5 scales, weights 0.0448 .. 0.1333. Images too
 *   small for 5 scales use as many scales as fit (each needs >= 11 pixels per side) with the
 *   weights renormalised.
 */
import type { RgbImage } from '../image/types.js';

function sameSize(a: RgbImage, b: RgbImage): void {
  if (a.width !== b.width || a.height !== b.height) throw new RangeError(`image sizes differ: ${a.width}x${a.height} vs ${b.width}x${b.height}`);
}

export function mse(a: RgbImage, b: RgbImage): number {
  sameSize(a, b);
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += (a.data[i] - b.data[i]) ** 2;
  return s / a.data.length;
}

export function psnr(a: RgbImage, b: RgbImage): number {
  const m = mse(a, b);
  return m === 0 ? Infinity : 10 * Math.log10(1 / m);
}

const WEIGHTS = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333];
const WIN = (() => {
  const w: number[] = [];
  let s = 0;
  for (let i = -5; i <= 5; i++) { const v = Math.exp(-(i * i) / (2 * 1.5 * 1.5)); w.push(v); s += v; }
  return w.map((v) => v / s);
})();

/** Separable 'valid' Gaussian filtering of a plane. */
function filter(x: Float64Array, w: number, h: number): { out: Float64Array; w: number; h: number } {
  const ow = w - 10, oh = h - 10;
  const tmp = new Float64Array(ow * h);
  for (let y = 0; y < h; y++) for (let o = 0; o < ow; o++) {
    let s = 0;
    for (let k = 0; k < 11; k++) s += WIN[k] * x[y * w + o + k];
    tmp[y * ow + o] = s;
  }
  const out = new Float64Array(ow * oh);
  for (let o = 0; o < oh; o++) for (let xx = 0; xx < ow; xx++) {
    let s = 0;
    for (let k = 0; k < 11; k++) s += WIN[k] * tmp[(o + k) * ow + xx];
    out[o * ow + xx] = s;
  }
  return { out, w: ow, h: oh };
}

/** Mean SSIM and mean contrast-structure term of two planes (8-bit scale). */
function ssimTerms(x: Float64Array, y: Float64Array, w: number, h: number): { ssim: number; cs: number } {
  const C1 = (0.01 * 255) ** 2, C2 = (0.03 * 255) ** 2;
  const n = w * h;
  const xx = new Float64Array(n), yy = new Float64Array(n), xy = new Float64Array(n);
  for (let i = 0; i < n; i++) { xx[i] = x[i] * x[i]; yy[i] = y[i] * y[i]; xy[i] = x[i] * y[i]; }
  const mx = filter(x, w, h), my = filter(y, w, h), sxx = filter(xx, w, h).out, syy = filter(yy, w, h).out, sxy = filter(xy, w, h).out;
  let ssim = 0, cs = 0;
  const m = mx.w * mx.h;
  for (let i = 0; i < m; i++) {
    const ux = mx.out[i], uy = my.out[i];
    const vx = sxx[i] - ux * ux, vy = syy[i] - uy * uy, cxy = sxy[i] - ux * uy;
    const c = (2 * cxy + C2) / (vx + vy + C2);
    cs += c;
    ssim += ((2 * ux * uy + C1) / (ux * ux + uy * uy + C1)) * c;
  }
  return { ssim: ssim / m, cs: cs / m };
}

function pool(x: Float64Array, w: number, h: number): { p: Float64Array; w: number; h: number } {
  const ow = Math.floor(w / 2), oh = Math.floor(h / 2), p = new Float64Array(ow * oh);
  for (let y = 0; y < oh; y++) for (let xx = 0; xx < ow; xx++) {
    p[y * ow + xx] = (x[2 * y * w + 2 * xx] + x[2 * y * w + 2 * xx + 1] + x[(2 * y + 1) * w + 2 * xx] + x[(2 * y + 1) * w + 2 * xx + 1]) / 4;
  }
  return { p, w: ow, h: oh };
}

export function msssim(a: RgbImage, b: RgbImage): number {
  sameSize(a, b);
  let scales = 0;
  for (let w = a.width, h = a.height; scales < 5 && w >= 11 && h >= 11; scales++, w = Math.floor(w / 2), h = Math.floor(h / 2));
  if (scales === 0) throw new RangeError(`MS-SSIM needs at least 11x11 pixels, got ${a.width}x${a.height}`);
  const weights = WEIGHTS.slice(0, scales);
  const wsum = weights.reduce((s, v) => s + v, 0);
  let total = 0;
  for (let c = 0; c < 3; c++) {
    let x: Float64Array = new Float64Array(a.width * a.height), y: Float64Array = new Float64Array(a.width * a.height);
    for (let i = 0; i < x.length; i++) { x[i] = a.data[i * 3 + c] * 255; y[i] = b.data[i * 3 + c] * 255; }
    let w = a.width, h = a.height, value = 1;
    for (let s = 0; s < scales; s++) {
      const t = ssimTerms(x, y, w, h);
      const term = s === scales - 1 ? t.ssim : t.cs;
      value *= Math.max(term, 0) ** (weights[s] / wsum);
      if (s < scales - 1) {
        const px = pool(x, w, h), py = pool(y, w, h);
        x = px.p; y = py.p; w = px.w; h = px.h;
      }
    }
    total += value;
  }
  return total / 3;
}
