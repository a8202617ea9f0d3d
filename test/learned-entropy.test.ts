/**
 * Learned entropy coding (docs/learned-entropy.md, src/codec/entropy/learned/): the fixed
 * vectors (tables, Φ, exact stream bytes); round trips with escapes; and cross-device
 * determinism: decoding with every scale moved by 1 ulp (as another device's network would give
 * it), or by up to the stream's tolerance, gives the same symbols bit for bit, including scales
 * sitting exactly on a bucket boundary, where a coder without the guard list picks another table.
 * Beyond the tolerance, and on damaged streams, decoding fails with a typed error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import {
  BOUNDS, cdfTable, decodeFactorized, decodeGaussian, detPhi, EntropyError, encodeFactorized, encodeGaussian, factorizedTables,
  gaussianTables, GUARD_DEFAULT, quantizeTable, scaleIndex, SCALES, TOTAL,
} from '../src/codec/entropy/learned/index.js';

const V = JSON.parse(readFileSync(new URL('./vectors/learned-entropy-v1.json', import.meta.url), 'utf8'));
const fromF32Hex = (h: string) => new Float32Array(new Uint32Array([parseInt(h, 16)]).buffer)[0];
const f64hex = (v: number) => Buffer.from(new Float64Array([v]).buffer).readBigUInt64LE(0).toString(16).padStart(16, '0');
const isEntropy = (code: string) => (e: unknown) => e instanceof EntropyError && e.code === code;

/** The float32 `d` ulps away from v (v > 0). */
function ulps(v: number, d: number): number {
  const u = new Uint32Array(new Float32Array([v]).buffer);
  u[0] += d;
  return new Float32Array(u.buffer)[0];
}

function lcg(seed: number) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/** Scales spread over the table with a third exactly on boundaries or 1-2 ulps off; symbols of roughly that scale. */
function sample(n: number, seed: number) {
  const rnd = lcg(seed);
  const scales = new Float32Array(n), symbols = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const b = BOUNDS[Math.floor(rnd() * BOUNDS.length)];
    scales[i] = i % 3 === 0 ? ulps(b, Math.floor(rnd() * 5) - 2) : Math.fround(0.02 * 2 ** (rnd() * 14));
    const z = (rnd() + rnd() + rnd() + rnd() - 2) * 1.7;
    symbols[i] = i % 211 === 7 ? Math.round(z * 1e4) : Math.round(z * scales[i]);
  }
  return { scales, symbols };
}

test('fixed vectors: scale and boundary bits, every table, Φ, and the exact bytes of both streams', () => {
  assert.deepEqual(Array.from(SCALES, (v) => new Uint32Array(new Float32Array([v]).buffer)[0].toString(16).padStart(8, '0')), V.scales_f32);
  assert.deepEqual(Array.from(BOUNDS, (v) => new Uint32Array(new Float32Array([v]).buffer)[0].toString(16).padStart(8, '0')), V.bounds_f32);
  const tables = gaussianTables();
  assert.deepEqual(tables.map((t) => createHash('sha256').update(Buffer.from(new Uint32Array(t.freqs).buffer)).digest('hex')), V.tables_sha256);
  for (const [x, h] of V.phi as [number, string][]) assert.equal(f64hex(detPhi(x)), h, `Φ(${x})`);
  const g = V.gaussian;
  const scales = Float32Array.from(g.scales_f32 as string[], fromF32Hex);
  const symbols = Int32Array.from(g.symbols as number[]);
  const { bytes, stats } = encodeGaussian(symbols, scales, g.guard);
  assert.equal(Buffer.from(bytes).toString('hex'), g.bytes);
  assert.equal(stats.guarded, g.guarded);
  assert.deepEqual(Array.from(decodeGaussian(Buffer.from(g.bytes, 'hex'), scales, symbols.length)), g.symbols);
  const f = V.factorized;
  const ft = factorizedTables(f.tables);
  assert.equal(Buffer.from(encodeFactorized(Int32Array.from(f.symbols), (i) => i % 2, ft)).toString('hex'), f.bytes);
  assert.deepEqual(Array.from(decodeFactorized(Buffer.from(f.bytes, 'hex'), f.symbols.length, (i) => i % 2, ft)), f.symbols);
});

test('the tables: 2^16 in total, the right bucket for each scale, near-ideal rate on Gaussian symbols', () => {
  const tables = gaussianTables();
  assert.equal(tables.length, 64);
  for (const [k, t] of tables.entries()) {
    assert.equal(t.cum[t.freqs.length], TOTAL);
    assert.equal(t.offset, -Math.max(1, Math.ceil(6 * SCALES[k])));
    assert.equal(scaleIndex(SCALES[k]), k, `σ_${k} is in its own bucket`);
  }
  assert.equal(scaleIndex(0), 0);
  assert.equal(scaleIndex(-3), 0);
  assert.equal(scaleIndex(1e9), 63);
  assert.equal(scaleIndex(BOUNDS[10]), 11);
  assert.equal(scaleIndex(ulps(BOUNDS[10], -1)), 10);
  assert.throws(() => scaleIndex(NaN), isEntropy('invalid'));
  // Rate: symbols at σ = 3 (within bucket 27) cost close to their entropy under the true density.
  const rnd = lcg(5);
  const n = 20000, s = 3;
  const symbols = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const u1 = Math.max(rnd(), 1e-12), u2 = rnd();
    symbols[i] = Math.round(s * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2));
  }
  let ideal = 0;
  for (const v of symbols) ideal -= Math.log2(detPhi((v + 0.5) / s) - detPhi((v - 0.5) / s));
  const { bytes } = encodeGaussian(symbols, new Float32Array(n).fill(s));
  const over = (8 * bytes.length) / ideal - 1;
  assert.ok(over < 0.02, `coded ${8 * bytes.length} bits vs ${ideal.toFixed(0)} ideal (+${(100 * over).toFixed(2)} %)`);
});

