/**
 * One prefix of an encoded file, decoded to pixels exactly as `diffc decompress` of that prefix
 * would: the file cut after `steps` steps (truncateDfc), the decoder's latent decode with the
 * file's reconstruction, the model's VAE, cropped to the image. Shared by eval's rate points and
 * compress --target-quality.
 */
import type { DiffusionModel } from '../models/types.js';
import type { NoisePredictor } from '../codec/model.js';
import type { RgbImage } from '../image/types.js';
import { cropTo } from '../image/geometry.js';
import { decompressLatents, truncateDfc, type DecodeContext } from '../codec/codec.js';

export interface PrefixDecoder {
  (steps: number): Promise<{ bytes: Uint8Array; image: RgbImage }>;
}

export function prefixDecoder(
  model: DiffusionModel, chain: NoisePredictor, denoiser: NoisePredictor, file: Uint8Array, ctx: DecodeContext,
  padded: { width: number; height: number }, size: { width: number; height: number },
): PrefixDecoder {
  return async (steps) => {
    const bytes = truncateDfc(file, steps, chain, ctx);
    const [d] = await decompressLatents(chain, [bytes], ctx, { denoiser });
    const [rgb] = await model.decode([d.latent], padded.width, padded.height);
    return { bytes, image: cropTo(rgb, size.width, size.height) };
  };
}
