/**
 * The Gaussian-conditional scale table (docs/learned-entropy.md §2.3): 64 buckets, six an
 * octave from 0.11, as exact float32 bit patterns (the spec), and their CDF tables, built once
 * with the deterministic Φ (det-math.ts).
 */
import { detPhi } from './det-math.js';
import { EntropyError } from './errors.js';
import { quantizeTable, type CdfTable } from './tables.js';

const f32 = (bits: readonly number[]): Float64Array => {
  const u = new Uint32Array(bits), f = new Float32Array(u.buffer);
  return Float64Array.from(f);
};

/** σ_k = 0.11 · 2^(k/6), k = 0..63, as float32. */
export const SCALES = f32([
  0x3de147ae, 0x3dfcde46, 0x3e0deae2, 0x3e1f4c09, 0x3e32ce0b, 0x3e48b3a0, 0x3e6147ae, 0x3e7cde46, 0x3e8deae2, 0x3e9f4c09, 0x3eb2ce0b, 0x3ec8b3a0,
  0x3ee147ae, 0x3efcde46, 0x3f0deae2, 0x3f1f4c09, 0x3f32ce0b, 0x3f48b3a0, 0x3f6147ae, 0x3f7cde46, 0x3f8deae2, 0x3f9f4c09, 0x3fb2ce0b, 0x3fc8b3a0,
  0x3fe147ae, 0x3ffcde46, 0x400deae2, 0x401f4c09, 0x4032ce0b, 0x4048b3a0, 0x406147ae, 0x407cde46, 0x408deae2, 0x409f4c09, 0x40b2ce0b, 0x40c8b3a0,
  0x40e147ae, 0x40fcde46, 0x410deae2, 0x411f4c09, 0x4132ce0b, 0x4148b3a0, 0x416147ae, 0x417cde46, 0x418deae2, 0x419f4c09, 0x41b2ce0b, 0x41c8b3a0,
  0x41e147ae, 0x41fcde46, 0x420deae2, 0x421f4c09, 0x4232ce0b, 0x4248b3a0, 0x426147ae, 0x427cde46, 0x428deae2, 0x429f4c09, 0x42b2ce0b, 0x42c8b3a0,
  0x42e147ae, 0x42fcde46, 0x430deae2, 0x431f4c09,
]);

/** B_k = σ_{k-1} · 2^(1/12), k = 1..63 (BOUNDS[k - 1]), as float32. */
export const BOUNDS = f32([
  0x3deead04, 0x3e05f3c9, 0x3e165b3b, 0x3e28c4f1, 0x3e3d6fe9, 0x3e54a2d1, 0x3e6ead04, 0x3e85f3c9, 0x3e965b3b, 0x3ea8c4f1, 0x3ebd6fe9, 0x3ed4a2d1,
  0x3eeead04, 0x3f05f3c9, 0x3f165b3b, 0x3f28c4f1, 0x3f3d6fe9, 0x3f54a2d1, 0x3f6ead04, 0x3f85f3c9, 0x3f965b3b, 0x3fa8c4f1, 0x3fbd6fe9, 0x3fd4a2d1,
  0x3feead04, 0x4005f3c9, 0x40165b3b, 0x4028c4f1, 0x403d6fe9, 0x4054a2d1, 0x406ead04, 0x4085f3c9, 0x40965b3b, 0x40a8c4f1, 0x40bd6fe9, 0x40d4a2d1,
  0x40eead04, 0x4105f3c9, 0x41165b3b, 0x4128c4f1, 0x413d6fe9, 0x4154a2d1, 0x416ead04, 0x4185f3c9, 0x41965b3b, 0x41a8c4f1, 0x41bd6fe9, 0x41d4a2d1,
  0x41eead04, 0x4205f3c9, 0x42165b3b, 0x4228c4f1, 0x423d6fe9, 0x4254a2d1, 0x426ead04, 0x4285f3c9, 0x42965b3b, 0x42a8c4f1, 0x42bd6fe9, 0x42d4a2d1,
  0x42eead04, 0x4305f3c9, 0x43165b3b,
]);

export const TAIL = 6;

/** index(σ) = #{k : B_k <= σ} (§2.3), by binary search; σ <= 0 is bucket 0; NaN is an error. */
export function scaleIndex(sigma: number): number {
  if (Number.isNaN(sigma)) throw new EntropyError('invalid', 'a scale is NaN');
  let lo = 0, hi = BOUNDS.length; // answer in [0, 63]
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (BOUNDS[mid] <= sigma) lo = mid + 1; else hi = mid;
  }
  return lo;
}

/** Table k: symbols -T..T with T = max(1, ceil(6 σ_k)), unit bins of N(0, σ_k²), and the escape. */
export function gaussianTable(k: number): CdfTable {
  const s = SCALES[k];
  const T = Math.max(1, Math.ceil(TAIL * s));
  const p = new Float64Array(2 * T + 1);
  for (let i = 0; i <= 2 * T; i++) {
    const v = i - T;
    p[i] = detPhi((v + 0.5) / s) - detPhi((v - 0.5) / s);
  }
  return quantizeTable(-T, p, 2 * detPhi(-(T + 0.5) / s));
}

let tables: readonly CdfTable[] | undefined;

/** All 64 tables, built on first use. */
export function gaussianTables(): readonly CdfTable[] {
  tables ??= Array.from(SCALES, (_, k) => gaussianTable(k));
  return tables;
}
