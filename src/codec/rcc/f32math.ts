/**
 * Exactly reproducible float32 math for the RCC spec (docs/rcc.md §3).
 *
 * Every value is rounded to binary32 after each +, -, *, /, sqrt (Math.fround of a double result
 * equals the correctly rounded float32 result for these operations), never fused, in the order
 * written. C++ (with -ffp-contract=off) and CUDA (__fadd_rn & co.) reproduce it bit for bit.
 * Platform Math.log/sin/cos are never used.
 */

const fr = Math.fround;
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function f32Bits(x: number): number {
  f32[0] = x;
  return u32[0];
}

export function f32FromBits(bits: number): number {
  u32[0] = bits >>> 0;
  return f32[0];
}

export const LN2 = f32FromBits(0x3f317218);
const L3 = f32FromBits(0x3eaaaaab); // 1/3
const L5 = f32FromBits(0x3e4ccccd); // 1/5
const L7 = f32FromBits(0x3e124925); // 1/7
const L9 = f32FromBits(0x3de38e39); // 1/9
export const HALF_PI = f32FromBits(0x3fc90fdb);
const S3 = f32FromBits(0xbe2aaaab); // -1/3!
const S5 = f32FromBits(0x3c088889); // 1/5!
const S7 = f32FromBits(0xb9500d01); // -1/7!
const S9 = f32FromBits(0x3638ef1d); // 1/9!
const K2 = f32FromBits(0xbf000000); // -1/2!
const K4 = f32FromBits(0x3d2aaaab); // 1/4!
const K6 = f32FromBits(0xbab60b61); // -1/6!
const K8 = f32FromBits(0x37d00d01); // 1/8!
/** Mantissa bits of float32(sqrt 2): mantissas above it are halved so m lies in [1/sqrt2, sqrt2]. */
const SQRT2_MANT = 0x3504f3;

/**
 * Natural log of a positive, normal, finite float32 x (docs/rcc.md §3.1).
 * ln x = e*ln2 + 2s(1 + s^2/3 + s^4/5 + s^6/7 + s^8/9), s = (m-1)/(m+1).
 */
export function lnF32(x: number): number {
  const bits = f32Bits(x);
  let e = ((bits >>> 23) & 0xff) - 127;
  const mant = bits & 0x7fffff;
  let m: number;
  if (mant > SQRT2_MANT) {
    m = f32FromBits(mant | (126 << 23));
    e += 1;
  } else {
    m = f32FromBits(mant | (127 << 23));
  }
  const s = fr(fr(m - 1) / fr(m + 1));
  const z = fr(s * s);
  let p = L9;
  p = fr(fr(p * z) + L7);
  p = fr(fr(p * z) + L5);
  p = fr(fr(p * z) + L3);
  p = fr(fr(p * z) + 1);
  const lnm = fr(fr(s + s) * p);
  return fr(fr(e * LN2) + lnm);
}

/** Uniform in (0,1) from the top 23 bits of a word: (w>>>9 + 0.5) * 2^-23, exact in float32. */
export function uniformF32(w: number): number {
  return fr(((w >>> 9) + 0.5) * 1.1920928955078125e-7);
}

/** Exp(1) variate: -ln(u). */
export function exponentialF32(w: number): number {
  return -lnF32(uniformF32(w));
}

/**
 * Box–Muller pair from two words (docs/rcc.md §3.2). The angle's quadrant comes from the top two
 * bits of b, so no range reduction is ever needed; within the quadrant phi is in (-pi/4, pi/4).
 * Writes the pair to out[at], out[at+1].
 */
export function gaussianPairF32(a: number, b: number, out: Float32Array, at: number): void {
  const rr = Math.fround(Math.sqrt(-lnF32(uniformF32(a)))); // = r / sqrt(2)
  const q = b >>> 30;
  const x = fr((((b >>> 7) & 0x7fffff) + 0.5) * 1.1920928955078125e-7);
  const phi = fr(fr(x - 0.5) * HALF_PI);
  const z = fr(phi * phi);
  let sp = S9;
  sp = fr(fr(sp * z) + S7);
  sp = fr(fr(sp * z) + S5);
  sp = fr(fr(sp * z) + S3);
  sp = fr(fr(sp * z) + 1);
  const s = fr(phi * sp);
  let c = K8;
  c = fr(fr(c * z) + K6);
  c = fr(fr(c * z) + K4);
  c = fr(fr(c * z) + K2);
  c = fr(fr(c * z) + 1);
  // Angle pi/4 + phi: cos = (c - s)/sqrt2, sin = (c + s)/sqrt2; the 1/sqrt2 is folded into rr.
  const X = fr(rr * fr(c - s));
  const Y = fr(rr * fr(c + s));
  switch (q) {
    case 0: out[at] = X; out[at + 1] = Y; break;
    case 1: out[at] = -Y; out[at + 1] = X; break;
    case 2: out[at] = -X; out[at + 1] = -Y; break;
    default: out[at] = Y; out[at + 1] = -X; break;
  }
}
