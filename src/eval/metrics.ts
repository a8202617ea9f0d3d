/**
 * Image quality metrics on RgbImage (sRGB-encoded values in [0,1], compared as stored; no
 * colour conversion, no rounding to 8 bits first).
 *
 *   mse    mean of squared differences over all R, G, B samples, in [0,1] units.
 *   psnr   10 log10(peak^2 / mse) with peak 1.0, which on data scaled from 8-bit is the usual
 *          8-bit PSNR (peak 255 on 0..255). Identical images give Infinity.
 *   ssim   Wang et al. 2004, Gaussian window 11 taps, sigma 1.5, 'valid' filtering (no padding),
 *          K1 = 0.01, K2 = 0.03, dynamic range L = 1 (= 255 on the 8-bit scale); per channel,
 *          averaged over R, G, B.
 *   msssim Wang, Simoncelli & Bovik 2003: the SSIM above at 5 scales, contrast-structure terms at
 *          scales 1..4 and the full SSIM at scale 5, weights [0.0448, 0.2856, 0.3001, 0.2363,
 *          0.1333]; between scales a 2x2 mean then 2x subsampling, odd sizes rounded up by
 *          repeating the last row/column (the reference MATLAB's imfilter 'symmetric' + 1:2:end).
 *          Negative terms are clamped to 0 before the fractional powers. Computed on each RGB
 *          channel and averaged (not on luma).
 *          Small images: a scale is used only if both sides are still >= 11 there (the window
 *          must fit). With fewer than 5 scales the first k weights are renormalised to sum to 1
 *          (k = 1 is plain SSIM). Below 11x11 there is no scale: RangeError.
 */
import type { RgbImage } from '../image/types.js';

function sameSize(a: RgbImage, b: RgbImage): void {
  if (a.width !== b.width || a.height !== b.height) throw new RangeError(`image sizes differ: ${a.width}x${a.height} vs ${b.width}x${b.height}`);
  if (a.data.length !== a.width * a.height * 3 || b.data.length !== a.data.length) throw new RangeError('image data length does not match width x height x 3');
}

export function mse(a: RgbImage, b: RgbImage): number {
  sameSize(a, b);
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += (a.data[i] - b.data[i]) ** 2;
  return s / a.data.length;
}

/** In dB; peak 1.0 on [0,1] data = 8-bit PSNR. Infinity for identical images. */
export function psnr(a: RgbImage, b: RgbImage): number {
  const m = mse(a, b);
  return m === 0 ? Infinity : -10 * Math.log10(m);
}

export const MSSSIM_WEIGHTS: readonly number[] = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333];
const WINDOW = 11, C1 = 0.01 ** 2, C2 = 0.03 ** 2;
const GAUSS = (() => {
  const w = Array.from({ length: WINDOW }, (_, i) => Math.exp(-((i - 5) ** 2) / (2 * 1.5 * 1.5)));
  const s = w.reduce((p, v) => p + v, 0);
  return w.map((v) => v / s);
})();

interface Plane { readonly v: Float64Array; readonly w: number; readonly h: number }

/** Separable 'valid' Gaussian filtering: the output is (w - 10) x (h - 10). */
function blur(p: Plane): Float64Array {
  const ow = p.w - WINDOW + 1, oh = p.h - WINDOW + 1;
  const tmp = new Float64Array(ow * p.h);
  for (let y = 0; y < p.h; y++) {
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let k = 0; k < WINDOW; k++) s += GAUSS[k] * p.v[y * p.w + x + k];
      tmp[y * ow + x] = s;
    }
  }
  const out = new Float64Array(ow * oh);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let k = 0; k < WINDOW; k++) s += GAUSS[k] * tmp[(y + k) * ow + x];
      out[y * ow + x] = s;
    }
  }
  return out;
}

