/**
 * The guard interval (docs/learned-entropy.md §3): which scales sit so near a bucket boundary
 * that another machine's float error could move them across, and, for the decoder, the
 * boundary such a listed element is near.
 */
import { BOUNDS } from './gaussian-tables.js';

export const GUARD_MIN = 8;
export const GUARD_MAX = 23;
export const GUARD_DEFAULT = 14;

/** The boundary k (1..63) whose interval B_k(1 ± 2^-g) holds σ, or 0 when none does. */
export function guardedBoundary(sigma: number, g: number): number {
  const tau = 2 ** -g;
  // Intervals are disjoint for g >= 8 (boundaries are 2^(1/6) apart), so the first hit is the one.
  let lo = 0, hi = BOUNDS.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (BOUNDS[mid] * (1 + tau) < sigma) lo = mid + 1; else hi = mid;
  }
  const b = BOUNDS[lo];
  return b * (1 - tau) <= sigma && sigma <= b * (1 + tau) ? lo + 1 : 0;
}

/** The boundary nearest σ' (the lower on a tie): where the decoder places a listed element. */
export function nearestBoundary(sigma: number): number {
  let lo = 0, hi = BOUNDS.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (BOUNDS[mid] < sigma) lo = mid + 1; else hi = mid;
  }
  // BOUNDS[lo] is the first >= σ (or the last); compare with the one below.
  if (lo > 0 && sigma - BOUNDS[lo - 1] <= BOUNDS[lo] - sigma) lo--;
  return lo + 1;
}
