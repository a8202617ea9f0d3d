/**
 * The C++ decoder of docs/learned-entropy.md (native/learned-entropy/, compiled here with g++
 * -O2 -ffp-contract=off) against the TypeScript reference: the deterministic Φ bit for bit, all
 * 64 Gaussian-conditional tables frequency for frequency, and the decoded symbols of the vector
 * stream and of a 20000-element stream, with the encoder's scales and with every scale 1 ulp
 * away. A C++ compiler is required, as for the native RCC addon (README).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detPhi, encodeGaussian, gaussianTables, BOUNDS } from '../src/codec/entropy/learned/index.js';

const SRC = new URL('../native/learned-entropy/check.cpp', import.meta.url).pathname;
const V = JSON.parse(readFileSync(new URL('./vectors/learned-entropy-v1.json', import.meta.url), 'utf8'));
const bin = join(mkdtempSync(join(tmpdir(), 'diffc-le-')), 'check');
const cxx = process.env.CXX ?? 'g++';
execFileSync(cxx, ['-std=c++17', '-O2', '-ffp-contract=off', '-o', bin, SRC], { stdio: 'pipe' });

const run = (input: string) => {
  const r = spawnSync(bin, [], { input, maxBuffer: 1 << 28, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`check exited ${r.status}: ${r.stderr}`);
  return r.stdout.trim().split('\n');
};
const f64hex = (v: number) => Buffer.from(new Float64Array([v]).buffer).readBigUInt64LE(0).toString(16).padStart(16, '0');
const f32hex = (v: number) => new Uint32Array(new Float32Array([v]).buffer)[0].toString(16).padStart(8, '0');
const ulps = (v: number, d: number) => { const u = new Uint32Array(new Float32Array([v]).buffer); u[0] += d; return new Float32Array(u.buffer)[0]; };

test('C++ and TypeScript: the same Φ bits and the same 64 tables', () => {
  const xs = [-40, -9, -6.5, -3.0000001, -3, -1, -0.25, 0, 1e-12, 0.3, 1.7, 2.9999999, 4.5, 8, 40];
  for (let k = 0; k < 200; k++) xs.push((k - 100) / 7.3 + 1e-3 * k);
  const got = run(xs.map((x) => `phi ${f64hex(x)}`).join('\n') + '\n');
  xs.forEach((x, i) => assert.equal(got[i], f64hex(detPhi(x)), `Φ(${x})`));
  const lines = run('tables\n');
  const tables = gaussianTables();
  assert.equal(lines.length, 64);
  lines.forEach((l, k) => {
    const [offset, ...freqs] = l.split(' ').map(Number);
    assert.equal(offset, tables[k].offset, `table ${k} offset`);
    assert.deepEqual(freqs, Array.from(tables[k].freqs), `table ${k}`);
  });
});

test('C++ decodes the TypeScript encoder\'s streams, with its scales and with every scale 1 ulp away', () => {
  const g = V.gaussian;
  const [vec] = run(`gaussian ${g.bytes} ${g.symbols.length} ${g.scales_f32.join(' ')}\n`);
  assert.equal(vec, g.symbols.join(' '));
  // A larger stream: a third of the scales on or next to a boundary.
  let s = 7;
  const rnd = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const n = 20000;
  const scales = new Float32Array(n), symbols = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    scales[i] = i % 3 === 0 ? ulps(BOUNDS[Math.floor(rnd() * BOUNDS.length)], Math.floor(rnd() * 5) - 2) : Math.fround(0.02 * 2 ** (rnd() * 14));
    symbols[i] = Math.round((rnd() + rnd() + rnd() + rnd() - 2) * 1.7 * scales[i]) + (i % 997 === 3 ? 5000 : 0);
  }
  const hex = Buffer.from(encodeGaussian(symbols, scales).bytes).toString('hex');
  const moved = scales.map((v, i) => ulps(v, i % 2 ? 1 : -1));
  const out = run([scales, moved].map((sc) => `gaussian ${hex} ${n} ${Array.from(sc, f32hex).join(' ')}`).join('\n') + '\n');
  assert.equal(out[0], Array.from(symbols).join(' '), 'the encoder\'s scales');
  assert.equal(out[1], Array.from(symbols).join(' '), 'every scale 1 ulp away');
  // A damaged stream is an error there too, not a wrong decode.
  const bad = hex.slice(0, 40) + (hex[40] === '0' ? '1' : '0') + hex.slice(41);
  assert.match(run(`gaussian ${bad} ${n} ${Array.from(scales, f32hex).join(' ')}\n`)[0], /^error (desync|corrupt)/);
});
