/**
 * Rectified-flow sigma schedules (Flux-dev) and their DDPM equivalents.
 * Flux shifts the sigmas by mu, linear in the image's token count (base 0.5 at 256 tokens, max
 * 1.15 at 4096), sigma' = e^mu / (e^mu + (1/sigma - 1)).
 */
import { alphaBarFromFlowSigma } from './noise-level.js';

export interface FluxShiftConfig {
  baseShift: number;
  maxShift: number;
  baseSeqLen: number;
  maxSeqLen: number;
}

export const FLUX_DEV_SHIFT: FluxShiftConfig = { baseShift: 0.5, maxShift: 1.15, baseSeqLen: 256, maxSeqLen: 4096 };

/** Flux token count: the latent (H/8 x W/8) packed in 2x2 patches. */
export function fluxSeqLen(width: number, height: number): number {
  return Math.ceil(height / 16) * Math.ceil(width / 16);
}

export function fluxMu(seqLen: number, c: FluxShiftConfig = FLUX_DEV_SHIFT): number {
  const m = (c.maxShift - c.baseShift) / (c.maxSeqLen - c.baseSeqLen);
  return c.baseShift + m * (seqLen - c.baseSeqLen);
}

export function shiftSigma(sigma: number, mu: number): number {
  if (sigma <= 0) return 0;
  if (sigma >= 1) return 1;
  return Math.exp(mu) / (Math.exp(mu) + (1 / sigma - 1));
}

/** Flux-dev sampling sigmas for `steps` steps at a resolution, from 1 down to (not including) 0. */
export function fluxSigmas(steps: number, width: number, height: number): number[] {
  const mu = fluxMu(fluxSeqLen(width, height));
  return Array.from({ length: steps }, (_, i) => shiftSigma(1 - i / steps, mu));
}

/** The DDPM alpha-bars with the same SNR as the given flow sigmas. */
export function flowSigmasToAlphaBars(sigmas: readonly number[]): number[] {
  return sigmas.map(alphaBarFromFlowSigma);
}
