/**
 * A quality target (`--target-quality ssimulacra2=60`, `targetQuality` of a job or a manifest
 * line) and what an output reports of it. Pure and free of node: modules: workflow code imports
 * it through the job schemas. The search itself is src/pipeline/target-quality.ts.
 */
import { z } from 'zod';

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

/** A job's target: the spec string, or the object it parses to (what crosses Temporal after parsing). */
export const QualityTargetField = z.union([
  QualityTargetSpec,
  z.object({ metric: z.enum(QUALITY_METRICS), value: z.number().finite() }).strict(),
]);

/** The spec string of a target: what an output's metadata records, and what a rerun compares. */
export const targetSpec = (t: QualityTarget): string => `${t.metric}=${t.value}`;

/** Butteraugli is a distance: a target is reached at or below it; the others at or above. */
export const meets = (t: QualityTarget, score: number): boolean => (t.metric === 'butteraugli' ? score <= t.value : score >= t.value);

/** With a quality target and no rate control of its own, the chain is coded up to this rate. */
export const TARGET_QUALITY_CAP_BPP = 1;

/** The bpp rate control of an encode: the one given, else the cap when a target is given with no other rate. */
export function rateCapBpp(rate: { bpp?: number; steps?: number; timestep?: number }, target: QualityTarget | undefined): number | undefined {
  if (rate.bpp !== undefined || !target || rate.steps !== undefined || rate.timestep !== undefined) return rate.bpp;
  return TARGET_QUALITY_CAP_BPP;
}

/** What an output reports of its target (diffc compress --json, compressImage's result, bulk manifest lines). */
export interface QualityReport {
  readonly metric: QualityMetric;
  readonly target: number;
  /** The metric of the kept prefix's decode, as its written pixels hold it. */
  readonly reached: number;
  /** False when even the whole coded chain stays below the target (then it is kept whole). */
  readonly target_met: boolean;
  /** Steps coded before the prefix was chosen, and prefixes decoded to choose it (absent when read back from a kept output's metadata). */
  readonly steps_coded?: number;
  readonly prefixes_decoded?: number;
}
