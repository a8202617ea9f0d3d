/**
 * Rate control by quality: one chain serves every rate, so the shortest prefix of an encoded
 * file whose decode reaches a quality target is found by decoding prefixes exactly as the
 * decoder will (truncateDfc, then the decoder's own latent decode and VAE) and scoring them.
 * The search bisects over the step count assuming quality grows with steps (true of the expected
 * quality; a single photo's curve can dip by a little, so the result is the shortest prefix the
 * bisection met that reaches the target, with the prefix before it below it).
 */
import { z } from 'zod';
import type { RgbImage } from '../image/types.js';
import { msssim, psnr } from '../eval/metrics.js';
import { perceptualMetric } from '../eval/perceptual.js';
import { quantise } from '../image/io.js';

export const QUALITY_METRICS = ['psnr', 'ms-ssim', 'ssimulacra2', 'butteraugli'] as const;
export type QualityMetric = (typeof QUALITY_METRICS)[number];

export interface QualityTarget {
  readonly metric: QualityMetric;
  readonly value: number;
}

/** `metric=value`, e.g. ssimulacra2=60, psnr=30, ms-ssim=0.9, butteraugli=8 (at most). */
export const QualityTargetSpec = z.string().transform((s, ctx): QualityTarget => {
  const m = /^([a-z0-9-]+)=(-?[0-9]+(?:\.[0-9]+)?)$/.exec(s.trim());
  if (!m || !(QUALITY_METRICS as readonly string[]).includes(m[1])) {
    ctx.addIssue({ code: 'custom', message: `expected METRIC=VALUE with METRIC one of ${QUALITY_METRICS.join(', ')} (e.g. ssimulacra2=60), got '${s}'` });
    return z.NEVER;
  }
  return { metric: m[1] as QualityMetric, value: Number(m[2]) };
});

/** Butteraugli is a distance: a target is reached at or below it; the others at or above. */
export const meets = (t: QualityTarget, score: number) => (t.metric === 'butteraugli' ? score <= t.value : score >= t.value);

/** The image as its file will hold it: samples rounded to the image's bit depth, as the decoder writes them. */
export function asWritten(img: RgbImage): RgbImage {
  const max = img.bitDepth === 16 ? 65535 : 255;
  return { ...img, data: Float32Array.from(quantise(img, img.bitDepth), (v) => v / max) };
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
