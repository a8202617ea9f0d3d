/**
 * Geometry on RgbImage, in pure TypeScript (no sharp) so results are bit-identical everywhere:
 * padding to a model's size multiple and cropping back, resizing, and the planar [-1,1] layout
 * that model inputs use.
 */
import type { RgbImage } from './types.js';

/**
 * How padding invents pixels: 'reflect' mirrors without repeating the border (numpy's 'reflect':
 * ... c b | a b c ... ), so the codec spends no bits on an artificial edge; 'edge' repeats it.
 */
export type PadMode = 'reflect' | 'edge';

function padIndex(i: number, n: number, mode: PadMode): number {
  if (mode === 'edge' || n === 1) return Math.min(n - 1, Math.max(0, i));
  const period = 2 * (n - 1);
  const r = ((i % period) + period) % period;
  return r < n ? r : period - r;
}

/** Pads right and bottom up to multiples of m; `crop` is the original size for cropTo. */
export function padToMultiple(img: RgbImage, m: number, mode: PadMode = 'reflect'): { image: RgbImage; crop: { width: number; height: number } } {
  if (!Number.isInteger(m) || m < 1) throw new RangeError(`pad multiple must be a positive integer, got ${m}`);
  const W = Math.ceil(img.width / m) * m, H = Math.ceil(img.height / m) * m;
  const crop = { width: img.width, height: img.height };
  if (W === img.width && H === img.height) return { image: img, crop };
  const out = new Float32Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    const sy = padIndex(y, img.height, mode);
    for (let x = 0; x < W; x++) {
      const s = (sy * img.width + padIndex(x, img.width, mode)) * 3, d = (y * W + x) * 3;
      out[d] = img.data[s]; out[d + 1] = img.data[s + 1]; out[d + 2] = img.data[s + 2];
    }
  }
  return { image: { width: W, height: H, data: out, bitDepth: img.bitDepth }, crop };
}

/** The width x height region of img whose top-left corner is (x, y). */
export function cropRegion(img: RgbImage, x: number, y: number, width: number, height: number): RgbImage {
  if (![x, y, width, height].every(Number.isInteger) || x < 0 || y < 0 || width < 1 || height < 1 || x + width > img.width || y + height > img.height) {
    throw new RangeError(`region ${width}x${height} at (${x}, ${y}) outside ${img.width}x${img.height}`);
  }
  const out = new Float32Array(width * height * 3);
  for (let r = 0; r < height; r++) out.set(img.data.subarray(((y + r) * img.width + x) * 3, ((y + r) * img.width + x + width) * 3), r * width * 3);
  return { width, height, data: out, bitDepth: img.bitDepth };
}

/** The top-left width x height of img (undoes padToMultiple). */
export function cropTo(img: RgbImage, width: number, height: number): RgbImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > img.width || height > img.height) {
    throw new RangeError(`cannot crop ${img.width}x${img.height} to ${width}x${height}`);
  }
  if (width === img.width && height === img.height) return img;
  const out = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++) out.set(img.data.subarray(y * img.width * 3, (y * img.width + width) * 3), y * width * 3);
  return { width, height, data: out, bitDepth: img.bitDepth };
}

/**
 * Resampling kernels. 'area' averages the exact source area under each output pixel; the
 * filters ('bilinear' = triangle, 'catmull-rom', 'lanczos3') are widened by the shrink factor
 * when shrinking, so they antialias like PIL's. 'auto' (default): 'area' on an axis that
 * shrinks, 'catmull-rom' on one that grows.
 */
export type ResizeKernel = 'auto' | 'area' | 'nearest' | 'bilinear' | 'catmull-rom' | 'lanczos3';

const sinc = (x: number) => (x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x));
const FILTERS: Record<'bilinear' | 'catmull-rom' | 'lanczos3', { radius: number; f: (t: number) => number }> = {
  bilinear: { radius: 1, f: (t) => Math.max(0, 1 - Math.abs(t)) },
  'catmull-rom': {
    radius: 2,
    f: (t) => {
      const a = Math.abs(t);
      return a <= 1 ? 1.5 * a ** 3 - 2.5 * a ** 2 + 1 : a < 2 ? -0.5 * a ** 3 + 2.5 * a ** 2 - 4 * a + 2 : 0;
    },
  },
  lanczos3: { radius: 3, f: (t) => (Math.abs(t) < 3 ? sinc(t) * sinc(t / 3) : 0) },
};