test('round trips: escapes far out on both sides, empty and one-element streams, every guard exponent', () => {
  const { scales, symbols } = sample(3000, 1);
  for (const g of [8, 14, 23]) {
    const { bytes } = encodeGaussian(symbols, scales, g);
    assert.deepEqual(decodeGaussian(bytes, scales, symbols.length), symbols, `g=${g}`);
  }
  assert.deepEqual(decodeGaussian(encodeGaussian(new Int32Array(0), new Float32Array(0)).bytes, new Float32Array(0), 0), new Int32Array(0));
  const big = Int32Array.from([2 ** 30, -(2 ** 30), 0]);
  const sc = Float32Array.from([0.2, 150, 1]);
  assert.deepEqual(decodeGaussian(encodeGaussian(big, sc).bytes, sc, 3), big);
  assert.throws(() => encodeGaussian(big, sc, 7), isEntropy('invalid'));
  assert.throws(() => encodeGaussian(big, new Float32Array(2)), isEntropy('invalid'));
});

test('cross-device determinism: scales moved by 1 ulp, or by up to the tolerance, decode to the same symbols', () => {
  const { scales, symbols } = sample(20000, 2);
  const { bytes, stats } = encodeGaussian(symbols, scales);
  const rnd = lcg(3);
  const up = scales.map((v) => ulps(v, 1)), down = scales.map((v) => ulps(v, -1));
  const mixed = scales.map((v) => ulps(v, rnd() < 0.5 ? -1 : 1));
  // A coder without the guard list picks another table for every scale that crossed a boundary.
  const crossed = scales.reduce((c, v, i) => c + Number(scaleIndex(v) !== scaleIndex(mixed[i])), 0);
  assert.ok(crossed > 100, `${crossed} scales change bucket with 1 ulp`);
  for (const [name, s] of [['+1 ulp', up], ['-1 ulp', down], ['±1 ulp', mixed]] as const) {
    assert.deepEqual(decodeGaussian(bytes, s, symbols.length), symbols, name);
  }
  // Up to just under τ/2 relative (g = 14: 3.05e-5, ~500 ulps), in random directions.
  const tau = 2 ** -GUARD_DEFAULT;
  const far = scales.map((v) => Math.fround(v * (1 + (rnd() * 2 - 1) * 0.49 * tau)));
  assert.deepEqual(decodeGaussian(bytes, far, symbols.length), symbols, 'within the tolerance');
  console.log(`# 20000 symbols: ${stats.guarded} guarded (${(100 * stats.guarded / 20000).toFixed(1)} %, a third of the scales sit on a boundary by construction); ${crossed} cross a boundary at ±1 ulp; ${stats.bytes} bytes`);
  // Beyond it: a scale moved across its boundary by 4τ is a typed desync, never a silent wrong decode.
  const beyond = Float32Array.from(scales);
  let moved = 0;
  for (let i = 0; i < beyond.length && moved < 20; i++) {
    const k = scaleIndex(beyond[i]);
    if (k > 0 && beyond[i] > BOUNDS[k - 1] * (1 + tau) && beyond[i] < BOUNDS[k - 1] * (1 + 3 * tau)) {
      beyond[i] = Math.fround(BOUNDS[k - 1] * (1 - 3 * tau));
      moved++;
    }
  }
  assert.ok(moved > 0);
  assert.throws(() => decodeGaussian(bytes, beyond, symbols.length), (e: unknown) => e instanceof EntropyError && (e.code === 'desync' || e.code === 'corrupt'));
});

test('damaged streams are typed errors: truncated, a flipped byte, a bad guard field, a bad factorized table', () => {
  const { scales, symbols } = sample(500, 4);
  const { bytes } = encodeGaussian(symbols, scales);
  assert.throws(() => decodeGaussian(bytes.subarray(0, bytes.length >> 1), scales, symbols.length), (e: unknown) => e instanceof EntropyError);
  for (const at of [3, bytes.length >> 1, bytes.length - 3]) {
    const bad = Uint8Array.from(bytes);
    bad[at] ^= 0x40;
    assert.throws(() => decodeGaussian(bad, scales, symbols.length), (e: unknown) => e instanceof EntropyError, `flip at ${at}`);
  }
  // g field 0b1111 -> 23 is valid; make it point past n with a huge listed count instead.
  assert.throws(() => decodeGaussian(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff]), scales, symbols.length), (e: unknown) => e instanceof EntropyError);
  assert.throws(() => cdfTable(0, [1, 2]), isEntropy('invalid'));
  assert.throws(() => factorizedTables({ channels: [{ offset: 0, freqs: [TOTAL - 1, 2] }] }), isEntropy('invalid'));
  const t = [quantizeTable(0, [0.5, 0.5], 0)];
  const fb = encodeFactorized(Int32Array.from([0, 1, 1, 0, 7, -2]), () => 0, t);
  assert.deepEqual(decodeFactorized(fb, 6, () => 0, t), Int32Array.from([0, 1, 1, 0, 7, -2]));
  assert.throws(() => decodeFactorized(fb, 6, () => 0, [quantizeTable(0, [0.9, 0.1], 0)]), (e: unknown) => e instanceof EntropyError);
  assert.throws(() => encodeFactorized(Int32Array.from([0]), () => 3, t), isEntropy('invalid'));
});
