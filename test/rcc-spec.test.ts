import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { philox4x32 } from '../src/codec/rcc/philox.js';
import { f32Bits, f32FromBits, lnF32, gaussianPairF32 } from '../src/codec/rcc/f32math.js';
import { candidateGaussians, lnArrivalTimes, stepPermutation, chainNoise, mulShift32 } from '../src/codec/rcc/candidates.js';
import { selectChunkReference } from '../src/codec/rcc/select.js';

const V = JSON.parse(readFileSync(new URL('./vectors/rcc-v1.json', import.meta.url), 'utf8'));
const h = (s: string) => parseInt(s, 16) >>> 0;
const hex = (x: number) => (x >>> 0).toString(16).padStart(8, '0');
const bitsOf = (a: Float32Array) => Array.from(a, (x) => hex(f32Bits(x)));
const key = { seedLo: h(V.key[0]), seedHi: h(V.key[1]) };

test('Philox4x32-10 matches Random123 known answers and the fixed vectors', () => {
  const out = new Uint32Array(4);
  for (const v of V.philox) {
    const c = v.ctr.map(h);
    philox4x32(c[0], c[1], c[2], c[3], h(v.key[0]), h(v.key[1]), out);
    assert.deepEqual(Array.from(out, hex), v.out);
  }
  // Random123 kat_vectors, independent of our own file.
  philox4x32(0, 0, 0, 0, 0, 0, out);
  assert.deepEqual(Array.from(out, hex), ['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8']);
});

test('ln, normals, candidates, arrivals, permutations and chain noise match the vectors bit for bit', () => {
  for (const v of V.ln) assert.equal(hex(f32Bits(lnF32(f32FromBits(h(v.x))))), v.ln, `ln(${v.x})`);
  const pair = new Float32Array(2);
  for (const v of V.normals) {
    gaussianPairF32(h(v.a), h(v.b), pair, 0);
    assert.deepEqual(bitsOf(pair), v.z);
  }
  for (const c of V.candidates) {
    assert.deepEqual(bitsOf(candidateGaussians({ key, step: c.step, chunk: c.chunk }, c.index, c.n)), c.g);
  }
  for (const a of V.arrivals) assert.deepEqual(bitsOf(lnArrivalTimes({ key, step: a.step, chunk: a.chunk }, a.k)), a.lnT);
  for (const p of V.permutations) assert.deepEqual(Array.from(stepPermutation(key, p.step, p.n)), p.perm);
  assert.deepEqual(bitsOf(chainNoise(key, V.noise.step, V.noise.stream, V.noise.n)), V.noise.z);
});

test('selection vectors: winner index and float32 score', () => {
  for (const s of V.selections) {
    const d = new Float32Array(s.d.map((b: string) => f32FromBits(h(b))));
    const r = selectChunkReference({ addr: { key, step: s.step, chunk: s.chunk }, d, k: s.k });
    assert.equal(r.index, s.index, `step ${s.step}`);
    assert.equal(hex(f32Bits(r.score)), s.score);
  }
});

test('shaped-target selection vectors (a, b coefficients)', () => {
  for (const s of V.shapedSelections) {
    const d = new Float32Array(s.d.map((b: string) => f32FromBits(h(b))));
    const shape = { a: f32FromBits(h(s.a)), b: f32FromBits(h(s.b)) };
    const r = selectChunkReference({ addr: { key, step: s.step, chunk: s.chunk }, d, k: s.k, shape });
    assert.equal(r.index, s.index, `step ${s.step}`);
    assert.equal(hex(f32Bits(r.score)), s.score);
  }
  // (a, b) = (0, 1) is exactly the unshaped rule.
  const s0 = V.selections[5];
  const d = new Float32Array(s0.d.map((b: string) => f32FromBits(h(b))));
  const r = selectChunkReference({ addr: { key, step: s0.step, chunk: s0.chunk }, d, k: s0.k, shape: { a: 0, b: 1 } });
  assert.equal(r.index, s0.index);
  assert.equal(hex(f32Bits(r.score)), s0.score);
});

test('ln is accurate to 4e-7 on (0, 1] and normals have unit moments', () => {
  let maxErr = 0;
  for (let w = 0; w < 2 ** 32; w += 104729 * 97) {
    const u = Math.fround(((w >>> 9) + 0.5) * 2 ** -23);
    maxErr = Math.max(maxErr, Math.abs(lnF32(u) - Math.log(u)));
  }
  assert.ok(maxErr < 4e-7, `max abs error ${maxErr}`);
  const g = candidateGaussians({ key, step: 1, chunk: 1 }, 7, 400_000);
  let m1 = 0, m2 = 0, m4 = 0;
  for (const x of g) { m1 += x; m2 += x * x; m4 += x ** 4; }
  const n = g.length;
  assert.ok(Math.abs(m1 / n) < 0.01, `mean ${m1 / n}`);
  assert.ok(Math.abs(m2 / n - 1) < 0.01, `var ${m2 / n}`);
  assert.ok(Math.abs(m4 / n - 3) < 0.06, `4th moment ${m4 / n}`);
});

test('mulShift32 is exact', () => {
  for (const [w, n] of [[0xffffffff, 0xffffffff], [0x80000000, 3], [123456789, 1000003], [1, 2 ** 32]]) {
    assert.equal(BigInt(mulShift32(w, n)), (BigInt(w) * BigInt(n)) >> 32n);
  }
});

test('PFR selection samples the target: mean of winners approaches d (1-D chunk, 8-bit)', () => {
  // q = N(d, 1) vs p = N(0, 1): KL = d^2/2 nats ≈ 1.6 bits, well under 8 bits of candidates.
  const d = new Float32Array([1.5]);
  let sum = 0, sumSq = 0;
  const trials = 600;
  for (let t = 0; t < trials; t++) {
    const addr = { key, step: t, chunk: 0 };
    const { index } = selectChunkReference({ addr, d, k: 8 });
    const x = candidateGaussians(addr, index, 1)[0];
    sum += x; sumSq += x * x;
  }
  const mean = sum / trials;
  const variance = sumSq / trials - mean * mean;
  assert.ok(Math.abs(mean - 1.5) < 0.15, `mean ${mean}`);
  assert.ok(Math.abs(variance - 1) < 0.2, `variance ${variance}`);
});
