/**
 * Tiling in the ONNX families (issue 11): copies of the tiny test bundles with 8-cell tiles
 * (overlap 2) so that a 192x128 image runs through many denoiser and VAE tiles. The tiny graphs
 * are local convolutions (scripts/make-test-models.py), so tiled results can be checked against
 * the whole-image call where no tile edge is near.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDiffusionModel, type LoadModelOptions } from '../src/models/load.js';
import { ModelError } from '../src/models/errors.js';
import { OnnxSession, type Feed } from '../src/models/onnx/session.js';
import { decodeTiled, encodeTiled } from '../src/models/onnx/vae-tiles.js';
import { TiledPredictor, tileGrid, type AxisTiles } from '../src/codec/tiling/index.js';
import { compressLatents } from '../src/codec/codec.js';
import { reconstruct } from '../src/codec/diffusion/reconstruct.js';
import { tsBackend } from '../src/codec/rcc/select.js';
import { compressionSettings } from '../src/pipeline/compress-settings.js';
import { decodeDfc } from '../src/pipeline/decompress.js';
import { protocolFor, resolveSchedule, type LoadedModel } from '../src/pipeline/model-context.js';
import { cropTo, padToMultiple, planarSignedTile, toPlanarSigned } from '../src/image/geometry.js';
import type { RgbImage } from '../src/image/types.js';

const TEST_MODELS = fileURLToPath(new URL('../models/test/', import.meta.url));
const FAMILIES = ['sd15', 'sd21', 'sdxl', 'flux-dev'] as const;
type Family = (typeof FAMILIES)[number];
const SMALL_TILES = { predictor: { tile: 8, overlap: 2 }, vae: { tile: 8, overlap: 2 } };

const tmpDirs: string[] = [];
after(async () => {
  for (const d of tmpDirs) await rm(d, { recursive: true, force: true });
});

/** A copy of a test bundle whose manifest is changed by `edit` (file sha256s stay valid). */
async function bundleCopy(fam: Family, edit: (m: Record<string, unknown>) => Record<string, unknown>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `diffc-tiling-${fam}-`));
  tmpDirs.push(dir);
  await cp(join(TEST_MODELS, fam), dir, { recursive: true });
  const raw = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Record<string, unknown>;
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(edit(raw)));
  return dir;
}

const tiledDirs = new Map<Family, Promise<string>>();
function tiledBundle(fam: Family): Promise<string> {
  let d = tiledDirs.get(fam);
  if (!d) {
    d = bundleCopy(fam, (m) => ({ ...m, tiling: SMALL_TILES }));
    tiledDirs.set(fam, d);
  }
  return d;
}

function testImage(width: number, height: number, seed = 0): RgbImage {
  const data = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) {
    data[(y * width + x) * 3 + c] = 0.5 + 0.4 * Math.sin((x + seed) / (5 + c)) * Math.cos((y - seed) / 7) + 0.05 * Math.sin(x * y * 0.01);
  }
  return { width, height, data, bitDepth: 8 };
}

const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** Records every graph call (file, feed dims and data) while `fn` runs. */
async function spyRuns<T>(fn: () => Promise<T>): Promise<{ result: T; calls: { path: string; feeds: Record<string, Feed> }[] }> {
  const calls: { path: string; feeds: Record<string, Feed> }[] = [];
  const orig = OnnxSession.prototype.run;
  OnnxSession.prototype.run = function (this: OnnxSession, feeds: Record<string, Feed>, outputs?: readonly string[]) {
    calls.push({ path: this.path, feeds: Object.fromEntries(Object.entries(feeds).map(([k, f]) => [k, { dims: [...f.dims], data: Array.from(f.data) }])) });
    return orig.call(this, feeds, outputs);
  };
  try {
    return { result: await fn(), calls };
  } finally {
    OnnxSession.prototype.run = orig;
  }
}
const callsTo = (calls: { path: string; feeds: Record<string, Feed> }[], role: string) => calls.filter((c) => c.path.includes(`/${role}/`));

/** Cells of an axis that lie at least `margin` cells inside every tile covering them (image ends excepted). */
function interior(a: AxisTiles, margin: number): boolean[] {
  const ok = new Array<boolean>(a.length).fill(true);
  for (const s of a.starts) {
    for (let i = 0; i < margin; i++) {
      if (s > 0) ok[s + i] = false;
      if (s + a.size < a.length) ok[s + a.size - 1 - i] = false;
    }
  }
  return ok;
}

