// Seam metric: band membership by hand, ratios for error placed on or off the edges, and the
// edges of a real tile grid.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seamRatio, seamEdgesOf, SeamError } from '../src/eval/seams.js';
import { tileGrid } from '../src/codec/tiling/grid.js';
import type { RgbImage } from '../src/image/types.js';

const W = 96, H = 64;
const flat = (w: number, h: number, v: number): RgbImage => ({ width: w, height: h, data: new Float32Array(w * h * 3).fill(v), bitDepth: 8 });

/** `base` with error `f(x, y)` added to every channel. */
function withError(base: RgbImage, f: (x: number, y: number) => number): RgbImage {
  const d = Float32Array.from(base.data);
  for (let y = 0; y < base.height; y++) for (let x = 0; x < base.width; x++) for (let c = 0; c < 3; c++) d[(y * base.width + x) * 3 + c] += f(x, y);
  return { ...base, data: d };
}

test('error only near the edges gives a large ratio; the band is 8 px each side of the boundary', () => {
  const a = flat(W, H, 0.5);
  // Column edge at 48: pixels 40..55 are the band (boundary between 47 and 48).
  const onEdge = withError(a, (x) => (x >= 40 && x <= 55 ? 0.1 : 0.001));
  const r = seamRatio(a, onEdge, { cols: [48], rows: [] });
  assert.equal(r.boundaryPixels, 16 * H);
  assert.equal(r.interiorPixels, (W - 16) * H);
  assert.ok(Math.abs(r.boundaryMse - 0.01) < 1e-6, `boundary ${r.boundaryMse}`);
  assert.ok(Math.abs(r.interiorMse - 1e-6) < 1e-9, `interior ${r.interiorMse}`);
  assert.ok(r.ratio > 9000 && r.ratio < 11000, `ratio ${r.ratio}`);
  // Error just outside the band (x = 39 and 56) counts as interior.
  const beside = withError(a, (x) => (x === 39 || x === 56 ? 0.1 : 0));
  const rb = seamRatio(a, beside, { cols: [48], rows: [] });
  assert.equal(rb.boundaryMse, 0);
  assert.ok(rb.interiorMse > 0);
  assert.equal(rb.ratio, 0);
});

test('row edges and column edges both count; a pixel in both bands is counted once', () => {
  const a = flat(W, H, 0.25);
  const rowErr = withError(a, (_x, y) => (y >= 24 && y < 40 ? 0.2 : 0.01));
  const r = seamRatio(a, rowErr, { cols: [], rows: [32] });
  assert.equal(r.boundaryPixels, 16 * W);
  assert.ok(r.ratio > 100);
  const both = seamRatio(a, rowErr, { cols: [48], rows: [32] });
  assert.equal(both.boundaryPixels + both.interiorPixels, W * H);
  assert.equal(both.boundaryPixels, 16 * W + 16 * H - 16 * 16);
});

test('uniform error gives a ratio of 1; no error anywhere also gives 1', () => {
  const a = flat(W, H, 0.5);
  const u = withError(a, () => 0.03);
  const r = seamRatio(a, u, { cols: [32, 64], rows: [32] });
  assert.ok(Math.abs(r.ratio - 1) < 1e-6, `ratio ${r.ratio}`);
  assert.equal(seamRatio(a, a, { cols: [32], rows: [] }).ratio, 1);
  // Pseudo-random error that does not depend on position: about 1.
  let s = 7;
  const noisy = withError(a, () => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return 0.05 * (s / 2 ** 32 - 0.5); });
  const rn = seamRatio(a, noisy, { cols: [32, 64], rows: [32] });
  assert.ok(Math.abs(rn.ratio - 1) < 0.05, `ratio ${rn.ratio}`);
});

test('no edge inside the image is a clear error, as are mismatched sizes and all-band images', () => {
  const a = flat(W, H, 0.5);
  assert.throws(() => seamRatio(a, a, { cols: [], rows: [] }), (e) => e instanceof SeamError && e.code === 'no-edges');
  assert.throws(() => seamRatio(a, a, { cols: [0, W], rows: [H] }), (e) => e instanceof SeamError && e.code === 'no-edges');
  assert.throws(() => seamRatio(a, flat(W, H + 1, 0.5), { cols: [48], rows: [] }), (e) => e instanceof SeamError && e.code === 'size');
  assert.throws(() => seamRatio(flat(16, 16, 0), flat(16, 16, 0), { cols: [8], rows: [] }), (e) => e instanceof SeamError && e.code === 'no-interior');
});

test('seamEdgesOf: a grid\'s interior tile starts and ends, times the downsample', () => {
  // 160 cells, tiles of 64 with overlap 16: starts 0, 48, 96 (ends 64, 112).
  const g = tileGrid(64, 160, { tile: 64, overlap: 16 });
  assert.deepEqual(g.cols.starts, [0, 48, 96]);
  const e = seamEdgesOf(g, 4);
  assert.deepEqual(e.cols, [48 * 4, 64 * 4, 96 * 4, 112 * 4]);
  assert.deepEqual(e.rows, []);
  assert.throws(() => seamEdgesOf(g, 0), RangeError);
});
