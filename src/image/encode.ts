/**
 * RgbImage -> file bytes with sharp. Float samples become integers by round-half-up of
 * value * maxval, clamped to [0, maxval]. PNG and TIFF keep 16 bits when asked (or when the image
 * came from a 16-bit source); JPEG, WebP and AVIF are always 8-bit. Nothing is tagged: files
 * without a profile are read as sRGB everywhere.
 */
import sharp, { type Sharp } from 'sharp';
import { ImageError, reason } from './errors.js';
import { IMAGE_FORMATS, MAX_SIDE, SIXTEEN_BIT, type ImageFormat } from './formats.js';
import type { RgbImage } from './types.js';

export interface EncodeOptions {
  /** Sample depth of the output (PNG/TIFF only); default the image's own bitDepth. */
  readonly bitDepth?: 8 | 16;
  /** Lossy quality: JPEG (mozjpeg), WebP and AVIF all 1..100; ignored by PNG/TIFF. */
  readonly quality?: number;
}

/** The quality scale of each lossy encoder as sharp takes it. */
export const QUALITY_RANGE: Readonly<Record<'jpeg' | 'webp' | 'avif', readonly [number, number]>> = {
  jpeg: [1, 100], webp: [1, 100], avif: [1, 100], // sharp 0.35 refuses WebP quality 0
};
const DEFAULT_QUALITY = { jpeg: 90, webp: 90, avif: 60 } as const;

/** Throws RangeError for an image whose fields disagree (a programming error, not a bad file). */
export function checkImage(img: RgbImage): void {
  const { width: w, height: h } = img;
  if (!Number.isInteger(w) || !Number.isInteger(h) || w < 1 || h < 1) throw new RangeError(`image size must be positive integers, got ${w}x${h}`);
  if (!(img.data instanceof Float32Array) || img.data.length !== w * h * 3) throw new RangeError(`image data must be a Float32Array of ${w}x${h}x3 = ${w * h * 3} values, got ${img.data?.length}`);
  if (img.bitDepth !== 8 && img.bitDepth !== 16) throw new RangeError(`image bitDepth must be 8 or 16, got ${String(img.bitDepth)}`);
}

/**
 * Float [0,1] -> integers: floor(v * max + 0.5) clamped (NaN -> 0). sharp takes the sample depth
 * of raw input from the typed array's type, so 16-bit data must stay a Uint16Array, not a Buffer.
 */
export function quantise(img: RgbImage, bits: 8 | 16): Uint8Array | Uint16Array {
  const max = bits === 16 ? 65535 : 255;
  const n = img.width * img.height * 3;
  const out = bits === 16 ? new Uint16Array(n) : new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = Math.floor(img.data[i] * max + 0.5);
    out[i] = v > max ? max : v > 0 ? v : 0;
  }
  return out;
}

function qualityFor(format: 'jpeg' | 'webp' | 'avif', q: number | undefined): number {
  if (q === undefined) return DEFAULT_QUALITY[format];
  const [lo, hi] = QUALITY_RANGE[format];
  if (!Number.isInteger(q) || q < lo || q > hi) throw new RangeError(`${format} quality must be an integer in ${lo}..${hi}, got ${q}`);
  return q;
}

/**
 * Encodes to the given format. `name` only labels errors: ImageError 'too-large' beyond the
 * format's size limit, 'unsupported' for 16 bits in an 8-bit format, 'write' if sharp fails.
 */
export async function encodeImage(img: RgbImage, format: ImageFormat, opts: EncodeOptions = {}, name = '<buffer>'): Promise<Uint8Array> {
  checkImage(img);
  if (!IMAGE_FORMATS.includes(format)) throw new ImageError('unsupported', `${name}: cannot write format '${String(format)}'`);
  if (opts.bitDepth !== undefined && opts.bitDepth !== 8 && opts.bitDepth !== 16) throw new RangeError(`bitDepth must be 8 or 16, got ${String(opts.bitDepth)}`);
  if (opts.bitDepth === 16 && !SIXTEEN_BIT.has(format)) throw new ImageError('unsupported', `${name}: ${format} cannot store 16-bit samples (use PNG or TIFF)`);
  const side = Math.max(img.width, img.height);
  if (side > MAX_SIDE[format]) throw new ImageError('too-large', `${name}: ${img.width}x${img.height} is too large for ${format} (at most ${MAX_SIDE[format]} pixels a side)`);
  const bits = SIXTEEN_BIT.has(format) ? (opts.bitDepth ?? img.bitDepth) : 8;
  const quality = format === 'jpeg' || format === 'webp' || format === 'avif' ? qualityFor(format, opts.quality) : 0;
  try {
    return new Uint8Array(await pipeline(img, format, bits, quality).toBuffer());
  } catch (e) {
    throw new ImageError('write', `${name}: cannot encode as ${format} (${reason(e)})`, { cause: e });
  }
}

function pipeline(img: RgbImage, format: ImageFormat, bits: 8 | 16, quality: number): Sharp {
  let pipe = sharp(quantise(img, bits), { raw: { width: img.width, height: img.height, channels: 3 }, limitInputPixels: false });
  if (bits === 16) pipe = pipe.toColourspace('rgb16');
  switch (format) {
    case 'png': pipe = pipe.png({ compressionLevel: 9 }); break;
    // mozjpeg: trellis quantisation and optimised scans; 4:2:0 chroma (sharp's default).
    case 'jpeg': pipe = pipe.jpeg({ quality, mozjpeg: true }); break;
    case 'webp': pipe = pipe.webp({ quality }); break;
    // effort 4 of 0..9; sharp's AVIF default chroma is 4:4:4.
    case 'avif': pipe = pipe.avif({ quality, effort: 4 }); break;
    // Lossless: sharp's TIFF default is JPEG compression (8-bit, lossy).
    case 'tiff': pipe = pipe.tiff({ compression: 'deflate', predictor: 'horizontal' }); break;
  }
  return pipe;
}
