/**
 * The Gaussian CDF with IEEE-754 double `+ - * /` and comparisons only, in a fixed order
 * (docs/learned-entropy.md §2.2): every implementation that follows it builds the same tables.
 * Math.exp and friends are not used because engines and libms differ in their last bits.
 */

const LN2_HI = 0.693147180369123816490;
const LN2_LO = 1.90821492927058770002e-10;
const INV_SQRT_PI = 0.5641895835477563;
const TWO_OVER_SQRT_PI = 1.1283791670955126;
const SQRT2 = 1.4142135623730951;

/** e^x: range reduction by ln 2 in two parts, a 24-term Taylor polynomial, exact scaling by 2^k. */
export function detExp(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x <= -745) return 0;
  if (x >= 710) return Infinity;
  const k = Math.round(x / LN2_HI);
  const r = (x - k * LN2_HI) - k * LN2_LO;
  let t = 1;
  for (let j = 24; j >= 1; j--) t = 1 + (r / j) * t;
  // Doubling and halving are exact (until the result leaves the normal range).
  if (k > 0) for (let i = 0; i < k; i++) t *= 2;
  else for (let i = 0; i < -k; i++) t *= 0.5;
  return t;
}

/** erfc(z) for z >= 0: the Taylor series of erf below 3, a continued fraction from 3 on. */
export function detErfc(z: number): number {
  if (!(z >= 0)) throw new RangeError(`detErfc needs z >= 0, got ${z}`);
  if (z < 3) {
    const z2 = z * z;
    let t = z, sum = z;
    for (let j = 1; j < 60; j++) {
      t = (t * -z2 * (2 * j - 1)) / (j * (2 * j + 1));
      sum += t;
    }
    return 1 - TWO_OVER_SQRT_PI * sum;
  }
  let c = z;
  for (let j = 80; j >= 1; j--) c = z + j / 2 / c;
  return (detExp(-(z * z)) * INV_SQRT_PI) / c;
}

/** The standard normal CDF. */
export function detPhi(x: number): number {
  const u = Math.abs(x) / SQRT2;
  return x < 0 ? 0.5 * detErfc(u) : 1 - 0.5 * detErfc(u);
}
