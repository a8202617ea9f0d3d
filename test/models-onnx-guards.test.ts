/**
 * What the ONNX adapters refuse rather than silently compute something else: NaN/Inf from a graph
 * (float16 overflow, as the SDXL VAE does) and SDXL text encoders without hidden_states.N.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, cp, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sha256File } from '../src/models/bundle.js';
import { isModelError } from '../src/models/errors.js';
import { loadDiffusionModel } from '../src/models/load.js';

const MODELS = fileURLToPath(new URL('../models/test/', import.meta.url));
const OVERFLOW = fileURLToPath(new URL('fixtures/fp16-overflow-vae-decoder.onnx', import.meta.url));

/** A copy of a test bundle with one graph replaced (its manifest entry updated to match). */
async function withGraph(family: string, path: string, graph: string): Promise<{ dir: string; done: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'diffc-guard-'));
  const dir = join(root, family);
  await cp(join(MODELS, family), dir, { recursive: true });
  await copyFile(graph, join(dir, path));
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { files: { path: string; sha256: string; bytes: number }[] };
  const f = manifest.files.find((x) => x.path === path);
  assert.ok(f, `${family} has ${path}`);
  f.sha256 = await sha256File(join(dir, path));
  f.bytes = (await stat(join(dir, path))).size;
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
  return { dir, done: () => rm(root, { recursive: true, force: true }) };
}

test('a float16 VAE that overflows is a non-finite ModelError naming the graph and the float16 cause, not a NaN image', async () => {
  const b = await withGraph('sdxl', 'vae_decoder/model.onnx', OVERFLOW);
  const { model } = await loadDiffusionModel(b.dir);
  try {
    const s = model.latentShape(64, 64);
    await assert.rejects(model.decode([new Float32Array(s.channels * s.height * s.width)], 64, 64), (e) => {
      assert.ok(isModelError(e, 'non-finite'), String(e));
      assert.match(e.message, /vae_decoder\/model\.onnx: output 'sample' has \d+ of \d+ values NaN or infinite: the graph runs in float16/);
      return true;
    });
  } finally {
    await model.close();
    await b.done();
  }
});

test('an SDXL text encoder without hidden_states.N outputs is refused (no silent fall back to last_hidden_state)', async () => {
  const b = await withGraph('sdxl', 'text_encoder_2/model.onnx', join(MODELS, 'sd15', 'text_encoder', 'model.onnx'));
  const { model } = await loadDiffusionModel(b.dir);
  try {
    await assert.rejects(model.predictor(64, 64), (e) => {
      assert.ok(isModelError(e, 'family'), String(e));
      assert.match(e.message, /text_encoder_2\/model\.onnx: SDXL conditions on the penultimate hidden states, but the graph has no hidden_states\.N outputs/);
      return true;
    });
  } finally {
    await model.close();
    await b.done();
  }
});
