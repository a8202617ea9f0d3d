import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  AdaptiveIntCoder, AdaptiveModel, RangeDecoder, RangeEncoder, StaticModel, intBucket,
  type AdaptiveModelOptions,
} from '../src/codec/entropy/index.js';

const V = JSON.parse(readFileSync(new URL('./vectors/entropy-v1.json', import.meta.url), 'utf8'));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Deterministic generator for test inputs. */
function lcg(seed: number) {
  let s = seed >>> 0;
  const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
  return { u32: next, below: (n: number) => Math.floor((next() / 2 ** 32) * n), unit: () => next() / 2 ** 32 };
}

// ---------------------------------------------------------------------------------------------
// Streams of mixed operations, replayable on an encoder and a decoder.

type Op =
  | ['sym', number, number, number]
  | ['bits', number, number]
  | ['static' | 'adaptive' | 'int', number, number];

interface Models {
  static: number[][];
  adaptive: Array<AdaptiveModelOptions & { nsym: number }>;
  int: Array<{ maxBuckets: number }>;
}

function instantiate(m: Models) {
  return {
    st: m.static.map((f) => new StaticModel(f)),
    ad: m.adaptive.map((a) => new AdaptiveModel(a.nsym, a)),
    ic: m.int.map((i) => new AdaptiveIntCoder(i.maxBuckets)),
  };
}

/** Encodes ops; returns the bytes and the ideal code length (sum of model costs at coding time). */
function encodeOps(models: Models, ops: readonly Op[]): { bytes: Uint8Array; idealBits: number } {
  const enc = new RangeEncoder();
  const { st, ad, ic } = instantiate(models);
  let idealBits = 0;
  for (const op of ops) {
    switch (op[0]) {
      case 'sym': idealBits += Math.log2(op[3] / op[2]); enc.encode(op[1], op[2], op[3]); break;
      case 'bits': idealBits += op[2]; enc.encodeBits(op[1], op[2]); break;
      case 'static': idealBits += st[op[1]].cost(op[2]); st[op[1]].encode(enc, op[2]); break;
      case 'adaptive': idealBits += ad[op[1]].cost(op[2]); ad[op[1]].encode(enc, op[2]); break;
      case 'int': idealBits += ic[op[1]].cost(op[2]); ic[op[1]].encode(enc, op[2]); break;
    }
  }
  return { bytes: enc.finish(), idealBits };
}

/** Decodes the values of ops (same shapes, values from the stream); the decoder mirrors encodeOps. */
function decodeOps(models: Models, ops: readonly Op[], bytes: Uint8Array): { values: number[]; overrun: number } {
  const dec = new RangeDecoder(bytes);
  const { st, ad, ic } = instantiate(models);
  const values: number[] = [];
  for (const op of ops) {
    switch (op[0]) {
      case 'sym': {
        const total = op[3];
        const t = dec.decodeTarget(total);
        // The alphabet of a raw 'sym' op: [0, cum) | [cum, cum+freq) | [cum+freq, total).
        const [cum, freq] = t < op[1] ? [0, op[1]] : t < op[1] + op[2] ? [op[1], op[2]] : [op[1] + op[2], total - op[1] - op[2]];
        dec.consume(cum, freq, total);
        values.push(cum);
        break;
      }
      case 'bits': values.push(dec.decodeBits(op[2])); break;
      case 'static': values.push(st[op[1]].decode(dec)); break;
      case 'adaptive': values.push(ad[op[1]].decode(dec)); break;
      case 'int': values.push(ic[op[1]].decode(dec)); break;
    }
  }
  return { values, overrun: dec.overrun };
}

const valuesOf = (ops: readonly Op[]) => ops.map((op) => (op[0] === 'sym' || op[0] === 'bits' ? op[1] : op[2]));

function assertRoundTrip(models: Models, ops: readonly Op[], label: string): Uint8Array {
  const { bytes } = encodeOps(models, ops);
  const { values, overrun } = decodeOps(models, ops, bytes);
  assert.deepEqual(values, valuesOf(ops), label);
  assert.ok(overrun <= 4, `${label}: overrun ${overrun} > 4 on a complete stream`);
  return bytes;
}

