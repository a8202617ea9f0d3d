/**
 * Image -> latent, the first step of every compression (diffc compress and the encodeLatent
 * activity): decode, pad to the model's multiple, VAE-encode. Only the latent and the sizes are
 * returned, so the decoded and padded pixels (12 bytes a pixel each) are garbage once this
 * returns, not held through the chain and the reconstruction.
 */
import { padToMultiple } from '../image/geometry.js';
import type { RgbImage } from '../image/types.js';
import type { LoadedModel } from './model-context.js';
import { imageCondition } from './conditioning.js';

export interface Size { readonly width: number; readonly height: number }

export interface ImageLatent {
  readonly latent: Float32Array;
  /** The image's own size, and the padded size the model sees. */
  readonly image: Size;
  readonly padded: Size;
  /** A conditional model's coded condition and its decoded features (imageCondition). */
  readonly condition?: { readonly bytes: Uint8Array; readonly features: Float32Array };
}

/** `decoded` is the decoding already under way, so a caller can drop the file's bytes right after this call. */
export async function imageLatent(lm: LoadedModel, decoded: Promise<RgbImage>): Promise<ImageLatent> {
  const img = await decoded;
  const { image: padded } = padToMultiple(img, lm.model.info.sizeMultiple);
  const [latent] = await lm.model.encode([padded]);
  const condition = await imageCondition(lm.model, padded);
  return { latent, image: { width: img.width, height: img.height }, padded: { width: padded.width, height: padded.height }, ...(condition ? { condition } : {}) };
}
