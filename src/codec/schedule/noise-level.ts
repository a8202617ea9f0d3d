/**
 * Noise-level conventions, converted in one place. The codec works in the variance-preserving
 * (DDPM) parameterisation x_t = sqrt(ab) x0 + sqrt(1 - ab) eps, identified by ab = alpha-bar.
 *   SNR = ab / (1 - ab)
 *   Rectified flow x = (1 - s) x0 + s eps has SNR = ((1 - s)/s)^2 and equals the DDPM-form
 *   latent times sqrt((1 - s)^2 + s^2) (Vonderfecht & Liu 2025, appendix A.3).
 */

export function snrFromAlphaBar(ab: number): number {
  return ab / (1 - ab);
}

export function alphaBarFromSnr(snr: number): number {
  return snr / (1 + snr);
}

/** Flow sigma s in (0,1) with the same SNR as alpha-bar ab. */
export function flowSigmaFromAlphaBar(ab: number): number {
  return 1 / (1 + Math.sqrt(snrFromAlphaBar(ab)));
}

export function alphaBarFromFlowSigma(s: number): number {
  const a = (1 - s) ** 2;
  return a / (a + s * s);
}

/** Multiply a DDPM-form latent by this to get the flow-form latent at the same SNR. */
export function flowInputScale(s: number): number {
  return Math.sqrt((1 - s) ** 2 + s * s);
}

/**
 * Continuous timestep whose alpha-bar equals ab, by linear interpolation in log-SNR between the
 * table's integer timesteps (the table is decreasing in t). Clamped to [0, T-1].
 */
export function timestepFromAlphaBar(table: Float64Array, ab: number): number {
  const target = Math.log(snrFromAlphaBar(ab));
  const ls = (t: number) => Math.log(snrFromAlphaBar(table[t]));
  if (target >= ls(0)) return 0;
  const last = table.length - 1;
  if (target <= ls(last)) return last;
  let lo = 0, hi = last; // ls(lo) > target >= ls(hi)
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (ls(mid) > target) lo = mid; else hi = mid;
  }
  return lo + (ls(lo) - target) / (ls(lo) - ls(hi));
}

/** alpha-bar at a continuous timestep, interpolating log-SNR between integer steps. */
export function alphaBarAt(table: Float64Array, t: number): number {
  if (t <= 0) return table[0];
  const last = table.length - 1;
  if (t >= last) return table[last];
  const i = Math.floor(t);
  const f = t - i;
  const ls = (1 - f) * Math.log(snrFromAlphaBar(table[i])) + f * Math.log(snrFromAlphaBar(table[i + 1]));
  return alphaBarFromSnr(Math.exp(ls));
}