/** A random mixed stream: static, adaptive, integer and raw-bit symbols, plus raw encode() calls. */
function randomStream(seed: number, n: number, opts: { topBias?: boolean } = {}): { models: Models; ops: Op[] } {
  const r = lcg(seed);
  const models: Models = {
    static: [[1, 1], [5, 1, 1, 300, 20, 9], Array.from({ length: 40 }, (_, i) => 1 + ((i * 7919) % 97))],
    adaptive: [{ nsym: 3 }, { nsym: 12, increment: 24, limit: 1 << 13 }, { nsym: 64, increment: 8, limit: 1024 }],
    int: [{ maxBuckets: 33 }, { maxBuckets: 12 }],
  };
  const geometric = (p: number, max: number) => {
    let k = 0;
    while (k < max && r.unit() < p) k++;
    return k;
  };
  const ops: Op[] = [];
  for (let i = 0; i < n; i++) {
    const kind = r.below(opts.topBias ? 3 : 9);
    if (opts.topBias) {
      // Symbols near the top of the range: long 0xFF runs and carries.
      const t = kind === 0 ? 65536 : kind === 1 ? 256 : 2 + r.below(1000);
      const freq = 1 + r.below(Math.min(3, t));
      const cum = Math.max(0, t - freq - r.below(3));
      ops.push(['sym', cum, freq, t]);
      continue;
    }
    switch (kind) {
      case 0: ops.push(['static', 0, r.below(2)]); break;
      case 1: ops.push(['static', 1, r.unit() < 0.7 ? 3 : r.below(6)]); break;
      case 2: ops.push(['static', 2, r.below(40)]); break;
      case 3: ops.push(['adaptive', 0, geometric(0.2, 2)]); break;
      case 4: ops.push(['adaptive', 1, geometric(0.6, 11)]); break;
      case 5: ops.push(['adaptive', 2, r.below(64)]); break;
      case 6: ops.push(['int', 0, Math.floor(r.unit() ** 6 * 2 ** 32)]); break;
      case 7: ops.push(['int', 1, r.below(2048)]); break;
      default: {
        const nb = r.below(17);
        ops.push(['bits', r.below(2 ** nb), nb]);
      }
    }
  }
  return { models, ops };
}

// ---------------------------------------------------------------------------------------------
// An independent reference: the same arithmetic on unbounded integers, with no carry handling at
// all (docs/format.md §2.2–§2.4). The fast coder's carry propagation must reproduce it exactly.

function referenceEncode(symbols: ReadonlyArray<readonly [number, number, number]>): Uint8Array {
  let low = 0n, range = 0xffffffffn, shifts = 0;
  for (const [cum, freq, total] of symbols) {
    const T = BigInt(total), c = BigInt(cum), f = BigInt(freq);
    const r = range / T;
    low += r * c;
    range = c + f === T ? range - r * c : r * f;
    while (range < 1n << 24n) { low <<= 8n; range <<= 8n; shifts++; }
  }
  for (let tail = 0; tail <= 4; tail++) {
    const unit = 1n << BigInt(32 - 8 * tail);
    const v = ((low + unit - 1n) / unit) * unit;
    if (v < low + range) {
      const n = shifts + tail;
      const top = v >> BigInt(32 - 8 * tail);
      return Uint8Array.from({ length: n }, (_, i) => Number((top >> BigInt(8 * (n - 1 - i))) & 0xffn));
    }
  }
  throw new Error('unreachable: a 4-byte tail always fits');
}

// ---------------------------------------------------------------------------------------------

test('fixed vectors: exact bytes of each encoding, and they decode back', () => {
  assert.equal(V.cases.length, 8);
  for (const c of V.cases) {
    const { bytes } = encodeOps(c.models, c.ops);
    assert.equal(hex(bytes), c.bytes, c.name);
    const { values, overrun } = decodeOps(c.models, c.ops, Uint8Array.from(Buffer.from(c.bytes, 'hex')));
    assert.deepEqual(values, valuesOf(c.ops), c.name);
    assert.ok(overrun <= 4, `${c.name}: overrun ${overrun}`);
  }
  // The carry case really carries through a long 0xFF run: its first byte is 0x80 after 0x7F FF…
  const carry = V.cases.find((c: { name: string }) => c.name === 'carry-through-ff');
  assert.match(carry.bytes, /^80(00){30}/);
});