/** Cells covered by exactly one tile (where the blend is that tile's value, bit for bit). */
function single(a: AxisTiles): boolean[] {
  const n = new Array<number>(a.length).fill(0);
  for (const s of a.starts) for (let i = 0; i < a.size; i++) n[s + i]++;
  return n.map((v) => v === 1);
}

async function load(dir: string, opts: LoadModelOptions = {}): Promise<LoadedModel> {
  const { model, schedules } = await loadDiffusionModel(dir, opts);
  return { model, namedSchedules: schedules };
}

for (const fam of FAMILIES) {
  test(`${fam}: tiled compress -> decompress through the pipeline decodes to the encoder's reconstruction, bit for bit`, async () => {
    const dir = await tiledBundle(fam);
    const enc = await load(dir), dec = await load(dir);
    try {
      const info = enc.model.info;
      const img = testImage(180, 120, 3);
      const { image: padded } = padToMultiple(img, info.sizeMultiple);
      assert.deepEqual([padded.width, padded.height], [192, 128]);
      const schedule = resolveSchedule(enc, info.defaults.schedule);
      const [latent] = await enc.model.encode([padded]);
      const predictor = await enc.model.predictor(padded.width, padded.height);
      assert.ok(predictor instanceof TiledPredictor, 'the 16x24 latent is tiled');
      assert.ok(predictor.grid.tiles.length >= 9, `${predictor.grid.tiles.length} tiles`);
      const { params, recon, seed, image, stop } = compressionSettings({ info, schedule, latent: predictor.latent, width: img.width, height: img.height, seed: 11, steps: 3 });
      const protocol = protocolFor(enc, padded.width, padded.height, schedule, params);
      const [c] = await compressLatents(predictor, [{ latent, image, seed, stop }], { schedule, params, recon, backend: tsBackend, protocol });
      const x0 = await reconstruct(predictor, c.chain.state, c.chain.alphaBar, latent.length, { ...recon, table: enc.model.table, key: { seedLo: seed.lo, seedHi: seed.hi } });
      const [rgb] = await enc.model.decode([x0], padded.width, padded.height);
      const expected = cropTo(rgb, img.width, img.height);
      // The decoder is a separate model instance, as in another process.
      const d = await decodeDfc(dec, c.bytes);
      assert.equal(d.steps, 3);
      assert.deepEqual([d.image.width, d.image.height], [180, 120]);
      assert.ok(bits(d.image.data).equals(bits(expected.data)), `${fam}: decode differs from the encoder's reconstruction`);
      assert.ok(predictor.calls > 0 && predictor.tilesPredicted > predictor.calls, 'tiles go through the UNet in batches');
    } finally {
      await enc.model.close();
      await dec.model.close();
    }
  });

  test(`${fam}: a latent that fits one tile is predicted exactly as without tiling`, async () => {
    const tiled = await load(await tiledBundle(fam));
    const plain = await load(join(TEST_MODELS, fam));
    try {
      const [x] = await plain.model.encode([testImage(64, 64, 5)]);
      const [xt] = await tiled.model.encode([testImage(64, 64, 5)]);
      assert.ok(bits(xt).equals(bits(x)), 'a one-tile VAE encode is the whole-image call');
      const p = await plain.model.predictor(64, 64);
      const q = await tiled.model.predictor(64, 64);
      assert.ok(!(q instanceof TiledPredictor));
      assert.deepEqual(q.latent, p.latent);
      const batch = [{ x, alphaBar: 0.7 }, { x, alphaBar: 0.995 }];
      const a = await p.predict(batch), b = await q.predict(batch);
      for (let i = 0; i < a.length; i++) assert.ok(bits(a[i]).equals(bits(b[i])), `${fam} request ${i}`);
      const [ia] = await plain.model.decode([a[0]], 64, 64), [ib] = await tiled.model.decode([a[0]], 64, 64);
      assert.ok(bits(ia.data).equals(bits(ib.data)), 'a one-tile VAE decode is the whole-image call');
    } finally {
      await tiled.model.close();
      await plain.model.close();
    }
  });
}

