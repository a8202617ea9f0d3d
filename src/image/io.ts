/**
 * Image files <-> RgbImage with sharp: PNG, JPEG, WebP, AVIF, TIFF (GIF: first frame) in; EXIF
 * orientation applied, ICC profiles converted to sRGB, grey to RGB, 16-bit sources kept at 16 bits.
 * Alpha is flattened on a background (default white) or refused. A pixel limit, checked from the
 * header before any pixel is decoded, guards against decompression bombs.
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import sharp from 'sharp';
import { AtomicWriteError, exists, writeFileAtomic } from '../fs/atomic.js';
import type { RgbImage } from './types.js';
import { ImageError } from './errors.js';

export const DEFAULT_MAX_PIXELS = 64 * 1024 * 1024;
export type ImageFormat = 'png' | 'jpeg' | 'webp' | 'avif' | 'tiff';

export interface LoadOptions {
  readonly maxPixels?: number;
  readonly alpha?: 'flatten' | 'refuse';
  /** Flattening background, 0..255 per channel. */
  readonly background?: readonly [number, number, number];
}

const INPUT_FORMATS = new Set(['png', 'jpeg', 'webp', 'avif', 'heif', 'tiff', 'gif']);

export async function loadImage(input: string | Uint8Array, opts: LoadOptions = {}): Promise<RgbImage> {
  const name = typeof input === 'string' ? input : '<buffer>';
  let bytes: Uint8Array;
  if (typeof input === 'string') {
    try {
      bytes = await readFile(input);
    } catch (e) {
      throw new ImageError('unreadable', `${name}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
  } else bytes = input;
  return decodeImage(bytes, opts, name);
}

export async function decodeImage(bytes: Uint8Array, opts: LoadOptions = {}, name = '<buffer>'): Promise<RgbImage> {
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  let meta: Awaited<ReturnType<ReturnType<typeof sharp>['metadata']>>;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (e) {
    throw new ImageError('unreadable', `${name}: not a readable image (${(e as Error).message})`);
  }
  if (!meta.format || !INPUT_FORMATS.has(meta.format)) throw new ImageError('unsupported', `${name}: unsupported format ${meta.format ?? 'unknown'}`);
  const w = meta.width ?? 0, h = meta.height ?? 0;
  if (w <= 0 || h <= 0) throw new ImageError('unreadable', `${name}: image has no size`);
  if (w * h > maxPixels) throw new ImageError('too-large', `${name}: ${w}x${h} = ${w * h} pixels exceeds the limit of ${maxPixels}`);
  if (meta.hasAlpha && opts.alpha === 'refuse') throw new ImageError('alpha', `${name}: has an alpha channel (flatten it or pass alpha: 'flatten')`);
  const sixteen = meta.depth === 'ushort' || meta.depth === 'short';
  const bg = opts.background ?? [255, 255, 255];
  try {
    let pipe = sharp(bytes, { limitInputPixels: maxPixels, pages: 1 }).rotate();
    if (meta.hasAlpha) pipe = pipe.flatten({ background: { r: bg[0], g: bg[1], b: bg[2] } });
    pipe = pipe.toColourspace(sixteen ? 'rgb16' : 'srgb').removeAlpha();
    const { data, info } = await pipe.raw({ depth: sixteen ? 'ushort' : 'uchar' }).toBuffer({ resolveWithObject: true });
    const n = info.width * info.height;
    const out = new Float32Array(n * 3);
    const ch = info.channels;
    if (sixteen) {
      const v = new Uint16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
      for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[i * 3 + c] = v[i * ch + Math.min(c, ch - 1)] / 65535;
    } else {
      for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[i * 3 + c] = data[i * ch + Math.min(c, ch - 1)] / 255;
    }
    return { width: info.width, height: info.height, data: out, bitDepth: sixteen ? 16 : 8 };
  } catch (e) {
    throw new ImageError('unreadable', `${name}: cannot decode (${(e as Error).message})`);
  }
}

function formatFor(path: string, given?: ImageFormat): ImageFormat {
  if (given) return given;
  const ext = extname(path).toLowerCase();
  const map: Record<string, ImageFormat> = { '.png': 'png', '.jpg': 'jpeg', '.jpeg': 'jpeg', '.webp': 'webp', '.avif': 'avif', '.tif': 'tiff', '.tiff': 'tiff' };
  const f = map[ext];
  if (!f) throw new ImageError('unsupported', `${path}: cannot tell the output format from '${ext || 'no extension'}' (use .png, .jpg, .webp, .avif or .tif)`);
  return f;
}

/**
 * Float [0,1] -> integers with round-half-up and clamping. sharp takes the sample depth of raw
 * input from the typed array's type, so 16-bit data must stay a Uint16Array (not a Buffer).
 */
function quantise(img: RgbImage, bits: 8 | 16): Uint8Array | Uint16Array {
  const max = bits === 16 ? 65535 : 255;
  const n = img.width * img.height * 3;
  const out = bits === 16 ? new Uint16Array(n) : new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.min(max, Math.max(0, Math.floor(img.data[i] * max + 0.5)));
  return out;
}

export interface EncodeOptions {
  readonly bitDepth?: 8 | 16;
  readonly quality?: number;
}

export async function encodeImage(img: RgbImage, format: ImageFormat, opts: EncodeOptions = {}): Promise<Uint8Array> {
  const bits = format === 'png' || format === 'tiff' ? (opts.bitDepth ?? img.bitDepth) : 8;
  const raw = quantise(img, bits);
  let pipe = sharp(raw, { raw: { width: img.width, height: img.height, channels: 3 } });
  if (bits === 16) pipe = pipe.toColourspace('rgb16');
  const q = opts.quality;
  switch (format) {
    case 'png': pipe = pipe.png({ compressionLevel: 9 }); break;
    case 'jpeg': pipe = pipe.jpeg({ quality: q ?? 90, mozjpeg: true }); break;
    case 'webp': pipe = pipe.webp({ quality: q ?? 90 }); break;
    case 'avif': pipe = pipe.avif({ quality: q ?? 60, effort: 4 }); break;
    case 'tiff': pipe = pipe.tiff({ compression: 'deflate' }); break;
  }
  return new Uint8Array(await pipe.toBuffer());
}

export interface SaveOptions extends EncodeOptions {
  readonly format?: ImageFormat;
  readonly force?: boolean;
}

/** Writes atomically (src/fs/atomic.ts): nothing partial is ever visible or left behind. */
export async function saveImage(img: RgbImage, path: string, opts: SaveOptions = {}): Promise<void> {
  const format = formatFor(path, opts.format);
  if (!opts.force && (await exists(path))) throw new ImageError('exists', `${path} exists (use --force to overwrite)`);
  const bytes = await encodeImage(img, format, opts);
  try {
    await writeFileAtomic(path, bytes, opts.force ?? false);
  } catch (e) {
    if (e instanceof AtomicWriteError) throw new ImageError(e.code === 'exists' ? 'exists' : 'write', e.message);
    throw e;
  }
}
