/**
 * Image bytes -> RgbImage with sharp. PNG, JPEG, WebP, AVIF, TIFF and GIF (first frame) in; EXIF
 * orientation applied; embedded ICC profiles converted to sRGB; grey to RGB; 16-bit sources kept
 * at 16 bits. The pixel limit is checked from the header before any pixel is decoded
 * (and handed to sharp's limitInputPixels as a second guard). Alpha is flattened here, in integer
 * sample units, or refused when any pixel is not fully opaque.
 */
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { z } from 'zod';
import { ImageError, reason } from './errors.js';
import { INPUT_FORMATS, sniffUnsupported } from './formats.js';
import type { RgbImage } from './types.js';

export const DEFAULT_MAX_PIXELS = 64 * 1024 * 1024;

export interface LoadOptions {
  /** Decompression-bomb guard on width x height (default 64 Mpx). */
  readonly maxPixels?: number;
  /** 'flatten' (default) composites onto `background`; 'refuse' throws ImageError 'alpha' if any pixel is not opaque. */
  readonly alpha?: 'flatten' | 'refuse';
  /** Flattening background, 0..255 per channel (default white). */
  readonly background?: readonly [number, number, number];
}

const channel = z.number().int().min(0).max(255);
const LoadOptionsSchema = z.object({
  maxPixels: z.number().int().positive().default(DEFAULT_MAX_PIXELS),
  alpha: z.enum(['flatten', 'refuse']).default('flatten'),
  background: z.tuple([channel, channel, channel]).default([255, 255, 255]),
}).strict();

