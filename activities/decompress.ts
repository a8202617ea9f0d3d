/**
 * decompressImage's activity: .dfc in a store -> image in a store, through the same decode path
 * as `diffc decompress` (src/pipeline/decompress.ts), so the pixels are the CLI's.
 */
import { encodeImage } from '../src/image/io.js';
import { formatForPath } from '../src/image/formats.js';
import { decodeDfc } from '../src/pipeline/decompress.js';
import { workerModel } from '../src/orchestration/runtime.js';
import type { DecompressImageInput, DecompressImageResult } from '../src/orchestration/types.js';
import { activity } from './failures.js';
import { withStore } from './store-io.js';

export async function decodeToImage(job: DecompressImageInput): Promise<DecompressImageResult> {
  return activity(async () => {
    const lm = await workerModel(job.model);
    const bytes = await withStore(job.store, (s) => s.get(job.source));
    const dec = await decodeDfc(lm, bytes, { uptoBpp: job.uptoBpp, uptoStep: job.uptoStep, denoiseGuidance: job.denoiseGuidance });
    const out = await encodeImage(dec.image, formatForPath(job.output), {}, job.output);
    await withStore(job.outputStore ?? job.store, (s) => s.put(job.output, out));
    return { output: job.output, bytes: out.length, width: dec.image.width, height: dec.image.height, steps: dec.steps, stepsCoded: dec.stepsCoded };
  });
}
