import { CodedError } from '../errors.js';
/**
 * The one error type of image I/O: loadImage/saveImage never let a raw sharp or fs error escape.
 * `code` says what the user can do about it:
 *   unreadable   missing, truncated, corrupt or not an image at all
 *   unsupported  a real image format or feature we cannot read/write (BMP, HEIC, SVG, 16-bit JPEG)
 *   too-large    over the pixel limit (decompression-bomb guard) or an output format's size limit
 *   alpha        has transparent pixels and the caller asked to refuse them
 *   exists       the output file exists and overwriting was not forced
 *   write        the output could not be written (no such directory, permissions, disk full)
 */
export type ImageErrorCode = 'unreadable' | 'unsupported' | 'too-large' | 'alpha' | 'exists' | 'write';

/** Messages start with the file name (or '<buffer>' for in-memory input). */
export class ImageError extends CodedError<ImageErrorCode> {
  override readonly name = 'ImageError';
}

export function isImageError(e: unknown, code?: ImageErrorCode): e is ImageError {
  return e instanceof ImageError && (code === undefined || e.code === code);
}

/** The message of whatever a library threw, on one line. */
export function reason(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').trim();
}