/** Mean SSIM and mean contrast-structure term of two planes. */
function ssimTerms(x: Plane, y: Plane): { ssim: number; cs: number } {
  const n = x.w * x.h;
  const xx = new Float64Array(n), yy = new Float64Array(n), xy = new Float64Array(n);
  for (let i = 0; i < n; i++) { xx[i] = x.v[i] * x.v[i]; yy[i] = y.v[i] * y.v[i]; xy[i] = x.v[i] * y.v[i]; }
  const like = (v: Float64Array): Plane => ({ v, w: x.w, h: x.h });
  const mx = blur(x), my = blur(y), sxx = blur(like(xx)), syy = blur(like(yy)), sxy = blur(like(xy));
  let ssim = 0, cs = 0;
  for (let i = 0; i < mx.length; i++) {
    const ux = mx[i], uy = my[i];
    const vx = sxx[i] - ux * ux, vy = syy[i] - uy * uy, cxy = sxy[i] - ux * uy;
    const c = (2 * cxy + C2) / (vx + vy + C2);
    cs += c;
    ssim += ((2 * ux * uy + C1) / (ux * ux + uy * uy + C1)) * c;
  }
  return { ssim: ssim / mx.length, cs: cs / mx.length };
}

/** 2x2 mean then every other sample; an odd last row/column is paired with itself. */
function downsample(p: Plane): Plane {
  const w = Math.ceil(p.w / 2), h = Math.ceil(p.h / 2), v = new Float64Array(w * h);
  for (let y = 0; y < h; y++) {
    const y0 = 2 * y, y1 = Math.min(2 * y + 1, p.h - 1);
    for (let x = 0; x < w; x++) {
      const x0 = 2 * x, x1 = Math.min(2 * x + 1, p.w - 1);
      v[y * w + x] = (p.v[y0 * p.w + x0] + p.v[y0 * p.w + x1] + p.v[y1 * p.w + x0] + p.v[y1 * p.w + x1]) / 4;
    }
  }
  return { v, w, h };
}

function channel(img: RgbImage, c: number): Plane {
  const v = new Float64Array(img.width * img.height);
  for (let i = 0; i < v.length; i++) v[i] = img.data[i * 3 + c];
  return { v, w: img.width, h: img.height };
}

/** How many MS-SSIM scales fit: both sides >= 11 at each, at most 5. */
export function msssimScales(width: number, height: number): number {
  let s = 0;
  for (let w = width, h = height; s < MSSSIM_WEIGHTS.length && w >= WINDOW && h >= WINDOW; s++, w = Math.ceil(w / 2), h = Math.ceil(h / 2));
  return s;
}

/** Single-scale SSIM, averaged over R, G, B. */
export function ssim(a: RgbImage, b: RgbImage): number {
  sameSize(a, b);
  if (a.width < WINDOW || a.height < WINDOW) throw new RangeError(`SSIM needs at least ${WINDOW}x${WINDOW} pixels, got ${a.width}x${a.height}`);
  let total = 0;
  for (let c = 0; c < 3; c++) total += ssimTerms(channel(a, c), channel(b, c)).ssim;
  return total / 3;
}

export function msssim(a: RgbImage, b: RgbImage): number {
  sameSize(a, b);
  const scales = msssimScales(a.width, a.height);
  if (scales === 0) throw new RangeError(`MS-SSIM needs at least ${WINDOW}x${WINDOW} pixels, got ${a.width}x${a.height}`);
  const used = MSSSIM_WEIGHTS.slice(0, scales);
  const sum = used.reduce((p, v) => p + v, 0);
  // The standard weights are used as published (they sum to 1.0001); only a cut set is renormalised.
  const weights = scales === MSSSIM_WEIGHTS.length ? used : used.map((v) => v / sum);
  let total = 0;
  for (let c = 0; c < 3; c++) {
    let x = channel(a, c), y = channel(b, c), value = 1;
    for (let s = 0; s < scales; s++) {
      const t = ssimTerms(x, y);
      value *= Math.max(s === scales - 1 ? t.ssim : t.cs, 0) ** weights[s];
      if (s < scales - 1) { x = downsample(x); y = downsample(y); }
    }
    total += value;
  }
  return total / 3;
}
