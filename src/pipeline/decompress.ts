/**
 * .dfc bytes -> image, to a chosen chain prefix: the one decode path behind `diffc decompress`
 * and the decompressImage activity, so both give the same pixels.
 */
import { decompressLatents, stepBits, stepsWithinBpp } from '../codec/codec.js';
import { readDfc } from '../codec/format/index.js';
import type { ReconMethod } from '../codec/diffusion/reconstruct.js';
import { cropTo } from '../image/geometry.js';
import type { RgbImage } from '../image/types.js';
import { decodeContext, type LoadedModel } from './model-context.js';

export interface DecodeOptions {
  /** Decode only the first N coded steps. */
  readonly uptoStep?: number;
  /** Decode only the longest prefix whose bits (payload + header) stay within this many bpp. */
  readonly uptoBpp?: number;
  readonly method?: ReconMethod;
  readonly denoiseSteps?: number;
}

export interface Decoded {
  readonly image: RgbImage;
  readonly steps: number;
  readonly stepsCoded: number;
}

export async function decodeDfc(lm: LoadedModel, bytes: Uint8Array, opts: DecodeOptions = {}): Promise<Decoded> {
  const header = readDfc(bytes).header;
  const d = lm.model.info.downsample;
  const W = header.latent.width * d, H = header.latent.height * d;
  const ctx = decodeContext(lm, W, H);
  const predictor = await lm.model.predictor(W, H, { prompt: header.prompt });
  let upto = opts.uptoStep;
  if (opts.uptoBpp !== undefined) {
    upto = stepsWithinBpp(bytes.length, stepBits(bytes, predictor, ctx), header.image.width * header.image.height, opts.uptoBpp);
  }
  const [dec] = await decompressLatents(predictor, [bytes], ctx, { uptoSteps: upto, method: opts.method, denoiseSteps: opts.denoiseSteps });
  const [rgb] = await lm.model.decode([dec.latent], W, H);
  return { image: cropTo(rgb, header.image.width, header.image.height), steps: dec.stepsDecoded, stepsCoded: header.stepsCoded };
}