test('sd15: the tiled UNet gets tile-sized samples in batches of maxBatch; the text encoder runs once', async () => {
  const { model } = await load(await tiledBundle('sd15'), { maxBatch: 5 });
  try {
    const [x] = await model.encode([testImage(192, 128, 1)]);
    const { result: preds, calls } = await spyRuns(async () => {
      const p = await model.predictor(192, 128, { prompt: 'a photo' });
      await model.predictor(128, 128, { prompt: 'a photo' }); // another size, same prompt: no second text encode
      assert.ok(p instanceof TiledPredictor);
      assert.equal(p.grid.tiles.length, 12); // 3 rows x 4 columns of 8x8 over 16x24
      const out = await p.predict([{ x, alphaBar: 0.5 }, { x, alphaBar: 0.2 }]);
      assert.equal(p.calls, 5);
      assert.equal(p.tilesPredicted, 24);
      return out;
    });
    assert.equal(callsTo(calls, 'text_encoder').length, 1);
    const unet = callsTo(calls, 'unet');
    assert.deepEqual(unet.map((c) => c.feeds.sample.dims), [[5, 4, 8, 8], [5, 4, 8, 8], [5, 4, 8, 8], [5, 4, 8, 8], [4, 4, 8, 8]]);
    assert.deepEqual(unet.map((c) => c.feeds.encoder_hidden_states.dims[0]), [5, 5, 5, 5, 4]);
    assert.equal(preds.length, 2);
    for (const q of preds) assert.ok(q.length === 4 * 16 * 24 && q.every(Number.isFinite));
  } finally {
    await model.close();
  }
});

test('sdxl: time_ids describe the tile (its pixels, crop 0,0), for base and refiner', async () => {
  const { model } = await load(await tiledBundle('sdxl'));
  try {
    const [x] = await model.encode([testImage(192, 128, 2)]);
    const p = await model.predictor(192, 128, { guidance: 3 });
    const { calls } = await spyRuns(() => p.predict([{ x, alphaBar: 0.5 }, { x, alphaBar: 0.995 }]));
    const base = callsTo(calls, 'unet'), refiner = callsTo(calls, 'refiner_unet');
    assert.ok(base.length > 0 && refiner.length > 0);
    for (const c of base) {
      const n = c.feeds.time_ids.dims[0];
      assert.deepEqual(c.feeds.sample.dims.slice(1), [4, 8, 8]);
      assert.deepEqual(Array.from(c.feeds.time_ids.data).slice(0, 6), [64, 64, 0, 0, 64, 64]);
      assert.equal(c.feeds.time_ids.data.length, 6 * n);
    }
    for (const c of refiner) {
      const t = Array.from(c.feeds.time_ids.data), n = c.feeds.time_ids.dims[0];
      // CFG: the unconditional half (aesthetic 2.5) first, then the conditional (6).
      assert.deepEqual(t.slice(0, 5), [64, 64, 0, 0, 2.5]);
      assert.deepEqual(t.slice(5 * (n - 1)), [64, 64, 0, 0, 6]);
    }
  } finally {
    await model.close();
  }
});

test('flux-dev: tiles start on even cells and the transformer sees tile-local img_ids', async () => {
  const { model } = await load(await tiledBundle('flux-dev'));
  try {
    const [x] = await model.encode([testImage(192, 128, 4)]);
    const p = await model.predictor(192, 128);
    assert.ok(p instanceof TiledPredictor);
    for (const t of p.grid.tiles) assert.ok(t.x % 2 === 0 && t.y % 2 === 0, `tile at (${t.y}, ${t.x})`);
    const { calls } = await spyRuns(() => p.predict([{ x, alphaBar: 0.4 }]));
    const tr = callsTo(calls, 'transformer');
    assert.equal(tr.length, Math.ceil(p.grid.tiles.length / 4));
    for (const c of tr) {
      assert.deepEqual(c.feeds.hidden_states.dims.slice(1), [16, 64]); // 4x4 tokens of 2x2x16
      assert.deepEqual(c.feeds.img_ids.dims, [16, 3]);
      const ids = Array.from(c.feeds.img_ids.data);
      assert.equal(Math.max(...ids), 3);
    }
  } finally {
    await model.close();
  }
});

