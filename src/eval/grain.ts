/**
 * Grain in flat regions: how much high-frequency energy a reconstruction puts where the original
 * is flat, relative to the original's own there (1 = as much texture as the original, above 1
 * added grain, below 1 smoothed). PSNR barely sees it; viewers see it first.
 *
 *   luma       Y = (R + G + B) / 3 of the sRGB values in [0, 1].
 *   flat       pixels whose 9x9 luma standard deviation in the original is below FLAT_STD
 *              (2.5 / 255), away from a 4-pixel border.
 *   high-pass  H(Y) = Y - its 5x5 mean.
 *   grain      sum over flat pixels of H(Y_rec)^2 / the same of H(Y_orig)^2.
 * Undefined (null) when under 1 % of the pixels are flat or the original has no energy there.
 */
import type { RgbImage } from '../image/types.js';

export const FLAT_STD = 2.5 / 255;

function luma(img: RgbImage): Float64Array {
  const n = img.width * img.height, y = new Float64Array(n);
  for (let i = 0; i < n; i++) y[i] = (img.data[3 * i] + img.data[3 * i + 1] + img.data[3 * i + 2]) / 3;
  return y;
}

/** Mean over the (2r+1)^2 window at each pixel, edges clamped (separable running sums). */
function boxMean(v: Float64Array, w: number, h: number, r: number): Float64Array {
  const tmp = new Float64Array(v.length), out = new Float64Array(v.length), k = 2 * r + 1;
  for (let y = 0; y < h; y++) {
    let s = 0;
    for (let d = -r; d <= r; d++) s += v[y * w + Math.min(w - 1, Math.max(0, d))];
    for (let x = 0; x < w; x++) {
      tmp[y * w + x] = s / k;
      s += v[y * w + Math.min(w - 1, x + r + 1)] - v[y * w + Math.max(0, x - r)];
    }
  }
  for (let x = 0; x < w; x++) {
    let s = 0;
    for (let d = -r; d <= r; d++) s += tmp[Math.min(h - 1, Math.max(0, d)) * w + x];
    for (let y = 0; y < h; y++) {
      out[y * w + x] = s / k;
      s += tmp[Math.min(h - 1, y + r + 1) * w + x] - tmp[Math.max(0, y - r) * w + x];
    }
  }
  return out;
}

/** The flat pixels of an original (indices into its luma plane). */
export function flatMask(orig: RgbImage): Uint8Array {
  const { width: w, height: h } = orig, y = luma(orig);
  const m = boxMean(y, w, h, 4), m2 = boxMean(y.map((v) => v * v), w, h, 4);
  const mask = new Uint8Array(w * h);
  for (let r = 4; r < h - 4; r++) {
    for (let c = 4; c < w - 4; c++) {
      const i = r * w + c;
      if (m2[i] - m[i] * m[i] < FLAT_STD * FLAT_STD) mask[i] = 1;
    }
  }
  return mask;
}

function highPassEnergy(img: RgbImage, mask: Uint8Array): number {
  const y = luma(img), m = boxMean(y, img.width, img.height, 2);
  let s = 0;
  for (let i = 0; i < y.length; i++) if (mask[i]) s += (y[i] - m[i]) ** 2;
  return s;
}

/** Grain of `rec` against `orig` (same size), or null when the original has too little flat area. */
export function flatGrain(orig: RgbImage, rec: RgbImage, mask = flatMask(orig)): number | null {
  if (orig.width !== rec.width || orig.height !== rec.height) throw new RangeError(`image sizes differ: ${orig.width}x${orig.height} vs ${rec.width}x${rec.height}`);
  let flat = 0;
  for (const v of mask) flat += v;
  if (flat < 0.01 * mask.length) return null;
  const ref = highPassEnergy(orig, mask);
  return ref > 0 ? highPassEnergy(rec, mask) / ref : null;
}
