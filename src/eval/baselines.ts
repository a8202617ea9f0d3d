/**
 * Classical codecs at a matched rate: binary search over quality (sharp: mozjpeg, WebP, AVIF)
 * for the largest file that does not exceed the target bpp.
 */
import type { RgbImage } from '../image/types.js';
import { encodeImage, decodeImage } from '../image/io.js';

export type BaselineCodec = 'jpeg' | 'webp' | 'avif';

export interface BaselineResult {
  readonly codec: BaselineCodec;
  readonly quality: number;
  readonly bytes: number;
  readonly bpp: number;
  readonly decoded: RgbImage;
  readonly encodeMs: number;
  readonly decodeMs: number;
  /** True when even the lowest quality exceeds the target (the result is that lowest quality). */
  readonly overshoot: boolean;
}

const RANGE: Record<BaselineCodec, [number, number]> = { jpeg: [1, 100], webp: [1, 100], avif: [1, 100] };

export async function encodeAtBpp(img: RgbImage, codec: BaselineCodec, targetBpp: number): Promise<BaselineResult> {
  const pixels = img.width * img.height;
  const budget = (targetBpp * pixels) / 8;
  let [lo, hi] = RANGE[codec];
  const sizes = new Map<number, { bytes: Uint8Array; ms: number }>();
  const at = async (q: number) => {
    let r = sizes.get(q);
    if (!r) {
      const t = performance.now();
      const bytes = await encodeImage(img, codec, { quality: q });
      r = { bytes, ms: performance.now() - t };
      sizes.set(q, r);
    }
    return r;
  };
  let best = lo;
  const overshoot = (await at(lo)).bytes.length > budget;
  if (!overshoot) {
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if ((await at(mid)).bytes.length <= budget) { best = mid; lo = mid + 1; } else hi = mid - 1;
    }
  }
  const chosen = await at(best);
  const t = performance.now();
  const decoded = await decodeImage(chosen.bytes);
  return {
    codec, quality: best, bytes: chosen.bytes.length, bpp: (8 * chosen.bytes.length) / pixels,
    decoded, encodeMs: chosen.ms, decodeMs: performance.now() - t, overshoot,
  };
}
