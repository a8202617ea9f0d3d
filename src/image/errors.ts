export type ImageErrorCode = 'unreadable' | 'unsupported' | 'too-large' | 'alpha' | 'exists' | 'write';

/** Bad or unwritable images: a clear message naming the file, never a raw sharp/fs error. */
export class ImageError extends Error {
  override readonly name = 'ImageError';
  constructor(readonly code: ImageErrorCode, message: string) {
    super(message);
  }
}