test('the carry-propagating coder matches an unbounded-integer reference bit for bit', () => {
  for (let seed = 1; seed <= 60; seed++) {
    const { ops } = randomStream(seed, 400, { topBias: seed % 2 === 0 });
    const syms = ops.filter((op): op is ['sym', number, number, number] => op[0] === 'sym').map((op) => [op[1], op[2], op[3]] as const);
    const enc = new RangeEncoder();
    for (const [c, f, t] of syms) enc.encode(c, f, t);
    assert.equal(hex(enc.finish()), hex(referenceEncode(syms)), `seed ${seed}`);
    if (syms.length > 0) assertRoundTrip({ static: [], adaptive: [], int: [] }, syms.map(([c, f, t]) => ['sym', c, f, t] as Op), `seed ${seed}`);
  }
  // Intervals kept straddling a point for many symbols emit long 0xFF (or 0x00) runs, then a
  // symbol on either side of it: carries ripple through the run, or do not.
  const rs = lcg(11);
  for (let trial = 0; trial < 40; trial++) {
    const syms: Array<readonly [number, number, number]> = [];
    let low = 0n, range = 0xffffffffn, p = BigInt(1 + rs.below(0xfffffffe));
    const code = (cum: bigint, freq: bigint, T: bigint) => {
      syms.push([Number(cum), Number(freq), Number(T)]);
      const r = range / T;
      low += r * cum;
      range = cum + freq === T ? range - r * cum : r * freq;
      while (range < 1n << 24n) { low <<= 8n; p <<= 8n; range <<= 8n; }
    };
    const T = BigInt(4 + rs.below(65533));
    for (let i = 0; i < 5 + rs.below(60); i++) {
      const at = (p - low) / (range / T);
      if (at < 1n || at + 2n > T) break;
      code(at - 1n, 3n, T);
    }
    const at = (p - low) / (range / T);
    if (at + 2n < T) code(trial % 2 ? at + 1n : at - 1n, 1n, T);
    code(0n, 1n, 2n);
    const enc = new RangeEncoder();
    for (const [c, f, t] of syms) enc.encode(c, f, t);
    assert.equal(hex(enc.finish()), hex(referenceEncode(syms)), `straddle trial ${trial}`);
  }
  // Raw bits are encode(value, 1, 2^n).
  const r = lcg(5);
  const bits = Array.from({ length: 3000 }, () => { const n = 1 + r.below(16); return [r.below(2 ** n), n] as const; });
  const enc = new RangeEncoder();
  for (const [v, n] of bits) enc.encodeBits(v, n);
  assert.equal(hex(enc.finish()), hex(referenceEncode(bits.map(([v, n]) => [v, 1, 2 ** n] as const))));
});

test('round trips: random mixed streams of thousands of symbols', () => {
  let symbols = 0;
  for (let seed = 100; seed < 120; seed++) {
    const { models, ops } = randomStream(seed, 1000 + 300 * (seed % 7), { topBias: seed % 5 === 0 });
    assertRoundTrip(models, ops, `seed ${seed}`);
    symbols += ops.length;
  }
  assert.ok(symbols > 20_000);
  // Degenerate streams.
  assertRoundTrip({ static: [], adaptive: [{ nsym: 1 }], int: [] }, Array.from({ length: 100 }, (): Op => ['adaptive', 0, 0]), 'one-symbol alphabet');
  assert.equal(encodeOps({ static: [], adaptive: [], int: [] }, []).bytes.length, 0, 'empty stream is zero bytes');
  assertRoundTrip({ static: [], adaptive: [], int: [] }, Array.from({ length: 5000 }, (): Op => ['sym', 0, 65535, 65536]), 'long run of a near-certain first symbol');
  assertRoundTrip({ static: [], adaptive: [], int: [] }, Array.from({ length: 5000 }, (): Op => ['sym', 1, 65535, 65536]), 'long run of a near-certain last symbol');
});

