/**
 * The math of one DiffC step t -> s (s less noisy), in the DDPM parameterisation
 * x_t = sqrt(ab_t) x0 + sqrt(1 - ab_t) eps (Ho et al. 2020, eqs. 6-7, for arbitrary jumps):
 *   q(x_s | x_t, x0) = N(cX0 x0 + cXt x_t, sigma^2 I)
 *   p(x_s | x_t)     = N(cX0 x0hat + cXt x_t, sigma^2 I)      (same variance)
 *   d = (mu_q - mu_p)/sigma = cX0 (x0 - x0hat)/sigma,  KL(q||p) = |d|^2 / 2 nats.
 * ab_t = 0 is the prior (pure noise, nothing known): then cXt = 0 and the step sends x_s ~ q(x_s|x0).
 */

export interface StepCoefficients {
  readonly cX0: number;
  readonly cXt: number;
  readonly sigma: number;
}

export function posteriorCoefficients(abT: number, abS: number): StepCoefficients {
  if (!(abT >= 0 && abT < abS && abS < 1)) {
    throw new RangeError(`need 0 <= alphaBar_t < alphaBar_s < 1, got ${abT} -> ${abS}`);
  }
  const aTS = abT / abS; // alpha_{t|s}
  return {
    cX0: (Math.sqrt(abS) * (1 - aTS)) / (1 - abT),
    cXt: (Math.sqrt(aTS) * (1 - abS)) / (1 - abT),
    sigma: Math.sqrt(((1 - abS) * (1 - aTS)) / (1 - abT)),
  };
}

/** Model mean mu_p = cX0 x0hat + cXt x_t, rounded to float32 (the spec's mu_p). */
export function modelMean(c: StepCoefficients, x0hat: Float32Array, xt: Float32Array | null, out = new Float32Array(x0hat.length)): Float32Array {
  for (let i = 0; i < x0hat.length; i++) out[i] = c.cX0 * x0hat[i] + (xt ? c.cXt * xt[i] : 0);
  return out;
}

/** d = cX0 (x0 - x0hat) / sigma, as float32. */
export function standardisedOffset(c: StepCoefficients, x0: Float32Array, x0hat: Float32Array, out = new Float32Array(x0.length)): Float32Array {
  const g = c.cX0 / c.sigma;
  for (let i = 0; i < x0.length; i++) out[i] = g * (x0[i] - x0hat[i]);
  return out;
}

export const LN2 = Math.LN2;

/** KL(q||p) in bits for a standardised offset d: |d|^2 / (2 ln 2). */
export function klBits(d: Float32Array): number {
  let s = 0;
  for (let i = 0; i < d.length; i++) s += d[i] * d[i];
  return s / (2 * LN2);
}

/** Forward-process sample x_t = sqrt(ab) x0 + sqrt(1-ab) eps. */
export function diffuse(x0: Float32Array, eps: Float32Array, ab: number, out = new Float32Array(x0.length)): Float32Array {
  const a = Math.sqrt(ab), b = Math.sqrt(1 - ab);
  for (let i = 0; i < x0.length; i++) out[i] = a * x0[i] + b * eps[i];
  return out;
}
