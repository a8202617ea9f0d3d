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
import { readDfc, type DfcHeader } from '../codec/format/index.js';
import { conditionedPredictors, fileCondition, fileConditioning } from './conditioning.js';
import { decodeContext, type LoadedModel } from './model-context.js';

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

/** prefixDecoder for a whole encoded file, set up from its header as openDecode sets up diffc decompress. */
export async function filePrefixDecoder(lm: LoadedModel, file: Uint8Array): Promise<{ decode: PrefixDecoder; header: DfcHeader }> {
  const header = readDfc(file).header;
  const d = lm.model.info.downsample;
  const padded = { width: header.latent.width * d, height: header.latent.height * d };
  const { chain, denoiser } = await conditionedPredictors(
    lm.model, padded.width, padded.height, header.prompt, fileConditioning(header, lm.model.info.family), await fileCondition(lm.model, header),
  );
  return { decode: prefixDecoder(lm.model, chain, denoiser, file, decodeContext(lm, padded.width, padded.height), padded, header.image), header };
}
