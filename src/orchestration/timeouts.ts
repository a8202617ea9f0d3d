/**
 * Activity timeouts sized from the work, not constants (pure: the workflows call it).
 *
 *   heartbeat      a dead worker is noticed within this. Activities heartbeat from a timer for
 *                  their whole life, so it only has to outlast the longest stretch the worker's
 *                  event loop was blocked (the worker measures it: `stallSeconds`), never a step.
 *   start-to-close a hung (alive, heartbeating, stuck) attempt ends within this. It covers a
 *                  model load on a cold worker plus the work at a margin over the measured step
 *                  time; before any step is measured, a per-megapixel ceiling.
 *
 * A timed-out range resumes from its last checkpoint, so generous bounds cost nothing but the
 * time to notice a hang.
 */

/** What the workflow knows about the work so far. */
export interface MeasuredWork {
  /** Pixels of the image (from its header). */
  readonly pixels: number;
  /** Mean seconds per chain step measured on a worker (absent: none measured yet). */
  readonly stepSeconds?: number;
  /** Longest event-loop stall a worker's heartbeat timer saw, seconds (absent: none measured). */
  readonly stallSeconds?: number;
}

export type GpuWork =
  | { readonly kind: 'latent' }
  | { readonly kind: 'steps'; readonly steps: number }
  /** With a quality target, assemble decodes prefixes of the `steps` coded to choose one. */
  | { readonly kind: 'assemble'; readonly qualitySearch?: { readonly steps: number } }
  | { readonly kind: 'decode-finish'; readonly reconSteps: number };

/** A cold worker loads (and may first sync) the model before any work: Flux-dev is ~30 GB. */
export const LOAD_ALLOWANCE_S = 30 * 60;
/** Before a step is measured: a ceiling on one step per megapixel (an 8K Flux step on a slow GPU). */
export const UNMEASURED_STEP_S_PER_MP = 60;
/** VAE encode or decode per megapixel, ceiling (tiled VAE of a 4K photo on a CPU worker). */
export const VAE_S_PER_MP = 120;
/** Measured step time times this, for the range's start-to-close. */
export const STEP_MARGIN = 4;
export const MAX_START_TO_CLOSE_S = 24 * 3600;
/** A prefix decode's final reconstruction, bounded as this many chain steps (flow/ancestral denoising). */
export const RECON_ALLOWANCE_STEPS = 50;

/** Prefix decodes a quality search makes at most: the whole chain, then a bisection. */
export const qualitySearchDecodes = (steps: number): number => 1 + Math.ceil(Math.log2(Math.max(steps, 1)));
export const MAX_HEARTBEAT_S = 3600;

export interface ActivityTimeouts {
  readonly startToCloseTimeout: string;
  readonly heartbeatTimeout: string;
}

const mp = (pixels: number) => Math.max(pixels, 1) / 1e6;

function stepBound(w: MeasuredWork, steps: number): number {
  return w.stepSeconds !== undefined && w.stepSeconds > 0 ? STEP_MARGIN * steps * w.stepSeconds : steps * mp(w.pixels) * UNMEASURED_STEP_S_PER_MP;
}

/** Seconds of start-to-close for one activity of this kind. */
export function startToCloseSeconds(work: GpuWork, w: MeasuredWork): number {
  let s = LOAD_ALLOWANCE_S;
  if (work.kind === 'latent') s += mp(w.pixels) * VAE_S_PER_MP;
  if (work.kind === 'steps') s += stepBound(w, work.steps);
  if (work.kind === 'assemble') {
    s += 10 * 60;
    // A decode step is no slower than an encode step (the decoder selects no candidates).
    const q = work.qualitySearch;
    if (q) s += qualitySearchDecodes(q.steps) * (stepBound(w, q.steps + RECON_ALLOWANCE_STEPS) + mp(w.pixels) * VAE_S_PER_MP);
  }
  if (work.kind === 'decode-finish') s += stepBound(w, work.reconSteps) + mp(w.pixels) * VAE_S_PER_MP;
  return Math.min(MAX_START_TO_CLOSE_S, Math.ceil(s));
}

/** Seconds of heartbeat timeout: the job's, or more when a worker's event loop stalled longer. */
export function heartbeatSeconds(configured: number, w: MeasuredWork): number {
  const stall = w.stallSeconds ?? 0;
  return Math.min(MAX_HEARTBEAT_S, Math.max(configured, Math.ceil(3 * stall + 10)));
}

export function gpuTimeouts(work: GpuWork, w: MeasuredWork, heartbeatTimeoutSeconds: number): ActivityTimeouts {
  return { startToCloseTimeout: `${startToCloseSeconds(work, w)} seconds`, heartbeatTimeout: `${heartbeatSeconds(heartbeatTimeoutSeconds, w)} seconds` };
}

/** Folds one activity's measurements into what the workflow knows (the max stall, the latest step time). */
export function measured(w: MeasuredWork, r: { readonly stepSeconds?: number; readonly stallSeconds?: number }): MeasuredWork {
  return {
    pixels: w.pixels,
    stepSeconds: r.stepSeconds ?? w.stepSeconds,
    stallSeconds: Math.max(w.stallSeconds ?? 0, r.stallSeconds ?? 0) || undefined,
  };
}
