/**
 * Classical codecs at a matched rate: binary search over the encoder's quality (sharp: mozjpeg
 * 1..100, WebP 0..100, AVIF 1..100 at effort 4, see src/image/encode.ts; JPEG XL through cjxl at
 * effort 7, quality 1..100 mapped to a distance, see src/eval/jxl.ts) for the highest quality
 * whose file does not exceed the target bits per pixel, bpp = 8 * bytes / (width * height).
 * File size is assumed non-decreasing in quality; where an encoder breaks that locally, the
 * search can settle on a slightly lower quality than the best one under the target.
 */
import type { RgbImage } from '../image/types.js';
import { decodeImage, encodeImage, QUALITY_RANGE } from '../image/io.js';
import { decodeJxl, encodeJxl, findJxlTools, JXL_QUALITY_RANGE } from './jxl.js';

export type BaselineCodec = 'jpeg' | 'webp' | 'avif' | 'jxl';
export const BASELINE_CODECS: readonly BaselineCodec[] = ['jpeg', 'webp', 'avif', 'jxl'];

/** The codec's encoder and decoder (JPEG XL's tools are looked up once, before any encode). */
function codecIo(codec: BaselineCodec): { encode: (img: RgbImage, quality: number) => Promise<Uint8Array>; decode: (b: Uint8Array) => Promise<RgbImage>; range: readonly [number, number] } {
  if (codec === 'jxl') {
    const tools = findJxlTools();
    return { encode: (img, q) => encodeJxl(img, q, tools), decode: (b) => decodeJxl(b, tools), range: JXL_QUALITY_RANGE };
  }
  return { encode: (img, quality) => encodeImage(img, codec, { quality }), decode: (b) => decodeImage(b), range: QUALITY_RANGE[codec] };
}

export interface BaselineResult {
  readonly codec: BaselineCodec;
  readonly quality: number;
  readonly bytes: number;
  readonly bpp: number;
  readonly decoded: RgbImage;
  /** Encode time of the chosen quality alone (not of the whole search). */
  readonly encodeMs: number;
  readonly decodeMs: number;
  /** True when even the lowest quality exceeds the target: the result is that lowest quality. */
  readonly overshoot: boolean;
  /** How many encodes the search ran. */
  readonly trials: number;
}

/**
 * The highest quality in [lo, hi] whose size fits the budget, given that lo fits. A bracketed
 * search with the invariant "lo fits, hi + 1 does not" (hi + 1 is never encoded): while the upper
 * end is unmeasured it bisects; once both ends are measured it interpolates log(size) linearly
 * in quality (sizes grow roughly exponentially with quality), kept a quarter of the bracket away
 * from either end so a bad guess still shrinks it. Assuming size grows with quality, the answer
 * is the same as plain bisection's, usually with fewer encodes (and the slow top qualities are
 * only tried when the target is near them).
 */
async function highestFitting(size: (q: number) => Promise<{ bytes: Uint8Array }>, lo: number, hi: number, budget: number): Promise<number> {
  const bytes = async (q: number) => (await size(q)).bytes.length;
  let over = hi + 1; // smallest quality known not to fit (hi + 1: not measured)
  while (over - lo > 1) {
    let q = Math.floor((lo + over) / 2);
    if (over <= hi) {
      const sl = Math.log(await bytes(lo)), so = Math.log(await bytes(over));
      const guess = lo + ((Math.log(budget) - sl) / (so - sl)) * (over - lo);
      const margin = Math.max(1, Math.floor((over - lo) / 4));
      if (Number.isFinite(guess)) q = Math.min(over - margin, Math.max(lo + margin, Math.round(guess)));
    }
    if ((await bytes(q)) <= budget) lo = q; else over = q;
  }
  return lo;
}

export async function encodeAtBpp(img: RgbImage, codec: BaselineCodec, targetBpp: number): Promise<BaselineResult> {
  if (!BASELINE_CODECS.includes(codec)) throw new RangeError(`unknown baseline codec '${String(codec)}'`);
  if (!(targetBpp > 0) || !Number.isFinite(targetBpp)) throw new RangeError(`target bpp must be a positive number, got ${targetBpp}`);
  const pixels = img.width * img.height;
  const budget = (targetBpp * pixels) / 8;
  const io = codecIo(codec);
  const tried = new Map<number, { bytes: Uint8Array; ms: number }>();
  const at = async (quality: number) => {
    let r = tried.get(quality);
    if (!r) {
      const t = performance.now();
      const bytes = await io.encode(img, quality);
      r = { bytes, ms: performance.now() - t };
      tried.set(quality, r);
    }
    return r;
  };
  const [qMin, qMax] = io.range;
  const overshoot = (await at(qMin)).bytes.length > budget;
  const best = overshoot ? qMin : await highestFitting(at, qMin, qMax, budget);
  const chosen = await at(best);
  const t = performance.now();
  const decoded = await io.decode(chosen.bytes);
  return {
    codec, quality: best, bytes: chosen.bytes.length, bpp: (8 * chosen.bytes.length) / pixels,
    decoded, encodeMs: chosen.ms, decodeMs: performance.now() - t, overshoot, trials: tried.size,
  };
}
