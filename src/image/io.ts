/**
 * Image files <-> RgbImage: loadImage reads and decodes (decode.ts), saveImage encodes
 * (encode.ts) and writes atomically (src/fs/atomic.ts). Every failure is an ImageError naming the
 * file; no raw sharp or fs error escapes.
 */
import { readFile } from 'node:fs/promises';
import { AtomicWriteError, exists, writeFileAtomic } from '../fs/atomic.js';
import { decodeImage, type LoadOptions } from './decode.js';
import { encodeImage, type EncodeOptions } from './encode.js';
import { ImageError, reason } from './errors.js';
import { formatForPath, type ImageFormat } from './formats.js';
import type { RgbImage } from './types.js';

export { decodeImage, readImageHeader, DEFAULT_MAX_PIXELS, type ImageHeader, type LoadOptions } from './decode.js';
export { encodeImage, quantise, QUALITY_RANGE, type EncodeOptions } from './encode.js';
export { IMAGE_FORMATS, type ImageFormat } from './formats.js';

/** A file path or the file's bytes. */
export async function loadImage(input: string | Uint8Array, opts: LoadOptions = {}): Promise<RgbImage> {
  if (typeof input !== 'string') return decodeImage(input, opts);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(input);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : reason(e);
    throw new ImageError('unreadable', `${input}: ${why}`, { cause: e });
  }
  return decodeImage(bytes, opts, input);
}

export interface SaveOptions extends EncodeOptions {
  /** Default: from the file extension (.png .jpg/.jpeg .webp .avif .tif/.tiff). */
  readonly format?: ImageFormat;
  /** Overwrite an existing file (otherwise ImageError 'exists'). */
  readonly force?: boolean;
}

/**
 * Encodes, then writes whole or not at all: a temporary file in the same directory, fsync,
 * rename. On any failure (ENOSPC included) the temporary file is removed and an existing target
 * is left untouched.
 */
export async function saveImage(img: RgbImage, path: string, opts: SaveOptions = {}): Promise<void> {
  const format = formatForPath(path, opts.format);
  const force = opts.force ?? false;
  // Checked before encoding (cheap refusal) and again by the writer just before the rename.
  if (!force && (await exists(path))) throw new ImageError('exists', `${path} exists (use --force to overwrite)`);
  const bytes = await encodeImage(img, format, opts, path);
  try {
    await writeFileAtomic(path, bytes, force);
  } catch (e) {
    if (e instanceof AtomicWriteError && e.code === 'exists') throw new ImageError('exists', e.message, { cause: e });
    throw new ImageError('write', e instanceof AtomicWriteError ? e.message : `cannot write ${path}: ${reason(e)}`, { cause: e });
  }
}
