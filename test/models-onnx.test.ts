import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDiffusionModel } from '../src/models/load.js';
import { ModelError } from '../src/models/errors.js';
import { packLatent, unpackLatent } from '../src/models/onnx/flux.js';
import { floatsToHalf, fromHalf, halfToFloats, toHalf } from '../src/models/onnx/fp16.js';
import { ClipTokenizer, emptyClipIds } from '../src/models/onnx/clip-tokenizer.js';
import { OnnxSession } from '../src/models/onnx/session.js';
import { compressLatents, decompressLatents, type DecodeContext } from '../src/codec/codec.js';
import { CodingParams } from '../src/codec/chain/chunk-plan.js';
import { scheduleFromId } from '../src/codec/schedule/timesteps.js';
import { reconstruct } from '../src/codec/diffusion/reconstruct.js';
import { tsBackend } from '../src/codec/rcc/select.js';
import type { RgbImage } from '../src/image/types.js';

const TEST_MODELS = fileURLToPath(new URL('../models/test/', import.meta.url));
const FAMILIES = ['sd15', 'sd21', 'sdxl', 'flux-dev'] as const;

function testImage(seed: number, size = 64): RgbImage {
  const data = new Float32Array(size * size * 3);
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) for (let c = 0; c < 3; c++) {
    data[(y * size + x) * 3 + c] = 0.5 + 0.4 * Math.sin((x + seed) / (5 + c)) * Math.cos((y - seed) / 7);
  }
  return { width: size, height: size, data, bitDepth: 8 };
}

const finite = (a: Float32Array) => a.every(Number.isFinite);

for (const fam of FAMILIES) {
  test(`${fam}: encode -> predict (batch of 2) -> decode: shapes and finite values`, async () => {
    const { model, bundle } = await loadDiffusionModel(join(TEST_MODELS, fam));
    try {
      assert.equal(model.info.family, fam);
      assert.deepEqual(model.info.hash, bundle.hash);
      assert.equal(model.table.length, 1000);
      const s = model.latentShape(64, 64);
      const n = s.channels * s.height * s.width;
      assert.equal(s.channels, fam === 'flux-dev' ? 16 : 4);
      assert.equal(s.height, 8);
      const latents = await model.encode([testImage(0), testImage(9)]);
      assert.equal(latents.length, 2);
      for (const l of latents) assert.ok(l.length === n && finite(l));
      assert.notDeepEqual(latents[0], latents[1]);
      const p = await model.predictor(64, 64, {});
      assert.equal(p, await model.predictor(64, 64, {}), 'predictors are reused');
      assert.equal(p.prediction, bundle.manifest.prediction);
      assert.deepEqual(p.latent, s);
      const batch = [{ x: latents[0], alphaBar: 0.6 }, { x: latents[1], alphaBar: 0.02 }];
      const preds = await p.predict(batch);
      assert.equal(preds.length, 2);
      for (const q of preds) assert.ok(q.length === n && finite(q));
      // Batching does not change results (up to float16 rounding for the fp16 SDXL UNet).
      const [single] = await p.predict([batch[1]]);
      for (let i = 0; i < n; i++) assert.ok(Math.abs(single[i] - preds[1][i]) < 1e-5, `${fam} batch vs single at ${i}`);
      const rgb = await model.decode(latents, 64, 64);
      assert.equal(rgb.length, 2);
      for (const im of rgb) {
        assert.equal(im.width, 64);
        assert.equal(im.data.length, 64 * 64 * 3);
        assert.ok(im.data.every((v) => v >= 0 && v <= 1));
      }
      await assert.rejects(model.predictor(60, 64), RangeError);
    } finally {
      await model.close();
    }
  });

  test(`${fam}: compressLatents -> decompressLatents reproduces the encoder's latent`, async () => {
    const { model } = await loadDiffusionModel(join(TEST_MODELS, fam));
    try {
      const predictor = await model.predictor(64, 64);
      const latents = await model.encode([testImage(1), testImage(5)]);
      const schedule = scheduleFromId(model.table, 'even:4');
      const params = CodingParams.parse({ maxChunkBits: 8 });
      const ctx: DecodeContext = { schedule: (id) => scheduleFromId(model.table, id), table: model.table };
      const jobs = latents.map((latent, i) => ({ latent, image: { width: 64, height: 64, channels: 3 }, seed: { lo: 7 + i, hi: 0 }, stop: { steps: 3 } }));
      const recon = { method: 'mse' as const, steps: 1 };
      const cs = await compressLatents(predictor, jobs, { schedule, params, recon, backend: tsBackend });
      const ds = await decompressLatents(predictor, cs.map((c) => c.bytes), ctx);
      for (let i = 0; i < cs.length; i++) {
        assert.equal(ds[i].stepsDecoded, 3);
        assert.deepEqual(ds[i].header.model.hash, model.info.hash);
        const expected = await reconstruct(predictor, cs[i].chain.state, cs[i].chain.alphaBar, latents[i].length, { ...recon, table: model.table, key: { seedLo: 0, seedHi: 0 } });
        assert.ok(finite(ds[i].latent));
        for (let k = 0; k < expected.length; k++) assert.ok(Math.abs(ds[i].latent[k] - expected[k]) < 1e-6, `${fam} latent ${k}`);
        assert.ok(cs[i].bytes.length > 20);
      }
    } finally {
      await model.close();
    }
  });
}

