/**
 * Regenerates test/vectors/rcc-v1.json from the TypeScript reference. The file is normative once
 * committed: changing it means changing docs/rcc.md's version. Usage: npx tsx scripts/gen-rcc-vectors.ts
 */
import { writeFileSync } from 'node:fs';
import { philox4x32 } from '../src/codec/rcc/philox.js';
import { f32Bits, f32FromBits, lnF32, gaussianPairF32 } from '../src/codec/rcc/f32math.js';
import { candidateGaussians, lnArrivalTimes, stepPermutation, chainNoise } from '../src/codec/rcc/candidates.js';
import { selectChunkReference, targetShape } from '../src/codec/rcc/select.js';

const hex = (x: number) => (x >>> 0).toString(16).padStart(8, '0');
const bitsOf = (a: Float32Array) => Array.from(a, (x) => hex(f32Bits(x)));

/** Small deterministic integer generator for inputs (not part of the spec). */
function lcg(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
}

const out = new Uint32Array(4);
const philox = [
  { ctr: [0, 0, 0, 0], key: [0, 0] },
  { ctr: [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], key: [0xffffffff, 0xffffffff] },
  { ctr: [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], key: [0xa4093822, 0x299f31d0] },
  { ctr: [7, 1234, 5, (1 << 28) | 99], key: [0xdeadbeef, 0x01234567] },
].map(({ ctr, key }) => {
  philox4x32(ctr[0], ctr[1], ctr[2], ctr[3], key[0], key[1], out);
  return { ctr: ctr.map(hex), key: key.map(hex), out: Array.from(out, hex) };
});

const rnd = lcg(42);
const lnInputs: number[] = [1, 0.5, 2, 1.4142135, 1.4142137, 5.9604645e-8, 0.99999994, 65536.5, 3.0e-30, 1.7e38];
for (let i = 0; i < 40; i++) lnInputs.push(f32FromBits((rnd() & 0x3fffffff) | 0x00800000));
const ln = lnInputs.map((x) => ({ x: hex(f32Bits(x)), ln: hex(f32Bits(lnF32(x))) }));

const pair = new Float32Array(2);
const normals = [[0, 0], [0xffffffff, 0xffffffff], [0x80000000, 0x40000000], [0x7fffffff, 0xc0000000]]
  .concat(Array.from({ length: 40 }, () => [rnd(), rnd()]))
  .map(([a, b]) => {
    gaussianPairF32(a, b, pair, 0);
    return { a: hex(a), b: hex(b), z: bitsOf(pair) };
  });

const key = { seedLo: 0x9e3779b9, seedHi: 0x7f4a7c15 };
const candidates = [
  { step: 0, chunk: 0, index: 0, n: 9 },
  { step: 17, chunk: 3, index: 65535, n: 70 },
  { step: 268435455, chunk: 4294967295, index: 1048575, n: 5 },
].map((c) => ({ ...c, g: bitsOf(candidateGaussians({ key, step: c.step, chunk: c.chunk }, c.index, c.n)) }));

const arrivals = [{ step: 5, chunk: 2, k: 10 }].map((a) => {
  const lnT = lnArrivalTimes({ key, step: a.step, chunk: a.chunk }, a.k);
  return { ...a, lnT: bitsOf(lnT) };
});

const selections: unknown[] = [];
const shapes: Array<[number, number, number]> = [
  [1, 0, 0.5], [1, 4, 2.0], [3, 6, 1.0], [17, 8, 0.7], [63, 9, 0.4], [64, 10, 0.3], [65, 10, 0.3],
  [200, 11, 0.25], [1000, 12, 0.12], [4099, 8, 0.05], [16, 12, 12.0], [50, 13, 0.6],
];
shapes.forEach(([n, k, scale], idx) => {
  const r = lcg(1000 + idx);
  const d = new Float32Array(n).map(() => Math.fround(((r() / 2 ** 32) * 2 - 1) * scale * 1.7));
  const addr = { key, step: 100 + idx, chunk: idx };
  const s = selectChunkReference({ addr, d, k });
  selections.push({ step: addr.step, chunk: addr.chunk, k, d: bitsOf(d), index: s.index, score: hex(f32Bits(s.score)) });
});

// Shaped targets (§6): the same kind of chunks with (a, b) from targetShape at several s.
const shapedSelections: unknown[] = [];
([[17, 8, 0.7, 0.35], [64, 10, 0.3, 0.5], [200, 11, 0.25, 0.2], [1000, 9, 0.12, 0.35], [5, 6, 3.0, 0.1]] as const).forEach(([n, k, scale, s], idx) => {
  const r = lcg(5000 + idx);
  const d = new Float32Array(n).map(() => Math.fround(((r() / 2 ** 32) * 2 - 1) * scale * 1.7));
  const shape = targetShape(d, s);
  const addr = { key, step: 300 + idx, chunk: idx };
  const sel = selectChunkReference({ addr, d, k, shape });
  shapedSelections.push({ step: addr.step, chunk: addr.chunk, k, a: hex(f32Bits(shape.a)), b: hex(f32Bits(shape.b)), d: bitsOf(d), index: sel.index, score: hex(f32Bits(sel.score)) });
});

const permutations = [{ step: 3, n: 10 }, { step: 4, n: 37 }].map((p) => ({
  ...p, perm: Array.from(stepPermutation(key, p.step, p.n)),
}));
const noise = { step: 1, stream: 2, n: 6, z: bitsOf(chainNoise(key, 1, 2, 6)) };

const doc = {
  spec: 'docs/rcc.md v1',
  note: 'Floats are binary32 bit patterns in hex. key is (seedLo, seedHi) for everything below philox.',
  key: [hex(key.seedLo), hex(key.seedHi)],
  philox, ln, normals, candidates, arrivals, selections, shapedSelections, permutations, noise,
};
writeFileSync(new URL('../test/vectors/rcc-v1.json', import.meta.url), JSON.stringify(doc, null, 1) + '\n');
console.log('wrote test/vectors/rcc-v1.json');
