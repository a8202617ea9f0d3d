/**
 * Philox4x32-10 (Salmon et al., SC'11), the counter-based PRNG every RCC implementation shares.
 * Spec: docs/rcc.md §2. Known-answer vectors from Random123 live in test/rcc-spec.test.ts.
 */

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product a*b, exact in doubles by splitting a into 16-bit halves. */
function mulhi32(a: number, b: number): number {
  const t = (a & 0xffff) * b; // < 2^48
  const u = (a >>> 16) * b + Math.floor(t / 65536); // < 2^49
  return Math.floor(u / 65536) >>> 0;
}

/** Writes the 4 output words for counter (c0..c3) and key (k0,k1) into out[0..3]. */
export function philox4x32(
  c0: number, c1: number, c2: number, c3: number,
  k0: number, k1: number,
  out: Uint32Array,
): void {
  let x0 = c0 >>> 0, x1 = c1 >>> 0, x2 = c2 >>> 0, x3 = c3 >>> 0;
  let a = k0 >>> 0, b = k1 >>> 0;
  for (let r = 0; r < 10; r++) {
    if (r > 0) {
      a = (a + W0) >>> 0;
      b = (b + W1) >>> 0;
    }
    const hi0 = mulhi32(M0, x0);
    const lo0 = Math.imul(M0, x0) >>> 0;
    const hi1 = mulhi32(M1, x2);
    const lo1 = Math.imul(M1, x2) >>> 0;
    x0 = (hi1 ^ x1 ^ a) >>> 0;
    x1 = lo1;
    x2 = (hi0 ^ x3 ^ b) >>> 0;
    x3 = lo0;
  }
  out[0] = x0; out[1] = x1; out[2] = x2; out[3] = x3;
}

/** Counter word 3 carries the stream domain in its top 4 bits and the step below. */
export const Domain = {
  candidate: 0,
  arrival: 1,
  partition: 2,
  chainNoise: 3,
} as const;
export type DomainId = (typeof Domain)[keyof typeof Domain];

export const MAX_STEP = 1 << 28;

export function counterWord3(domain: DomainId, step: number): number {
  if (!Number.isInteger(step) || step < 0 || step >= MAX_STEP) {
    throw new RangeError(`step ${step} outside [0, 2^28)`);
  }
  return ((domain << 28) | step) >>> 0;
}
