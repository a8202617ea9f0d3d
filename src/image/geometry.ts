/**
 * Padding to a model's size multiple (reflected borders, so the codec spends no bits on an
 * artificial edge), cropping back, resizing (sharp-free Catmull-Rom/box for determinism), and
 * planar conversions for model inputs.
 */
import type { RgbImage } from './types.js';

export function padToMultiple(img: RgbImage, m: number): { image: RgbImage; crop: { width: number; height: number } } {
  const W = Math.ceil(img.width / m) * m, H = Math.ceil(img.height / m) * m;
  const crop = { width: img.width, height: img.height };
  if (W === img.width && H === img.height) return { image: img, crop };
  const reflect = (i: number, n: number) => {
    if (n === 1) return 0;
    const period = 2 * (n - 1);
    const r = ((i % period) + period) % period;
    return r < n ? r : period - r;
  };
  const out = new Float32Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    const sy = reflect(y, img.height);
    for (let x = 0; x < W; x++) {
      const sx = reflect(x, img.width), s = (sy * img.width + sx) * 3, d = (y * W + x) * 3;
      out[d] = img.data[s]; out[d + 1] = img.data[s + 1]; out[d + 2] = img.data[s + 2];
    }
  }
  return { image: { width: W, height: H, data: out, bitDepth: img.bitDepth }, crop };
}

export function cropTo(img: RgbImage, width: number, height: number): RgbImage {
  if (width > img.width || height > img.height) throw new RangeError(`cannot crop ${img.width}x${img.height} to ${width}x${height}`);
  if (width === img.width && height === img.height) return img;
  const out = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++) out.set(img.data.subarray(y * img.width * 3, (y * img.width + width) * 3), y * width * 3);
  return { width, height, data: out, bitDepth: img.bitDepth };
}

/** Separable resize: area average when shrinking, Catmull-Rom when enlarging. */
export function resize(img: RgbImage, width: number, height: number): RgbImage {
  const pass = (src: Float32Array, sw: number, sh: number, horizontal: boolean, dn: number) => {
    const sn = horizontal ? sw : sh;
    const ow = horizontal ? dn : sw, oh = horizontal ? sh : dn;
    const out = new Float32Array(ow * oh * 3);
    const scale = sn / dn;
    for (let o = 0; o < dn; o++) {
      const idx: number[] = [], wt: number[] = [];
      if (scale >= 1) {
        const a = o * scale, b = a + scale;
        for (let i = Math.floor(a); i < Math.ceil(b); i++) {
          const w = Math.min(b, i + 1) - Math.max(a, i);
          if (w > 0) { idx.push(Math.min(sn - 1, i)); wt.push(w / scale); }
        }
      } else {
        const c = (o + 0.5) * scale - 0.5, base = Math.floor(c);
        for (let k = -1; k <= 2; k++) {
          const t = Math.abs(c - (base + k));
          const w = t <= 1 ? 1.5 * t ** 3 - 2.5 * t ** 2 + 1 : t < 2 ? -0.5 * t ** 3 + 2.5 * t ** 2 - 4 * t + 2 : 0;
          idx.push(Math.min(sn - 1, Math.max(0, base + k))); wt.push(w);
        }
      }
      const lines = horizontal ? sh : sw;
      for (let l = 0; l < lines; l++) {
        for (let c = 0; c < 3; c++) {
          let s = 0;
          for (let k = 0; k < idx.length; k++) s += wt[k] * src[(horizontal ? l * sw + idx[k] : idx[k] * sw + l) * 3 + c];
          out[(horizontal ? l * ow + o : o * ow + l) * 3 + c] = Math.min(1, Math.max(0, s));
        }
      }
    }
    return out;
  };
  const h1 = pass(img.data, img.width, img.height, true, width);
  return { width, height, data: pass(h1, width, img.height, false, height), bitDepth: img.bitDepth };
}

/** HWC [0,1] -> CHW [-1,1] (model inputs). */
export function toPlanarSigned(img: RgbImage): Float32Array {
  const n = img.width * img.height, out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[c * n + i] = img.data[i * 3 + c] * 2 - 1;
  return out;
}

export function fromPlanarSigned(chw: Float32Array, width: number, height: number, bitDepth: 8 | 16 = 8): RgbImage {
  const n = width * height, out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.min(1, Math.max(0, (chw[c * n + i] + 1) / 2));
  return { width, height, data: out, bitDepth };
}