function parseOptions(opts: LoadOptions) {
  const r = LoadOptionsSchema.safeParse(opts);
  if (!r.success) throw new RangeError(`image load options: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  return r.data;
}

/** Header only: no pixel is decoded here, whatever the file claims. */
async function readHeader(bytes: Uint8Array, name: string): Promise<Metadata> {
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (e) {
    const known = sniffUnsupported(bytes);
    if (known) throw new ImageError('unsupported', `${name}: ${known} images are not supported (use PNG, JPEG, WebP, AVIF, TIFF or GIF)`, { cause: e });
    throw new ImageError('unreadable', `${name}: not a readable image (${reason(e)})`, { cause: e });
  }
  if (!meta.format || !INPUT_FORMATS.has(meta.format)) {
    throw new ImageError('unsupported', `${name}: ${meta.format ?? 'unknown'} images are not supported (use PNG, JPEG, WebP, AVIF, TIFF or GIF)`);
  }
  // The bundled libheif decodes AV1 only; HEVC-coded HEIF (iPhone .heic) would fail later, less clearly.
  if (meta.format === 'heif' && meta.compression !== undefined && meta.compression !== 'av1') {
    throw new ImageError('unsupported', `${name}: ${meta.compression.toUpperCase()}-coded HEIF is not supported (AVIF is)`);
  }
  return meta;
}

/** A Uint16Array view of sharp's native-endian 16-bit output (copied if the Buffer is unaligned). */
function ushorts(b: Buffer): Uint16Array {
  if (b.byteOffset % 2 === 0) return new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2);
  return new Uint16Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

interface RawPixels {
  /** Integer samples, or float32 ones of the same values when decodePixels is asked for floats. */
  readonly data: Uint8Array | Uint16Array | Float32Array;
  readonly width: number;
  readonly height: number;
  readonly channels: number;
}

/** A Float32Array view of sharp's native-endian float output (copied if the Buffer is unaligned). */
function floats(b: Buffer): Float32Array {
  if (b.byteOffset % 4 === 0) return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** The decoded samples: integers of the source depth, or (`asFloat`) the same values as float32. */
async function decodePixels(bytes: Uint8Array, meta: Metadata, sixteen: boolean, maxPixels: number, name: string, asFloat: boolean): Promise<RawPixels> {
  // sharp >= 0.34 processes 16-bit RGB in Display P3, not sRGB, when it applies an embedded profile
  // itself. So for 16-bit input we skip that step and convert embedded -> sRGB once, at 16 bits, as
  // the output transform (an sRGB-tagged 16-bit file then comes through bit-exact). Without an
  // embedded profile nothing is converted: the data are taken as sRGB.
  const iccAt16 = sixteen && meta.hasProfile === true && meta.space !== 'cmyk';
  let out: { data: Buffer; info: OutputInfo };
  try {
    let pipe = sharp(bytes, { limitInputPixels: maxPixels, pages: 1, ignoreIcc: iccAt16 }).rotate();
    pipe = pipe.toColourspace(sixteen ? 'rgb16' : 'srgb');
    if (iccAt16) pipe = pipe.withIccProfile('srgb');
    out = await pipe.raw(asFloat ? { depth: 'float' } : sixteen ? { depth: 'ushort' } : {}).toBuffer({ resolveWithObject: true });
  } catch (e) {
    const msg = reason(e);
    if (/pixel limit/i.test(msg)) throw new ImageError('too-large', `${name}: exceeds the limit of ${maxPixels} pixels (${msg})`, { cause: e });
    if (/not (been )?built in|unsupported compression/i.test(msg)) throw new ImageError('unsupported', `${name}: cannot decode (${msg})`, { cause: e });
    throw new ImageError('unreadable', `${name}: truncated or corrupt image (${msg})`, { cause: e });
  }
  const { data, info } = out;
  return { data: asFloat ? floats(data) : sixteen ? ushorts(data) : data, width: info.width, height: info.height, channels: info.channels };
}

/**
 * Interleaved samples (grey or RGB, with or without alpha) -> RgbImage. Flattening happens in
 * integer units of the source depth with round-half-up, so a flattened 8-bit image is still on
 * the 8-bit grid (saving it as 8-bit PNG and loading it again is the identity).
 */
function toRgb(raw: RawPixels, sixteen: boolean, o: z.output<typeof LoadOptionsSchema>, name: string): RgbImage {
  const { data, width, height, channels } = raw;
  const max = sixteen ? 65535 : 255;
  const colours = channels <= 2 ? 1 : 3;
  const hasAlpha = channels === 2 || channels === 4;
  const n = width * height;
  const rgb = new Float32Array(n * 3);
  if (hasAlpha && o.alpha === 'refuse') {
    let clear = 0;
    for (let i = 0; i < n; i++) if (data[i * channels + channels - 1] < max) clear++;
    if (clear > 0) throw new ImageError('alpha', `${name}: ${clear} of ${n} pixels are not fully opaque (flatten them with alpha: 'flatten', or remove the alpha channel)`);
  }
  const bg = o.background.map((v) => (v * max) / 255);
  for (let i = 0; i < n; i++) {
    const p = i * channels;
    const a = hasAlpha ? data[p + channels - 1] : max;
    for (let c = 0; c < 3; c++) {
      const v = data[p + (colours === 1 ? 0 : c)];
      rgb[i * 3 + c] = (a === max ? v : Math.floor((v * a + bg[c] * (max - a)) / max + 0.5)) / max;
    }
  }
  return { width, height, data: rgb, bitDepth: sixteen ? 16 : 8 };
}

/** What the header of an image says, checked as decodeImage checks it, with no pixel decoded. */
export interface ImageHeader {
  readonly format: string;
  /** Size as decoded (after the EXIF orientation is applied). */
  readonly width: number;
  readonly height: number;
  readonly bitDepth: 8 | 16;
}

/** The header checks of decodeImage: format, size vs maxPixels, sample type. */
async function checkedHeader(bytes: Uint8Array, maxPixels: number, name: string): Promise<{ meta: Metadata; sixteen: boolean }> {
  const meta = await readHeader(bytes, name);
  const w = meta.width ?? 0, h = meta.height ?? 0;
  if (w <= 0 || h <= 0) throw new ImageError('unreadable', `${name}: the header gives no image size`);
  if (w * h > maxPixels) throw new ImageError('too-large', `${name}: ${w}x${h} = ${w * h} pixels exceeds the limit of ${maxPixels}`);
  // 8- and 16-bit integer samples only: libvips reads float TIFFs as linear scRGB, which real
  // files often are not, and 32-bit integers are rare enough to refuse rather than guess.
  const depth = meta.depth ?? 'uchar';
  if (!['uchar', 'char', 'ushort', 'short'].includes(depth)) {
    throw new ImageError('unsupported', `${name}: ${depth} samples are not supported (use 8- or 16-bit integer PNG or TIFF)`);
  }
  return { meta, sixteen: depth === 'ushort' || depth === 'short' };
}

/**
 * The checks decodeImage makes before decoding, and the size it will decode to, from the header
 * alone: for a PNG or JPEG the first few KB of the file are enough (other formats need the whole
 * file, still undecoded). Throws the ImageError decodeImage would.
 */
export async function readImageHeader(bytes: Uint8Array, opts: Pick<LoadOptions, 'maxPixels'> = {}, name = '<buffer>'): Promise<ImageHeader> {
  const o = parseOptions(opts);
  const { meta, sixteen } = await checkedHeader(bytes, o.maxPixels, name);
  const size = meta.autoOrient ?? { width: meta.width!, height: meta.height! };
  return { format: meta.format!, width: size.width, height: size.height, bitDepth: sixteen ? 16 : 8 };
}

/**
 * Opaque RGB (most photos): sharp casts to float as it writes its output, and the samples are
 * scaled in place, so the integer samples (3 or 6 bytes a pixel) are never held next to the
 * float image. v / max rounded to float32 is what toRgb computes for an opaque pixel, so the
 * result is the same to the bit.
 */
function scaleInPlace(data: Float32Array, width: number, height: number, sixteen: boolean): RgbImage {
  const max = sixteen ? 65535 : 255;
  for (let i = 0; i < data.length; i++) data[i] = data[i] / max;
  return { width, height, data, bitDepth: sixteen ? 16 : 8 };
}

/** Bytes of a PNG/JPEG/WebP/AVIF/TIFF/GIF file -> RgbImage; `name` goes into error messages. */
export async function decodeImage(bytes: Uint8Array, opts: LoadOptions = {}, name = '<buffer>'): Promise<RgbImage> {
  const o = parseOptions(opts);
  const { meta, sixteen } = await checkedHeader(bytes, o.maxPixels, name);
  if (meta.channels === 3 && meta.hasAlpha === false && meta.space !== 'cmyk') {
    const raw = await decodePixels(bytes, meta, sixteen, o.maxPixels, name, true);
    if (raw.channels === 3 && raw.data instanceof Float32Array) return scaleInPlace(raw.data, raw.width, raw.height, sixteen);
    // Not what the header promised: the integer path below handles every layout.
  }
  const raw = await decodePixels(bytes, meta, sixteen, o.maxPixels, name, false);
  return toRgb(raw, sixteen, o, name);
}
