/**
 * Rate control by quality: one chain serves every rate, so the shortest prefix of an encoded
 * file whose decode reaches a quality target is found by decoding prefixes exactly as the
 * decoder will (truncateDfc, then the decoder's own latent decode and VAE) and scoring them.
 * The search bisects over the step count assuming quality grows with steps (true of the expected
 * quality; a single photo's curve can dip by a little, so the result is the shortest prefix the
 * bisection met that reaches the target, with the prefix before it below it).
 */
import type { RgbImage } from '../image/types.js';
import { msssim, psnr } from '../eval/metrics.js';
import { perceptualMetric } from '../eval/perceptual.js';
import { quantise } from '../image/io.js';
import { meets, type QualityMetric, type QualityReport, type QualityTarget } from './quality-target.js';
import type { PrefixDecoder } from './decode-prefix.js';

export * from './quality-target.js';

/** The image as its file will hold it: samples rounded to the image's bit depth, as the decoder writes them. */
export function asWritten(img: RgbImage): RgbImage {
  const max = img.bitDepth === 16 ? 65535 : 255;
  return { ...img, data: Float32Array.from(quantise(img, img.bitDepth), (v) => v / max) };
}

/** Throws ToolUnavailableError now, before any encode, when a perceptual target's tool is missing. */
export function requireQualityTool(t: QualityTarget | undefined): void {
  if (t && (t.metric === 'ssimulacra2' || t.metric === 'butteraugli')) perceptualMetric(t.metric);
}

/** The scorer of a target's metric against the original (a tool for the perceptual ones). */
export function qualityScorer(metric: QualityMetric, original: RgbImage): (img: RgbImage) => Promise<number> {
  switch (metric) {
    case 'psnr': return async (img) => psnr(original, img);
    case 'ms-ssim': return async (img) => msssim(original, img);
    case 'ssimulacra2':
    case 'butteraugli': {
      const f = perceptualMetric(metric);
      return (img) => f(original, img);
    }
  }
}

export interface PrefixChoice {
  readonly steps: number;
  readonly score: number;
  /** False when even the whole coded chain stays below the target (then steps = all of it). */
  readonly met: boolean;
  /** Every prefix decoded, in the order tried. */
  readonly tried: readonly { steps: number; score: number }[];
}

/** The shortest prefix of `stepsCoded` steps whose decode reaches the target (see above). */
export async function shortestPrefixMeeting(
  stepsCoded: number, target: QualityTarget, scoreAt: (steps: number) => Promise<number>,
): Promise<PrefixChoice> {
  if (!Number.isInteger(stepsCoded) || stepsCoded < 1) throw new RangeError(`no coded steps to choose from (${stepsCoded})`);
  const tried: { steps: number; score: number }[] = [];
  const cache = new Map<number, number>();
  const at = async (s: number) => {
    let v = cache.get(s);
    if (v === undefined) {
      v = await scoreAt(s);
      cache.set(s, v);
      tried.push({ steps: s, score: v });
    }
    return v;
  };
  const full = await at(stepsCoded);
  if (!meets(target, full)) return { steps: stepsCoded, score: full, met: false, tried };
  let lo = 0, hi = stepsCoded; // lo: known (or assumed, 0) below the target; hi: reaches it
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (meets(target, await at(mid))) hi = mid; else lo = mid;
  }
  return { steps: hi, score: cache.get(hi)!, met: true, tried };
}

/**
 * The shortest prefix of an encoded file whose decode, as its image file will hold it, reaches
 * the target: the bytes to write, that decode (the reconstruction the decoder will make), and
 * the report. One search for diffc compress and compressImage's assembleDfc.
 */
export async function shortestPrefixFile(
  target: QualityTarget, stepsCoded: number, original: RgbImage, decode: PrefixDecoder,
): Promise<{ bytes: Uint8Array; image: RgbImage; steps: number; report: QualityReport }> {
  const score = qualityScorer(target.metric, original);
  const decoded = new Map<number, Awaited<ReturnType<PrefixDecoder>>>();
  const choice = await shortestPrefixMeeting(stepsCoded, target, async (steps) => {
    const d = await decode(steps);
    decoded.set(steps, d);
    return score(asWritten(d.image));
  });
  const { bytes, image } = decoded.get(choice.steps)!;
  return {
    bytes, image, steps: choice.steps,
    report: { metric: target.metric, target: target.value, reached: +choice.score.toFixed(4), target_met: choice.met, steps_coded: stepsCoded, prefixes_decoded: choice.tried.length },
  };
}
