/**
 * Tile layouts, blending and the tiled predictor (docs/tiling.md): the fixed layout vector, the
 * blend's partition of unity, and that a tiled prediction of a local operator equals the whole.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { axisTiles, axisWeights, axisNormaliser, tileGrid, tileEdges, TileBlender, cutTile, scaled, TiledPredictor, tiledPredictor } from '../src/codec/tiling/index.js';
import type { DenoiseRequest, NoisePredictor } from '../src/codec/model.js';

test('axis layout: the fixed vector of docs/tiling.md §2', () => {
  assert.deepEqual(axisTiles(64, { tile: 64, overlap: 16 }).starts, [0]);
  assert.deepEqual(axisTiles(40, { tile: 64, overlap: 16 }), { length: 40, size: 40, starts: [0], ramp: 0 });
  assert.deepEqual(axisTiles(135, { tile: 64, overlap: 16 }).starts, [0, 35, 71]);
  assert.deepEqual(axisTiles(240, { tile: 64, overlap: 16 }).starts, [0, 44, 88, 132, 176]);
  assert.deepEqual(axisTiles(270, { tile: 128, overlap: 32, align: 2 }).starts, [0, 70, 142]);
});

test('axis layout: every cell covered, overlaps at least the spec, last tile ends at the end', () => {
  for (const [tile, overlap, align] of [[64, 16, 1], [128, 32, 2], [8, 0, 1], [16, 7, 4], [32, 31, 1]]) {
    for (let L = align; L < 600; L += align) {
      const a = axisTiles(L, { tile, overlap, align });
      const n = a.starts.length;
      assert.equal(a.starts[0], 0);
      assert.equal(a.starts[n - 1] + a.size, L, `L=${L}`);
      for (const s of a.starts) assert.equal(s % align, 0);
      for (let k = 1; k < n; k++) assert.ok(a.starts[k - 1] + a.size - a.starts[k] >= overlap, `L=${L} k=${k}`);
      const norm = axisNormaliser(a);
      for (let i = 0; i < L; i++) assert.ok(norm[i] > 0);
    }
  }
});

test('weights ramp only on edges that meet another tile', () => {
  const a = axisTiles(135, { tile: 64, overlap: 16 });
  const first = axisWeights(a, 0), mid = axisWeights(a, 1), last = axisWeights(a, 2);
  assert.equal(first[0], 1);
  assert.equal(first[63], 0.5 / 16);
  assert.equal(mid[0], 0.5 / 16);
  assert.equal(mid[15], 15.5 / 16);
  assert.equal(mid[16], 1);
  assert.equal(last[63], 1);
  assert.deepEqual(tileEdges(a), [35, 64, 71, 99]);
});

test('blending the tiles of an array gives the array back (to float32 rounding)', () => {
  const C = 3, H = 37, W = 90;
  const x = Float32Array.from({ length: C * H * W }, (_, i) => Math.sin(i * 0.37) * 5);
  for (const spec of [{ tile: 16, overlap: 4 }, { tile: 20, overlap: 0 }, { tile: 64, overlap: 16 }]) {
    const g = tileGrid(H, W, spec);
    const b = new TileBlender(g, C);
    for (const t of g.tiles) b.add(cutTile(x, C, H, W, t.y, t.x, g.rows.size, g.cols.size));
    const y = b.finish();
    for (let i = 0; i < x.length; i++) assert.ok(Math.abs(y[i] - x[i]) <= 4e-7 * Math.max(1, Math.abs(x[i])), `${i}: ${y[i]} vs ${x[i]}`);
  }
});

test('HWC blending of d-times larger tiles matches CHW', () => {
  const g = tileGrid(12, 20, { tile: 8, overlap: 2 });
  const d = 2, C = 3;
  const chw = new TileBlender(g, C, 'chw', d), hwc = new TileBlender(g, C, 'hwc', d);
  const sg = scaled(g, d);
  g.tiles.forEach((_, k) => {
    const t = Float32Array.from({ length: C * sg.rows.size * sg.cols.size }, (_, i) => ((i * 7 + k * 13) % 17) / 17);
    chw.add(t);
    hwc.add(t);
  });
  const a = chw.finish(), b = hwc.finish(), H = 24, W = 40;
  for (let c = 0; c < C; c++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) assert.equal(b[(y * W + x) * C + c], a[(c * H + y) * W + x]);
});

/** A local operator (3x3 box filter with edge clamping, times a level-dependent gain). */
function boxPredictor(h: number, w: number, maxBatch = 3): NoisePredictor & { tiles: number } {
  const p = {
    id: 'box', hash: new Uint8Array(8), latent: { channels: 2, height: h, width: w }, prediction: 'x0' as const, maxBatch, tiles: 0,
    async predict(batch: readonly DenoiseRequest[]) {
      p.tiles += batch.length;
      return batch.map(({ x, alphaBar }) => {
        const out = new Float32Array(x.length);
        for (let c = 0; c < 2; c++) for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) {
          let s = 0;
          for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
            const yy = Math.min(h - 1, Math.max(0, y + dy)), xc = Math.min(w - 1, Math.max(0, xx + dx));
            s += x[(c * h + yy) * w + xc];
          }
          out[(c * h + y) * w + xx] = (alphaBar * s) / 9;
        }
        return out;
      });
    },
  };
  return p;
}

test('a tiled local operator equals the whole one away from tile edges, and is deterministic', async () => {
  const H = 30, W = 50, spec = { tile: 16, overlap: 6 };
  const whole = boxPredictor(H, W);
  const tiled = await tiledPredictor({ channels: 2, height: H, width: W }, spec, async (h, w) => boxPredictor(h, w));
  assert.ok(tiled instanceof TiledPredictor);
  const x = Float32Array.from({ length: 2 * H * W }, (_, i) => Math.cos(i * 1.3));
  const reqs = [{ x, alphaBar: 0.5 }, { x, alphaBar: 0.9 }];
  const [a] = await whole.predict([reqs[0]]);
  const [t1, t2] = await tiled.predict(reqs);
  const again = await tiled.predict([reqs[1]]);
  assert.deepEqual(again[0], t2);
  // Cells whose 3x3 neighbourhood lies inside every tile that covers them with positive weight are exact.
  let checked = 0;
  const g = (tiled as TiledPredictor).grid;
  const inner = (edges: number[], v: number) => edges.every((e) => Math.abs(v - e) > 1 && Math.abs(v - (e - 1)) > 1);
  for (let y = 1; y < H - 1; y++) for (let xx = 1; xx < W - 1; xx++) {
    if (!inner(tileEdges(g.rows), y) || !inner(tileEdges(g.cols), xx)) continue;
    for (let c = 0; c < 2; c++) {
      const i = (c * H + y) * W + xx;
      assert.ok(Math.abs(t1[i] - a[i]) < 1e-6, `(${c},${y},${xx}) ${t1[i]} vs ${a[i]}`);
      checked++;
    }
  }
  assert.ok(checked > 200, `only ${checked} cells checked`);
  assert.equal((tiled as TiledPredictor).tilesPredicted, 3 * g.tiles.length);
});

test('a latent that fits one tile gets the tile network itself', async () => {
  const p = await tiledPredictor({ channels: 2, height: 16, width: 9 }, { tile: 16, overlap: 4 }, async (h, w) => boxPredictor(h, w));
  assert.equal(p.latent.height, 16);
  assert.equal(p.latent.width, 9);
  assert.ok(!(p instanceof TiledPredictor));
});