for (const fam of ['sd15', 'sd21'] as const) {
  test(`${fam}: tiled prediction of the local tiny UNet equals the whole-latent one away from tile edges`, async () => {
    const tiled = await load(await tiledBundle(fam));
    const plain = await load(join(TEST_MODELS, fam));
    try {
      const [x] = await plain.model.encode([testImage(192, 128, 6)]);
      const whole = await plain.model.predictor(192, 128);
      const tp = await tiled.model.predictor(192, 128);
      assert.ok(!(whole instanceof TiledPredictor) && tp instanceof TiledPredictor);
      const [a] = await whole.predict([{ x, alphaBar: 0.3 }]);
      const [b] = await tp.predict([{ x, alphaBar: 0.3 }]);
      const [b2] = await tp.predict([{ x, alphaBar: 0.3 }]);
      assert.ok(bits(b).equals(bits(b2)), 'tiled predictions are deterministic');
      // The UNet is a 3x3 conv: cells one inside every covering tile see the same neighbourhood.
      const ry = interior(tp.grid.rows, 1), rx = interior(tp.grid.cols, 1);
      let inside = 0, edge = 0;
      for (let c = 0; c < 4; c++) for (let y = 0; y < 16; y++) for (let xx = 0; xx < 24; xx++) {
        const i = (c * 16 + y) * 24 + xx, e = Math.abs(a[i] - b[i]);
        if (ry[y] && rx[xx]) inside = Math.max(inside, e); else edge = Math.max(edge, e);
      }
      assert.ok(inside < 1e-5, `interior error ${inside}`);
      assert.ok(edge > 1e-4, `tile edges should see the zero padding (max error ${edge})`);
    } finally {
      await tiled.model.close();
      await plain.model.close();
    }
  });
}

for (const fam of FAMILIES) {
  test(`${fam}: tiled VAE encode/decode agree with the whole-image calls, in batched tile calls, deterministically`, async () => {
    const tiled = await load(await tiledBundle(fam), { vaeMaxBatch: 4 });
    const plain = await load(join(TEST_MODELS, fam));
    try {
      const img = testImage(192, 128, 7);
      const [whole] = await plain.model.encode([img]);
      const { result: [z], calls: encCalls } = await spyRuns(() => tiled.model.encode([img]));
      const [z2] = await tiled.model.encode([img]);
      assert.ok(bits(z).equals(bits(z2)), 'tiled encode is deterministic');
      const grid = tileGrid(16, 24, tiled.model.info.family === 'flux-dev' ? { ...SMALL_TILES.vae, align: 2 } : SMALL_TILES.vae);
      const enc = callsTo(encCalls, 'vae_encoder');
      assert.equal(enc.length, Math.ceil(grid.tiles.length / 4));
      for (const c of enc) assert.deepEqual(c.feeds.sample.dims.slice(1), [3, 64, 64]);
      assert.equal(enc[0].feeds.sample.dims[0], 4);
      // The tiny encoder is an 8x8 stride-8 conv: every latent cell sees only its own pixels.
      const C = tiled.model.info.latentChannels, sy = single(grid.rows), sx = single(grid.cols);
      for (let c = 0; c < C; c++) for (let y = 0; y < 16; y++) for (let x = 0; x < 24; x++) {
        const i = (c * 16 + y) * 24 + x;
        if (sy[y] && sx[x]) assert.equal(z[i], whole[i], `latent ${i} (one tile) is that tile's value`);
        else assert.ok(Math.abs(z[i] - whole[i]) < 1e-5, `latent ${i}: ${z[i]} vs ${whole[i]}`);
      }
      const [im] = await plain.model.decode([whole], 192, 128);
      const { result: [it], calls: decCalls } = await spyRuns(() => tiled.model.decode([whole], 192, 128));
      const [it2] = await tiled.model.decode([whole], 192, 128);
      assert.ok(bits(it.data).equals(bits(it2.data)), 'tiled decode is deterministic');
      const dec = callsTo(decCalls, 'vae_decoder');
      assert.equal(dec.length, Math.ceil(grid.tiles.length / 4));
      for (const c of dec) assert.deepEqual(c.feeds.latent_sample.dims.slice(1), [C, 8, 8]);
      let max = 0;
      for (let i = 0; i < im.data.length; i++) max = Math.max(max, Math.abs(im.data[i] - it.data[i]));
      assert.ok(max < 1e-5, `decode differs by ${max}`);
      assert.ok(it.data.every((v) => v >= 0 && v <= 1));
    } finally {
      await tiled.model.close();
      await plain.model.close();
    }
  });
}

