/**
 * .dfc bytes -> image, to a chosen chain prefix: the one decode path behind `diffc decompress`
 * and the decompressImage activity, so both give the same pixels. The chain runs with the
 * header's guidance and the final reconstruction with its denoise guidance (a file without the
 * conditioning field: its family's legacy values, docs/format.md §3.8).
 */
import { decodeRange, decodeTarget, finishDecode, stepBits, stepsWithinBpp, type DecodeState } from '../codec/codec.js';
import { readDfc, type DfcHeader } from '../codec/format/index.js';
import type { ReconMethod } from '../codec/diffusion/reconstruct.js';
import { cropTo } from '../image/geometry.js';
import type { RgbImage } from '../image/types.js';
import { decodeContext, type LoadedModel } from './model-context.js';
import { conditionedPredictors, fileCondition, fileConditioning, guidanceValue, type FileConditioning } from './conditioning.js';

export interface DecodeOptions {
  /** Decode only the first N coded steps. */
  readonly uptoStep?: number;
  /** Decode only the longest prefix whose bits (payload + header) stay within this many bpp. */
  readonly uptoBpp?: number;
  readonly method?: ReconMethod;
  readonly denoiseSteps?: number;
  /** Final reconstruction guidance instead of the header's (the chain always uses the header's). */
  readonly denoiseGuidance?: number;
}

export interface Decoded {
  readonly image: RgbImage;
  readonly steps: number;
  readonly stepsCoded: number;
  /** The guidance the chain and the reconstruction ran with (legacy: the file has no conditioning field). */
  readonly conditioning: FileConditioning;
}

/**
 * A decode in resumable parts: `steps` runs the chain from a state (a checkpoint) over a range,
 * `finish` reconstructs and VAE-decodes. decodeDfc runs both in one pass; the decompressImage
 * activities run the chain in checkpointed ranges, so both give the same pixels.
 */
export interface DecodeSession {
  readonly header: DfcHeader;
  /** Chain steps this decode goes through (the file's, or the prefix uptoStep/uptoBpp picks). */
  readonly stepsTarget: number;
  readonly conditioning: FileConditioning;
  steps(from?: DecodeState, range?: { readonly to?: number; readonly pause?: () => boolean }): Promise<DecodeState>;
  finish(at: DecodeState): Promise<Decoded>;
}

export async function openDecode(lm: LoadedModel, bytes: Uint8Array, opts: DecodeOptions = {}): Promise<DecodeSession> {
  const header = readDfc(bytes).header;
  const d = lm.model.info.downsample;
  const W = header.latent.width * d, H = header.latent.height * d;
  const ctx = decodeContext(lm, W, H);
  const fromFile = fileConditioning(header, lm.model.info.family);
  const conditioning = opts.denoiseGuidance === undefined ? fromFile : { ...fromFile, denoiseGuidance: guidanceValue(opts.denoiseGuidance, 'denoise guidance') };
  const { chain, denoiser } = await conditionedPredictors(lm.model, W, H, header.prompt, conditioning, await fileCondition(lm.model, header));
  let upto = opts.uptoStep;
  if (opts.uptoBpp !== undefined) {
    upto = stepsWithinBpp(bytes.length, stepBits(bytes, chain, ctx), header.image.width * header.image.height, opts.uptoBpp);
  }
  const stepsTarget = decodeTarget(bytes, chain, ctx, upto);
  return {
    header, stepsTarget, conditioning,
    async steps(from, range = {}) {
      const [at] = await decodeRange(chain, [{ bytes, from }], ctx, { uptoSteps: stepsTarget, to: range.to, pause: range.pause });
      return at;
    },
    async finish(at) {
      if (at.step !== stepsTarget) throw new RangeError(`finish needs the chain decoded to step ${stepsTarget}, not ${at.step}`);
      const [dec] = await finishDecode(chain, [{ bytes, at }], ctx, { method: opts.method, denoiseSteps: opts.denoiseSteps, denoiser });
      const [rgb] = await lm.model.decode([dec.latent], W, H);
      return { image: cropTo(rgb, header.image.width, header.image.height), steps: dec.stepsDecoded, stepsCoded: header.stepsCoded, conditioning };
    },
  };
}

/** .dfc -> image in one pass. */
export async function decodeDfc(lm: LoadedModel, bytes: Uint8Array, opts: DecodeOptions = {}): Promise<Decoded> {
  const session = await openDecode(lm, bytes, opts);
  return session.finish(await session.steps());
}