test('compressed size is within 0.5 % + 4 bytes of the ideal sum of -log2 p', () => {
  const report: string[] = [];
  for (let seed = 200; seed < 210; seed++) {
    const { models, ops } = randomStream(seed, 5000);
    const { bytes, idealBits } = encodeOps(models, ops);
    const ideal = idealBits / 8;
    assert.ok(bytes.length <= ideal * 1.005 + 4, `seed ${seed}: ${bytes.length} bytes vs ideal ${ideal.toFixed(1)}`);
    report.push(`${bytes.length}/${ideal.toFixed(1)}`);
  }
  // Low-entropy adaptive source (0.47 bits/symbol).
  const r = lcg(9);
  const ops = Array.from({ length: 20_000 }, (): Op => ['adaptive', 0, r.unit() < 0.9 ? 0 : 1 + r.below(3)]);
  const { bytes, idealBits } = encodeOps({ static: [], adaptive: [{ nsym: 4 }], int: [] }, ops);
  assert.ok(bytes.length <= (idealBits / 8) * 1.005 + 4, `skewed: ${bytes.length} vs ${idealBits / 8}`);
  report.push(`skewed ${bytes.length}/${(idealBits / 8).toFixed(1)}`);
  console.log(`  bytes/ideal: ${report.join(' ')}`);
});

test('finish() is minimal: dropping a non-zero last byte changes what decodes', () => {
  let checked = 0;
  for (let seed = 300; seed < 400; seed++) {
    const { models, ops } = randomStream(seed, 20 + (seed % 50));
    const { bytes } = encodeOps(models, ops);
    if (bytes.length === 0 || bytes[bytes.length - 1] === 0) continue;
    const { values } = decodeOps(models, ops, bytes.subarray(0, bytes.length - 1));
    assert.notDeepEqual(values, valuesOf(ops), `seed ${seed}`);
    checked++;
  }
  assert.ok(checked > 80);
});

test('decoding garbage terminates, never throws, and yields in-range symbols', () => {
  const r = lcg(77);
  const t0 = performance.now();
  const inputs = [new Uint8Array(0), new Uint8Array(64).fill(0xff), new Uint8Array(64), new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff])];
  for (let i = 0; i < 200; i++) inputs.push(Uint8Array.from({ length: r.below(300) }, () => r.below(256)));
  for (const bytes of inputs) {
    const { models, ops } = randomStream(bytes.length + 1, 2000);
    const { st, ad, ic } = instantiate(models);
    const dec = new RangeDecoder(bytes);
    for (const op of ops) {
      let v: number;
      switch (op[0]) {
        case 'sym': v = dec.decodeTarget(op[3]); assert.ok(v >= 0 && v < op[3]); dec.consume(v, 1, op[3]); break;
        case 'bits': v = dec.decodeBits(op[2]); assert.ok(v >= 0 && v < 2 ** op[2]); break;
        case 'static': v = st[op[1]].decode(dec); assert.ok(v >= 0 && v < st[op[1]].nsym); break;
        case 'adaptive': v = ad[op[1]].decode(dec); assert.ok(v >= 0 && v < ad[op[1]].nsym); break;
        case 'int': v = ic[op[1]].decode(dec); assert.ok(Number.isInteger(v) && v >= 0 && v < ic[op[1]].bound); break;
      }
    }
    assert.ok(dec.overrun >= 0);
  }
  // 2000 symbols from a few bytes read far past the end; overrun reports it.
  const dec = new RangeDecoder(new Uint8Array([1, 2, 3]));
  const m = new AdaptiveModel(256, { increment: 1, limit: 4096 });
  for (let i = 0; i < 2000; i++) m.decode(dec);
  assert.ok(dec.overrun > 1000, `overrun ${dec.overrun}`);
  assert.ok(performance.now() - t0 < 5000);
});

