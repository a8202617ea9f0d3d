/**
 * Pixel <-> latent maps of the embedded model: box-downsampling by D, an orthonormal opponent
 * colour transform (so isotropic noise stays isotropic), centring and a scale; and back with a
 * separable bicubic (Keys, a = -0.5) upsampler. Pure, deterministic TypeScript.
 *   o1 = (R + G + B)/sqrt3,  o2 = (R - B)/sqrt2,  o3 = (R - 2G + B)/sqrt6
 */
import type { RgbImage } from '../../image/types.js';

const S3 = 1 / Math.sqrt(3), S2 = 1 / Math.sqrt(2), S6 = 1 / Math.sqrt(6);

/** RGB HWC image (dimensions multiples of d) -> CHW latent of size 3 x H/d x W/d. */
export function imageToLatent(img: RgbImage, d: number, scale: number): Float32Array {
  const { width: W, height: H } = img;
  if (W % d || H % d) throw new RangeError(`image ${W}x${H} is not a multiple of ${d}`);
  const n = (W / d) * (H / d), box = boxDown(img.data, W, H, d);
  const out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    const r = box[3 * i] - 0.5, g = box[3 * i + 1] - 0.5, b = box[3 * i + 2] - 0.5;
    out[i] = scale * S3 * (r + g + b);
    out[n + i] = scale * S2 * (r - b);
    out[2 * n + i] = scale * S6 * (r - 2 * g + b);
  }
  return out;
}

/** CHW latent -> low-resolution RGB planes (HWC, centred values added back). */
export function latentToLowRes(latent: Float32Array, w: number, h: number, scale: number): Float64Array {
  const n = w * h, out = new Float64Array(3 * n);
  const inv = 1 / scale;
  for (let i = 0; i < n; i++) {
    const o1 = latent[i] * inv, o2 = latent[n + i] * inv, o3 = latent[2 * n + i] * inv;
    out[3 * i] = S3 * o1 + S2 * o2 + S6 * o3 + 0.5;
    out[3 * i + 1] = S3 * o1 - 2 * S6 * o3 + 0.5;
    out[3 * i + 2] = S3 * o1 - S2 * o2 + S6 * o3 + 0.5;
  }
  return out;
}

export interface UpsampleOptions {
  /** Clamp to [0, 1] (default true; residuals are not clamped). */
  readonly clamp?: boolean;
  /** Add the upsample into this image (same size) instead of a new one. */
  readonly addTo?: Float32Array;
}

/** Keys cubic kernel, a = -0.5. */
function cubic(t: number): number {
  const x = Math.abs(t);
  if (x <= 1) return 1.5 * x * x * x - 2.5 * x * x + 1;
  if (x < 2) return -0.5 * x * x * x + 2.5 * x * x - 4 * x + 2;
  return 0;
}

/** Bicubic taps along an axis of `size` inputs upsampled by d: 4 edge-clamped indices and weights per output. */
function axisTaps(n: number, size: number, d: number): { idx: Int32Array; wt: Float64Array } {
  const idx = new Int32Array(4 * n), wt = new Float64Array(4 * n);
  for (let o = 0; o < n; o++) {
    const c = (o + 0.5) / d - 0.5, base = Math.floor(c);
    for (let k = -1; k <= 2; k++) {
      idx[4 * o + k + 1] = Math.min(size - 1, Math.max(0, base + k));
      wt[4 * o + k + 1] = cubic(c - (base + k));
    }
  }
  return { idx, wt };
}

/**
 * Upsamples HWC RGB by integer factor d with edge clamping, pixel centres aligned. Separable:
 * each low-resolution row is upsampled along x (float64), then each output row is a 4-tap
 * combination of those rows along y. An output row needs 4 consecutive low-resolution rows, and
 * rows are needed in increasing order, so only those 4 are kept (a ring indexed by row mod 4)
 * instead of all of them (6 bytes per output pixel at d = 4); the arithmetic is unchanged.
 */
export function upsampleBicubic(src: Float64Array, w: number, h: number, d: number, opts: UpsampleOptions = {}): Float32Array {
  const clamp = opts.clamp ?? true, add = opts.addTo;
  const W = w * d, H = h * d, rowLen = W * 3;
  const tx = axisTaps(W, w, d), ty = axisTaps(H, h, d);
  const ring = [0, 1, 2, 3].map(() => new Float64Array(rowLen));
  const held = [-1, -1, -1, -1];
  const row = (y: number): Float64Array => {
    const r = ring[y & 3];
    if (held[y & 3] === y) return r;
    held[y & 3] = y;
    for (let X = 0; X < W; X++) {
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let k = 0; k < 4; k++) s += tx.wt[4 * X + k] * src[(y * w + tx.idx[4 * X + k]) * 3 + c];
        r[X * 3 + c] = s;
      }
    }
    return r;
  };
  const out = add ?? new Float32Array(W * H * 3);
  for (let Y = 0; Y < H; Y++) {
    const r0 = row(ty.idx[4 * Y]), r1 = row(ty.idx[4 * Y + 1]), r2 = row(ty.idx[4 * Y + 2]), r3 = row(ty.idx[4 * Y + 3]);
    const w0 = ty.wt[4 * Y], w1 = ty.wt[4 * Y + 1], w2 = ty.wt[4 * Y + 2], w3 = ty.wt[4 * Y + 3];
    const o = Y * rowLen;
    for (let i = 0; i < rowLen; i++) {
      // Summed in tap order from 0, as a loop over k would.
      let s = 0;
      s += w0 * r0[i]; s += w1 * r1[i]; s += w2 * r2[i]; s += w3 * r3[i];
      if (add) s += add[o + i];
      out[o + i] = clamp ? Math.min(1, Math.max(0, s)) : s;
    }
  }
  return out;
}

/** HWC box means over d x d blocks of a W x H RGB image (float64, the latent's averaging). */
function boxDown(img: ArrayLike<number>, W: number, H: number, d: number): Float64Array {
  const w = W / d, h = H / d, out = new Float64Array(w * h * 3), inv = 1 / (d * d);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let r = 0, g = 0, b = 0;
      for (let dy = 0; dy < d; dy++) {
        let p = ((y * d + dy) * W + x * d) * 3;
        for (let dx = 0; dx < d; dx++, p += 3) {
          r += img[p]; g += img[p + 1]; b += img[p + 2];
        }
      }
      const i = (y * w + x) * 3;
      out[i] = r * inv; out[i + 1] = g * inv; out[i + 2] = b * inv;
    }
  }
  return out;
}

/**
 * Bicubic upsample refined by iterative back-projection (Irani & Peleg 1991): each round adds the
 * bicubic upsample of what the image's d x d box means still miss of the low-resolution planes,
 * so the result is consistent with the latent the encoder averaged (+0.3-0.5 dB over plain
 * bicubic on photos). Memory: the output and low-resolution planes only.
 */
export function upsampleBackProjected(src: Float64Array, w: number, h: number, d: number, rounds: number): Float32Array {
  if (rounds === 0) return upsampleBicubic(src, w, h, d);
  const W = w * d, H = h * d;
  const out = upsampleBicubic(src, w, h, d, { clamp: false });
  for (let r = 0; r < rounds; r++) {
    const miss = boxDown(out, W, H, d);
    for (let i = 0; i < miss.length; i++) miss[i] = src[i] - miss[i];
    upsampleBicubic(miss, w, h, d, { clamp: r < rounds - 1 ? false : true, addTo: out });
  }
  return out;
}