test('tiled VAE helpers: the signed tile cut is toPlanarSigned of the tile; batching tiles does not change the bits', async () => {
  const img = testImage(48, 40, 8);
  const buf = new Float32Array(3 * 16 * 24);
  planarSignedTile(img, 8, 16, 16, 24, buf);
  const ref = toPlanarSigned(img);
  for (let c = 0; c < 3; c++) for (let y = 0; y < 16; y++) for (let x = 0; x < 24; x++) {
    assert.equal(buf[(c * 16 + y) * 24 + x], ref[(c * 40 + y + 8) * 48 + x + 16]);
  }
  assert.throws(() => planarSignedTile(img, 30, 0, 16, 16, buf), RangeError);
  // A fake "VAE" whose output depends on where in the tile a value is: only the blend makes it whole.
  const d = 4, shape = { channels: 2, height: 10, width: 12 };
  const grid = tileGrid(10, 12, { tile: 6, overlap: 2 });
  assert.equal(grid.tiles.length, 6);
  const encCall = async (x: Float32Array, n: number, th: number, tw: number) => Array.from({ length: n }, (_, j) => {
    const h = th / d, w = tw / d, out = new Float32Array(2 * h * w);
    for (let c = 0; c < 2; c++) for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) {
      out[(c * h + y) * w + xx] = x[j * 3 * th * tw + (c * th + y * d) * tw + xx * d] + 0.01 * (y + xx);
    }
    return out;
  });
  const pic = testImage(48, 40, 9);
  const e1 = await encodeTiled(pic, shape, grid, d, 1, encCall);
  const e3 = await encodeTiled(pic, shape, grid, d, 3, encCall);
  assert.ok(bits(e1).equals(bits(e3)), 'batch 1 and batch 3 give the same bits');
  const decCall = async (z: Float32Array, n: number, th: number, tw: number) => Array.from({ length: n }, (_, j) => {
    const H = th * d, W = tw * d, out = new Float32Array(3 * H * W);
    for (let c = 0; c < 3; c++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) out[(c * H + y) * W + x] = Math.tanh(z[j * 2 * th * tw + (c % 2) * th * tw + Math.floor(y / d) * tw + Math.floor(x / d)]);
    return out;
  });
  const r1 = await decodeTiled(e1, shape, grid, d, 1, (v) => v * 2, decCall);
  const r4 = await decodeTiled(e1, shape, grid, d, 4, (v) => v * 2, decCall);
  assert.deepEqual([r1.width, r1.height], [48, 40]);
  assert.ok(bits(r1.data).equals(bits(r4.data)));
  assert.ok(r1.data.every((v) => v >= 0 && v <= 1));
  await assert.rejects(decodeTiled(new Float32Array(5), shape, grid, d, 1, (v) => v, decCall), RangeError);
});

test('a manifest with a bad tiling is refused with a manifest ModelError', async () => {
  const bad = [
    { predictor: { tile: 8, overlap: 8 } },
    { predictor: { tile: 0, overlap: 0 } },
    { predictor: { tile: 64, overlap: 16 }, vae: { tile: 16, overlap: 20 } },
    { predictor: { tile: 64 } },
  ];
  for (const tiling of bad) {
    const dir = await bundleCopy('sd15', (m) => ({ ...m, tiling }));
    await assert.rejects(loadDiffusionModel(dir), (e) => e instanceof ModelError && e.code === 'manifest' && /tiling/.test(e.message), JSON.stringify(tiling));
  }
  // A valid override loads and changes the model hash (the tiling is part of the model).
  const plain = await loadDiffusionModel(join(TEST_MODELS, 'sd15'), { verify: false });
  const tiled = await loadDiffusionModel(await tiledBundle('sd15'), { verify: false });
  assert.notDeepEqual(tiled.model.info.hash, plain.model.info.hash);
  await plain.model.close();
  await tiled.model.close();
});