test('AdaptiveModel follows the normative update rule; reset restores the initial state', () => {
  const m = new AdaptiveModel(3, { increment: 10, limit: 40, initial: [1, 2, 3] });
  const enc = new RangeEncoder();
  m.encode(enc, 2); assert.deepEqual(m.frequencies(), [1, 2, 13]);
  m.encode(enc, 0); assert.deepEqual(m.frequencies(), [11, 2, 13]);
  m.encode(enc, 2); assert.deepEqual(m.frequencies(), [11, 2, 23]); // total 36 <= 40
  assert.equal(m.cost(1), Math.log2(36 / 2));
  m.encode(enc, 1); assert.deepEqual(m.frequencies(), [6, 6, 12]); // 46 > 40: (f + 1) >> 1 of [11, 12, 23]
  m.reset(); assert.deepEqual(m.frequencies(), [1, 2, 3]);
  assert.equal(new AdaptiveModel(4).cost(0), 2);
  assert.throws(() => new AdaptiveModel(0), RangeError);
  assert.throws(() => new AdaptiveModel(10, { increment: 60000, limit: 60005 }), RangeError);
  assert.throws(() => new AdaptiveModel(2, { limit: 70000 }), RangeError);
  assert.throws(() => new AdaptiveModel(2, { initial: [1, 0] }), RangeError);
  assert.throws(() => new AdaptiveModel(2, { initial: [1] }), RangeError);
  assert.throws(() => m.encode(enc, 3), RangeError);
});

test('StaticModel decodes every target to the right symbol; argument checks', () => {
  const freqs = [3, 1, 7, 1, 1, 20];
  const s = new StaticModel(freqs);
  for (let sym = 0; sym < freqs.length; sym++) {
    const enc = new RangeEncoder();
    s.encode(enc, sym);
    assert.equal(s.decode(new RangeDecoder(enc.finish())), sym);
  }
  assert.equal(s.cost(5), Math.log2(33 / 20));
  assert.throws(() => new StaticModel([]), RangeError);
  assert.throws(() => new StaticModel([1, 0]), RangeError);
  assert.throws(() => new StaticModel([40000, 30000]), RangeError);
  const enc = new RangeEncoder();
  assert.throws(() => enc.encode(0, 0, 10), RangeError);
  assert.throws(() => enc.encode(5, 6, 10), RangeError);
  assert.throws(() => enc.encode(0, 1, 65537), RangeError);
  assert.throws(() => enc.encodeBits(4, 2), RangeError);
  assert.throws(() => enc.encodeBits(0, 17), RangeError);
  enc.finish();
  assert.throws(() => enc.encode(0, 1, 2), Error);
});

test('AdaptiveIntCoder: buckets, extremes, bounds and cost', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 255, 256, 2 ** 31, 2 ** 32 - 1].map(intBucket), [0, 1, 2, 2, 3, 8, 9, 32, 32]);
  const values = [0, 1, 2, 3, 65535, 65536, 65537, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 123456789, 0];
  const ops = values.map((v): Op => ['int', 0, v]);
  assertRoundTrip({ static: [], adaptive: [], int: [{ maxBuckets: 33 }] }, ops, 'extremes');
  const small = new AdaptiveIntCoder(5);
  assert.equal(small.bound, 16);
  assert.throws(() => small.encode(new RangeEncoder(), 16), RangeError);
  assert.throws(() => new AdaptiveIntCoder(34), RangeError);
  const c = new AdaptiveIntCoder();
  assert.equal(c.cost(0), Math.log2(33));
  assert.equal(c.cost(2 ** 32 - 1), Math.log2(33) + 31);
});

test('throughput: 200k mixed symbols', () => {
  const { models, ops } = randomStream(7, 200_000);
  const t0 = performance.now();
  const { bytes } = encodeOps(models, ops);
  const t1 = performance.now();
  const { values } = decodeOps(models, ops, bytes);
  const t2 = performance.now();
  assert.deepEqual(values, valuesOf(ops));
  console.log(`  200k symbols -> ${bytes.length} bytes; encode ${(t1 - t0).toFixed(0)} ms, decode ${(t2 - t1).toFixed(0)} ms`);
});
