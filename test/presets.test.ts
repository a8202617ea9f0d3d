/**
 * --preset: `paper` reproduces the reference implementation's coding choices (src/pipeline/presets.ts),
 * below explicit flags and above the model's defaults, in diffc compress and the workflows alike.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from './helpers/cli.js';
import { saveImage } from '../src/image/io.js';
import { readDfc } from '../src/codec/format/index.js';
import { decodeCodingBlob } from '../src/codec/codec.js';
import { compressionSettings } from '../src/pipeline/compress-settings.js';
import { loadModel, resolveSchedule } from '../src/pipeline/model-context.js';
import { codingScheduleId, preset } from '../src/pipeline/presets.js';
import { defaultJobId } from '../src/cli/submit.js';
import { CompressImageInput } from '../src/orchestration/types.js';
import { AUTO_CHUNK_BITS, chunkBitsFor } from '../src/pipeline/chunk-bits.js';
import { makeBundle } from '../src/models/make-bundle.js';
import { cpSync, writeFileSync } from 'node:fs';

const FLUX = fileURLToPath(new URL('../models/test/flux-dev/', import.meta.url));
const SD15 = fileURLToPath(new URL('../models/test/sd15/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'diffc-presets-'));
const input = join(dir, 'in.png');

const run = runCli;

async function image(): Promise<void> {
  if (existsSync(input)) return;
  const w = 64, h = 48;
  const data = new Float32Array(w * h * 3).map((_, i) => 0.5 + 0.4 * Math.sin(i / 13) * Math.cos(i / 89));
  await saveImage({ width: w, height: h, data, bitDepth: 8 }, input);
}

test('paper = 16-bit chunks planned for 14 bits of KL + 2 bits padding, exact target, coded plans, the reference schedule and guidance', () => {
  const sd = preset('paper', 'sd15');
  assert.deepEqual(sd.coding, { maxChunkBits: 16, paddingQuarterBits: 8, chunkKlQuarterBits: 56, targetStdPercent: 100, sideInfo: 'coded' });
  assert.deepEqual([sd.schedule, sd.guidance, sd.denoiseGuidance], ['paper', 1, 1]);
  const flux = preset('paper', 'flux-dev');
  assert.deepEqual([flux.schedule, flux.guidance, flux.denoiseGuidance], ['paper-flow', 0, 0]);
  assert.deepEqual(preset('default', 'sdxl'), { coding: {} });
});

test('precedence: explicit settings, then the preset, then the model', async () => {
  const lm = await loadModel('default');
  try {
    const info = lm.model.info;
    assert.equal(codingScheduleId(info, undefined), info.defaults.schedule);
    assert.equal(codingScheduleId(info, 'paper'), 'paper');
    assert.equal(codingScheduleId(info, 'paper', 'even:8'), 'even:8');
    const schedule = resolveSchedule(lm, 'paper');
    const base = { info, schedule, latent: lm.model.latentShape(64, 64), width: 64, height: 64, seed: 0, steps: 3 };
    const paper = compressionSettings({ ...base, preset: 'paper' });
    assert.deepEqual([paper.params.maxChunkBits, paper.params.paddingQuarterBits, paper.params.chunkKlQuarterBits, paper.params.targetStdPercent], [16, 8, 56, 100]);
    assert.equal(compressionSettings({ ...base, preset: 'paper', chunkBits: 10 }).params.maxChunkBits, 10);
    const dflt = compressionSettings(base);
    assert.equal(dflt.params.maxChunkBits, info.defaults.maxChunkBits);
    assert.equal(dflt.params.targetStdPercent, 35);
  } finally {
    await lm.model.close();
  }
});

test('diffc compress --preset paper writes the reference coding into the file, which decodes to the encoder\'s reconstruction; --json reports KL and overhead', async () => {
  await image();
  const dfc = join(dir, 'p.dfc'), recon = join(dir, 'p-recon.png'), png = join(dir, 'p.png');
  const c = await run(['compress', input, '-o', dfc, '--model', FLUX, '--preset', 'paper', '--steps', '3', '--backend', 'ts', '--recon', recon, '--json', '-q']);
  assert.equal(c.code, 0, c.err);
  const j = JSON.parse(c.out) as Record<string, unknown>;
  assert.equal(j.schedule, 'paper-flow');
  assert.deepEqual([j.guidance, j.denoiseGuidance], [0, 0]);
  assert.ok(typeof j.kl_bits === 'number' && j.kl_bits > 0 && typeof j.overhead === 'number' && typeof j.payload_bits === 'number');
  const h = readDfc(readFileSync(dfc)).header;
  const { params } = decodeCodingBlob(h.coding);
  assert.deepEqual([params.maxChunkBits, params.paddingQuarterBits, params.chunkKlQuarterBits, params.targetStdPercent, params.sideInfo], [16, 8, 56, 100, 'coded']);
  assert.equal(h.schedule.id, 'paper-flow');
  const d = await run(['decompress', dfc, '-o', png, '--model', FLUX, '-q']);
  assert.equal(d.code, 0, d.err);
  assert.deepEqual(readFileSync(png), readFileSync(recon));
  const bad = await run(['compress', input, '-o', join(dir, 'x.dfc'), '--preset', 'fast']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--preset: Invalid enum value/);
});

test('workflows take the preset: job schema, and a non-default preset gives another bulk job id', () => {
  const job = CompressImageInput.parse({ store: 's3://b/in', source: 'a.png', outputStore: 's3://b/out', output: 'a.png.dfc', preset: 'paper' });
  assert.equal(job.preset, 'paper');
  assert.throws(() => CompressImageInput.parse({ store: 's3://b/in', source: 'a.png', outputStore: 's3://b/out', output: 'a.png.dfc', preset: 'x' }));
  const a = { prefix: 's3://p/', 'output-prefix': 's3://o/', seed: 0, model: 'default' } as Parameters<typeof defaultJobId>[0];
  assert.equal(defaultJobId({ ...a, preset: 'default' }), defaultJobId(a));
  assert.notEqual(defaultJobId({ ...a, preset: 'paper' }), defaultJobId(a));
});

test("chunk bits 'auto' are the RCC backend's (ts 10, cpu 14, cuda 16), resolved at encode time and written into the file", async () => {
  assert.deepEqual(AUTO_CHUNK_BITS, { ts: 10, cpu: 14, cuda: 16 });
  assert.equal(chunkBitsFor('auto', 'cuda'), 16);
  assert.equal(chunkBitsFor('auto', 'cpu-avx2'), 14);
  assert.equal(chunkBitsFor('auto', 'ts'), 10);
  assert.equal(chunkBitsFor('auto'), 14);
  assert.equal(chunkBitsFor(12, 'cuda'), 12, 'a model that pins its chunk bits keeps them');
  // New bundles get 'auto' and the reference's schedule (Flux: paper-flow).
  assert.deepEqual((await makeBundle(SD15, { family: 'sd15', id: 'x' }, false)).defaults, { maxChunkBits: 'auto', schedule: 'paper', reconMethod: 'flow', reconSteps: 16 });
  assert.equal((await makeBundle(FLUX, { family: 'flux-dev', id: 'x' }, false)).defaults.schedule, 'paper-flow');
  // A bundle saying 'auto', coded with the ts backend: B = 10 in the coding blob.
  await image();
  const bundle = join(dir, 'sd15-auto');
  cpSync(SD15, bundle, { recursive: true });
  const m = JSON.parse(readFileSync(join(bundle, 'manifest.json'), 'utf8')) as { defaults: Record<string, unknown> };
  m.defaults.maxChunkBits = 'auto';
  writeFileSync(join(bundle, 'manifest.json'), JSON.stringify(m));
  const dfc = join(dir, 'auto.dfc');
  const c = await run(['compress', input, '-o', dfc, '--model', bundle, '--steps', '2', '--backend', 'ts', '-q']);
  assert.equal(c.code, 0, c.err);
  assert.equal(decodeCodingBlob(readDfc(readFileSync(dfc)).header.coding).params.maxChunkBits, 10);
});