test('flux packing is diffusers\' 2x2 patch order and inverts', () => {
  const C = 2, h = 4, w = 4;
  const x = Float32Array.from({ length: C * h * w }, (_, i) => i);
  const p = packLatent(x, C, h, w);
  // token (0, 1) = rows 0-1, cols 2-3; feature c*4 + 2*di + dj
  const tok = 1, feat = 4 * C;
  assert.equal(p[tok * feat + 0], x[0 * 16 + 0 * 4 + 2]);
  assert.equal(p[tok * feat + 3], x[0 * 16 + 1 * 4 + 3]);
  assert.equal(p[tok * feat + 4], x[1 * 16 + 0 * 4 + 2]);
  assert.deepEqual(unpackLatent(p, C, h, w), x);
});

test('float16 conversion: exact values, rounding to even, overflow, subnormals', () => {
  for (const v of [0, 1, -2, 0.5, 65504, 2 ** -14, 2 ** -24, 1.5, -0.333251953125]) assert.equal(fromHalf(toHalf(v)), v);
  assert.equal(toHalf(1 + 2 ** -11), toHalf(1)); // tie -> even
  assert.equal(fromHalf(toHalf(1 + 3 * 2 ** -11)), 1 + 2 ** -9);
  assert.equal(fromHalf(toHalf(1e6)), Infinity);
  assert.equal(fromHalf(toHalf(2 ** -26)), 0);
  assert.ok(Number.isNaN(fromHalf(toHalf(NaN))));
  const xs = Float32Array.from({ length: 1000 }, (_, i) => (i - 500) / 37);
  const back = halfToFloats(floatsToHalf(xs));
  for (let i = 0; i < xs.length; i++) assert.ok(Math.abs(back[i] - xs[i]) <= Math.abs(xs[i]) * 2 ** -11 + 1e-7);
});

test('CLIP BPE tokenizer: merges, BOS/EOS, padding, truncation; empty-prompt ids need no vocabulary', async () => {
  const t = await ClipTokenizer.load(join(TEST_MODELS, 'sd15/tokenizer/vocab.json'), join(TEST_MODELS, 'sd15/tokenizer/merges.txt'), 10);
  const vocab = JSON.parse(await readFile(join(TEST_MODELS, 'sd15/tokenizer/vocab.json'), 'utf8')) as Record<string, number>;
  assert.deepEqual(t.tokenize('A  Photo'), [vocab['a</w>'], vocab['photo</w>']]);
  assert.deepEqual(t.tokenize('cat,'), [vocab['cat</w>'], vocab[',</w>']]);
  const ids = t.encode('a photo');
  assert.equal(ids.length, 10);
  assert.deepEqual(ids.slice(0, 4), [vocab['<|startoftext|>'], vocab['a</w>'], vocab['photo</w>'], vocab['<|endoftext|>']]);
  assert.equal(t.encode('x '.repeat(50)).length, 10);
  assert.equal(t.encode('x '.repeat(50))[9], vocab['<|endoftext|>']);
  assert.deepEqual(emptyClipIds(5, 0), [49406, 49407, 0, 0, 0]);
});

test('prompts: the sd15 bundle tokenizes them; sd21 has no tokenizer and refuses them', async () => {
  const a = await loadDiffusionModel(join(TEST_MODELS, 'sd15'));
  const b = await loadDiffusionModel(join(TEST_MODELS, 'sd21'));
  try {
    const x = (await a.model.encode([testImage(2)]))[0];
    const p0 = await a.model.predictor(64, 64);
    const p1 = await a.model.predictor(64, 64, { prompt: 'a photo of a cat' });
    const [y0] = await p0.predict([{ x, alphaBar: 0.3 }]);
    const [y1] = await p1.predict([{ x, alphaBar: 0.3 }]);
    assert.notDeepEqual(y0, y1);
    await assert.rejects(b.model.predictor(64, 64, { prompt: 'a cat' }), (e) => e instanceof ModelError && e.code === 'family');
    await b.model.predictor(64, 64, { prompt: '' });
  } finally {
    await a.model.close();
    await b.model.close();
  }
});

test('family mismatches and the CUDA provider fail with clear ModelErrors', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'diffc-onnx-'));
  try {
    await cp(join(TEST_MODELS, 'sd15'), dir, { recursive: true });
    const raw = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
    await writeFile(join(dir, 'manifest.json'), JSON.stringify({ ...raw, prediction: 'flow' }));
    await assert.rejects(loadDiffusionModel(dir), (e) => e instanceof ModelError && e.code === 'family' && /eps or v/.test(e.message));
    await writeFile(join(dir, 'manifest.json'), JSON.stringify({ ...raw, files: raw.files.filter((f: { role: string }) => f.role !== 'unet') }));
    await assert.rejects(loadDiffusionModel(dir), (e) => e instanceof ModelError && e.code === 'family' && /unet/.test(e.message));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  try {
    const s = await OnnxSession.create(join(TEST_MODELS, 'sd15/unet/model.onnx'), { device: 'cuda' });
    await s.release(); // a machine with the CUDA provider installed
  } catch (e) {
    assert.ok(e instanceof ModelError && e.code === 'runtime' && /CUDA execution provider/.test(e.message), String(e));
  }
});

test('sdxl: guidance > 1 runs the unconditional branch; the refiner takes the low-noise end', async () => {
  const { model } = await loadDiffusionModel(join(TEST_MODELS, 'sdxl'));
  try {
    const [x] = await model.encode([testImage(3)]);
    const plain = await model.predictor(64, 64);
    const guided = await model.predictor(64, 64, { guidance: 5 });
    const [a] = await plain.predict([{ x, alphaBar: 0.5 }]);
    const [b] = await guided.predict([{ x, alphaBar: 0.5 }]);
    assert.notDeepEqual(a, b);
    // alpha-bar 0.99 is timestep ~ 12 < (1 - 0.8) * 1000: the refiner (int64 timestep, float32 graph).
    const [r] = await plain.predict([{ x, alphaBar: 0.99 }]);
    assert.ok(finite(r));
  } finally {
    await model.close();
  }
});
