/**
 * What we read and write: the formats, their file extensions and their size limits, and a
 * magic-number sniff that tells a real-but-unsupported file (BMP, HEIC, JPEG XL ...) from garbage.
 */
import { extname } from 'node:path';
import { ImageError } from './errors.js';

export type ImageFormat = 'png' | 'jpeg' | 'webp' | 'avif' | 'tiff';
export const IMAGE_FORMATS: readonly ImageFormat[] = ['png', 'jpeg', 'webp', 'avif', 'tiff'];

/** sharp's metadata().format names of what we decode ('heif' covers AVIF; GIF: first frame). */
export const INPUT_FORMATS: ReadonlySet<string> = new Set(['png', 'jpeg', 'webp', 'heif', 'avif', 'tiff', 'gif']);

/** Largest side each encoder accepts (sharp's own checks; PNG and TIFF are limited by memory only). */
export const MAX_SIDE: Readonly<Record<ImageFormat, number>> = {
  png: 2 ** 31 - 1, jpeg: 65535, webp: 16383, avif: 16384, tiff: 2 ** 31 - 1,
};

/** Only PNG and TIFF store 16-bit samples here (sharp writes 8-bit JPEG, WebP and AVIF). */
export const SIXTEEN_BIT: ReadonlySet<ImageFormat> = new Set(['png', 'tiff']);

const BY_EXTENSION: Readonly<Record<string, ImageFormat>> = {
  '.png': 'png', '.jpg': 'jpeg', '.jpeg': 'jpeg', '.jpe': 'jpeg', '.jfif': 'jpeg',
  '.webp': 'webp', '.avif': 'avif', '.tif': 'tiff', '.tiff': 'tiff',
};

/** The output format: the one given, else the one the file extension names. */
export function formatForPath(path: string, given?: ImageFormat): ImageFormat {
  if (given) {
    if (!IMAGE_FORMATS.includes(given)) throw new ImageError('unsupported', `${path}: cannot write format '${String(given)}' (use ${IMAGE_FORMATS.join(', ')})`);
    return given;
  }
  const ext = extname(path).toLowerCase();
  const f = BY_EXTENSION[ext];
  if (!f) throw new ImageError('unsupported', `${path}: cannot tell the output format from '${ext || 'no extension'}' (use .png, .jpg, .webp, .avif or .tif)`);
  return f;
}

const ascii = (b: Uint8Array, at: number, n: number) => String.fromCharCode(...b.subarray(at, at + n));

/** Names formats that sharp's bundled libvips cannot decode, from their first bytes; else undefined. */
export function sniffUnsupported(b: Uint8Array): string | undefined {
  if (b.length < 12) return undefined;
  if (ascii(b, 0, 2) === 'BM') return 'BMP';
  if (ascii(b, 0, 4) === '8BPS') return 'Photoshop PSD';
  if (b[0] === 0xff && b[1] === 0x0a) return 'JPEG XL';
  if (ascii(b, 4, 8) === 'JXL \r\n\x87\n') return 'JPEG XL';
  if (ascii(b, 4, 8) === 'jP  \r\n\x87\n') return 'JPEG 2000';
  if (ascii(b, 4, 4) === 'ftyp' && /^(heic|heix|hevc|hevx|heim|heis)$/.test(ascii(b, 8, 4))) return 'HEIC (HEVC-coded HEIF)';
  if (b[0] === 0 && b[1] === 0 && b[2] === 1 && b[3] === 0) return 'ICO';
  return undefined;
}