/** For each of dn outputs along an axis of sn inputs: source indices (edge-clamped) and weights summing to 1. */
function taps(sn: number, dn: number, kernel: ResizeKernel): { idx: number[]; wt: number[] }[] {
  const scale = sn / dn;
  const k = kernel === 'auto' ? (scale > 1 ? 'area' : 'catmull-rom') : kernel;
  const out: { idx: number[]; wt: number[] }[] = [];
  for (let o = 0; o < dn; o++) {
    const idx: number[] = [], wt: number[] = [];
    if (k === 'nearest') {
      idx.push(Math.min(sn - 1, Math.floor((o + 0.5) * scale))); wt.push(1);
    } else if (k === 'area') {
      const a = o * scale, b = a + scale;
      for (let i = Math.floor(a); i < b; i++) {
        const w = Math.min(b, i + 1) - Math.max(a, i);
        if (w > 0) { idx.push(Math.min(sn - 1, i)); wt.push(w); }
      }
    } else {
      const { radius, f } = FILTERS[k];
      const fs = Math.max(1, scale), c = (o + 0.5) * scale - 0.5;
      for (let i = Math.ceil(c - radius * fs); i <= Math.floor(c + radius * fs); i++) {
        const w = f((i - c) / fs);
        if (w !== 0) { idx.push(Math.min(sn - 1, Math.max(0, i))); wt.push(w); }
      }
    }
    const s = wt.reduce((p, v) => p + v, 0);
    out.push({ idx, wt: wt.map((v) => v / s) });
  }
  return out;
}

/** Resizes to width x height (pure TS, separable: rows then columns); results are clamped to [0,1]. */
export function resize(img: RgbImage, width: number, height: number, kernel: ResizeKernel = 'auto'): RgbImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) throw new RangeError(`cannot resize to ${width}x${height}`);
  const sw = img.width, sh = img.height;
  const tx = taps(sw, width, kernel), ty = taps(sh, height, kernel);
  const mid = new Float32Array(width * sh * 3);
  for (let y = 0; y < sh; y++) {
    for (let x = 0; x < width; x++) {
      const { idx, wt } = tx[x];
      let r = 0, g = 0, b = 0;
      for (let k = 0; k < idx.length; k++) {
        const s = (y * sw + idx[k]) * 3;
        r += wt[k] * img.data[s]; g += wt[k] * img.data[s + 1]; b += wt[k] * img.data[s + 2];
      }
      const d = (y * width + x) * 3;
      mid[d] = r; mid[d + 1] = g; mid[d + 2] = b;
    }
  }
  const out = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const { idx, wt } = ty[y];
    for (let x = 0; x < width * 3; x++) {
      let s = 0;
      for (let k = 0; k < idx.length; k++) s += wt[k] * mid[idx[k] * width * 3 + x];
      // Catmull-Rom and Lanczos overshoot at edges; clamp once, at the end.
      out[y * width * 3 + x] = s < 0 ? 0 : s > 1 ? 1 : s;
    }
  }
  return { width, height, data: out, bitDepth: img.bitDepth };
}

/** HWC [0,1] -> CHW [-1,1] (model inputs). */
export function toPlanarSigned(img: RgbImage): Float32Array {
  const out = new Float32Array(3 * img.width * img.height);
  planarSignedTile(img, 0, 0, img.height, img.width, out);
  return out;
}

/**
 * The th x tw tile at (y0, x0) of an HWC [0,1] image as CHW [-1,1], written at out[offset...]
 * (toPlanarSigned of the tile alone: a tiled VAE never makes a whole-image planar copy).
 */
export function planarSignedTile(img: RgbImage, y0: number, x0: number, th: number, tw: number, out: Float32Array, offset = 0): void {
  if (y0 < 0 || x0 < 0 || y0 + th > img.height || x0 + tw > img.width) throw new RangeError(`tile ${th}x${tw} at (${y0}, ${x0}) is outside ${img.height}x${img.width}`);
  if (offset + 3 * th * tw > out.length) throw new RangeError(`tile does not fit the output at ${offset}`);
  const n = th * tw, W = img.width, src = img.data;
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) {
      const s = ((y0 + y) * W + x0 + x) * 3, d = offset + y * tw + x;
      for (let c = 0; c < 3; c++) out[d + c * n] = src[s + c] * 2 - 1;
    }
  }
}

/** A model's [-1,1] output sample as a [0,1] pixel value, clamped (model outputs overshoot). */
export function unitFromSigned(v: number): number {
  const u = (v + 1) / 2;
  return u < 0 ? 0 : u > 1 ? 1 : u;
}

/** CHW [-1,1] -> HWC [0,1], clamped (model outputs overshoot). */
export function fromPlanarSigned(chw: Float32Array, width: number, height: number, bitDepth: 8 | 16 = 8): RgbImage {
  const n = width * height;
  if (chw.length !== 3 * n) throw new RangeError(`planar data has ${chw.length} values, ${width}x${height}x3 needs ${3 * n}`);
  const out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) out[i * 3 + c] = unitFromSigned(chw[c * n + i]);
  }
  return { width, height, data: out, bitDepth };
}
