/**
 * Regenerates test/vectors/learned-entropy-v1.json from the TypeScript reference
 * (docs/learned-entropy.md): the sha256 of every Gaussian-conditional table, some values of the
 * deterministic Φ, a Gaussian-conditional stream (scales on and near bucket boundaries included)
 * and a factorized one, with their exact bytes. Normative once committed: changing them means a
 * new version of the spec. Usage: npx tsx scripts/gen-learned-entropy-vectors.ts
 */
import { writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { BOUNDS, detPhi, encodeFactorized, encodeGaussian, factorizedTables, gaussianTables, quantizeTable, SCALES } from '../src/codec/entropy/learned/index.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const f32hex = (v: number) => Buffer.from(new Float32Array([v]).buffer).readUInt32LE(0).toString(16).padStart(8, '0');
const f64hex = (v: number) => Buffer.from(new Float64Array([v]).buffer).readBigUInt64LE(0).toString(16).padStart(16, '0');

/** Small deterministic generator for inputs (not part of the spec). */
function lcg(seed: number) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

const tables = gaussianTables();
const all = createHash('sha256');
for (const t of tables) all.update(Buffer.from(new Uint32Array(t.freqs).buffer));

// A stream: scales spread over the table, some exactly on boundaries and 1 ulp either side.
const rnd = lcg(17);
const n = 400;
const scales = new Float32Array(n), symbols = new Int32Array(n);
const next = (v: number, d: number) => { const u = new Uint32Array(new Float32Array([v]).buffer); u[0] += d; return new Float32Array(u.buffer)[0]; };
for (let i = 0; i < n; i++) {
  const b = BOUNDS[Math.floor(rnd() * BOUNDS.length)];
  scales[i] = i % 8 === 0 ? b : i % 8 === 1 ? next(b, 1) : i % 8 === 2 ? next(b, -1) : Math.fround(0.05 * 2 ** (rnd() * 12));
  // Roughly Gaussian symbols of that scale (sum of uniforms), some far out to exercise the escape.
  const z = (rnd() + rnd() + rnd() - 1.5) * 2;
  symbols[i] = i % 97 === 5 ? 4000 - i : Math.round(z * scales[i]);
}
const g = encodeGaussian(symbols, scales, 14);
const fz = {
  channels: [
    quantizeTable(-3, [0.05, 0.15, 0.2, 0.2, 0.2, 0.15, 0.04], 0.01),
    quantizeTable(0, [0.9, 0.09], 0.01),
  ].map((t) => ({ offset: t.offset, freqs: Array.from(t.freqs) })),
};
const fsyms = Int32Array.from({ length: 64 }, (_, i) => (i % 2 === 0 ? [0, 1, -1, 2, 0, -3, 9, 0][i % 8 / 2 | 0] : [0, 1, 0, 5][i % 4 >> 1]));
const fbytes = encodeFactorized(fsyms, (i) => i % 2, factorizedTables(fz));

const out = {
  spec: 'docs/learned-entropy.md (learned entropy coding v1)',
  note: 'tables_sha256[k]: sha256 of table k\'s frequencies (ordinary symbols then the escape) as uint32 little-endian; phi: detPhi at x (doubles as hex); streams: exact bytes',
  scales_f32: Array.from(SCALES, f32hex),
  bounds_f32: Array.from(BOUNDS, f32hex),
  tables_sha256: tables.map((t) => createHash('sha256').update(Buffer.from(new Uint32Array(t.freqs).buffer)).digest('hex')),
  tables_sha256_all: all.digest('hex'),
  phi: [-9, -6.5, -3, -1, -0.25, 0, 0.3, 1.7, 4.5, 8].map((x) => [x, f64hex(detPhi(x))]),
  gaussian: { guard: 14, scales_f32: Array.from(scales, f32hex), symbols: Array.from(symbols), guarded: g.stats.guarded, bytes: hex(g.bytes) },
  factorized: { tables: fz, channel_of: 'i % 2', symbols: Array.from(fsyms), bytes: hex(fbytes) },
};
writeFileSync(new URL('../test/vectors/learned-entropy-v1.json', import.meta.url), JSON.stringify(out, null, 1).replace(/\[[^[\]{}]*\]/g, (a) => a.replace(/\s+/g, '')) + '\n');
console.log(`wrote test/vectors/learned-entropy-v1.json: ${n} gaussian symbols (${g.stats.guarded} guarded) in ${g.bytes.length} bytes, factorized ${fbytes.length} bytes`);
