import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile, appendFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBundle, resolveModel, alphaBarTable, parseManifest, VERIFIED_STAMP } from '../src/models/bundle.js';
import { DEFAULT_MODEL_DIR } from '../src/models/analytic-dct/bundle.js';
import { loadDiffusionModel } from '../src/models/load.js';
import { ModelError } from '../src/models/errors.js';

const isCode = (code: string) => (e: unknown) => e instanceof ModelError && e.code === code;

async function scratch(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'diffc-bundle-'));
}

test('the embedded default bundle loads as a general manifest; its hash is stable', async () => {
  const b = await loadBundle(DEFAULT_MODEL_DIR, { verify: true });
  const { model } = await loadDiffusionModel(DEFAULT_MODEL_DIR, { verify: true });
  assert.equal(b.manifest.family, 'analytic-dct');
  assert.deepEqual(b.hash, model.info.hash);
  // Written into every .dfc made with the default model: changing it orphans existing files.
  // (It changed from 747fc595b441e795 when the predictor tiling was added, docs/tiling.md §5, and
  // the default became diffc-default-lw-v2 in December 2026; the model it replaced,
  // diffc-default-dct-v1 = 1e602f1c6ff9c5fb, stays embedded: test/default-model.test.ts.)
  assert.equal(b.hashHex, '705952085400204f');
});

test('source does not take part in the hash; anything else does', async () => {
  const dir = await scratch();
  try {
    await cp(DEFAULT_MODEL_DIR, dir, { recursive: true });
    const base = await loadBundle(dir);
    const raw = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
    await writeFile(join(dir, 'manifest.json'), JSON.stringify({ ...raw, source: { repo: 'x/y', revision: 'main' } }));
    assert.deepEqual((await loadBundle(dir)).hash, base.hash);
    await writeFile(join(dir, 'manifest.json'), JSON.stringify({ ...raw, defaults: { ...raw.defaults, maxChunkBits: 9 } }));
    assert.notDeepEqual((await loadBundle(dir)).hash, base.hash);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('manifest, checksum and missing-file errors are typed', async () => {
  const dir = await scratch();
  try {
    await assert.rejects(loadBundle(join(dir, 'nope')), isCode('not-found'));
    await cp(DEFAULT_MODEL_DIR, dir, { recursive: true });
    const text = await readFile(join(dir, 'manifest.json'), 'utf8');
    await writeFile(join(dir, 'manifest.json'), '{ not json');
    await assert.rejects(loadBundle(dir), isCode('manifest'));
    await writeFile(join(dir, 'manifest.json'), JSON.stringify({ ...JSON.parse(text), family: 'sd3' }));
    await assert.rejects(loadBundle(dir), (e) => isCode('manifest')(e) && /family/.test((e as Error).message));
    const raw = JSON.parse(text);
    await writeFile(join(dir, 'manifest.json'), JSON.stringify({ ...raw, files: [{ ...raw.files[0], path: '../params.json' }] }));
    await assert.rejects(loadBundle(dir), isCode('manifest'));
    await writeFile(join(dir, 'manifest.json'), text);
    await loadBundle(dir, { stamp: true });
    // Same size, different bytes: only the sha256 catches it (the stamp must not hide it).
    const params = await readFile(join(dir, 'params.json'));
    params[params.length - 2] ^= 1;
    await writeFile(join(dir, 'params.json'), params);
    await loadBundle(dir, { verify: false });
    await assert.rejects(loadBundle(dir), isCode('checksum'));
    await appendFile(join(dir, 'params.json'), ' ');
    await assert.rejects(loadBundle(dir, { verify: false }), isCode('checksum'));
    await rm(join(dir, 'params.json'));
    await assert.rejects(loadBundle(dir, { verify: false }), isCode('not-found'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a full check leaves a stamp that later loads trust while files are unchanged', async () => {
  const dir = await scratch();
  try {
    await cp(DEFAULT_MODEL_DIR, dir, { recursive: true });
    let hashed = 0;
    await loadBundle(dir, { stamp: true, onProgress: () => { hashed++; } });
    assert.ok(hashed > 0);
    const stamp = JSON.parse(await readFile(join(dir, VERIFIED_STAMP), 'utf8'));
    assert.ok(stamp.files['params.json']);
    hashed = 0;
    await loadBundle(dir, { onProgress: () => { hashed++; } });
    assert.equal(hashed, 0);
    await loadBundle(dir, { force: true, onProgress: () => { hashed++; } });
    assert.ok(hashed > 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('resolveModel: default, a directory, an id in the cache, else not-found', async () => {
  const cache = await scratch();
  try {
    assert.equal(await resolveModel(undefined, cache), DEFAULT_MODEL_DIR);
    assert.equal(await resolveModel('default', cache), DEFAULT_MODEL_DIR);
    await mkdir(join(cache, 'my-model'));
    await cp(DEFAULT_MODEL_DIR, join(cache, 'my-model'), { recursive: true });
    assert.equal(await resolveModel('my-model', cache), join(cache, 'my-model'));
    assert.equal(await resolveModel(join(cache, 'my-model'), cache), join(cache, 'my-model'));
    await assert.rejects(resolveModel('nope', cache), (e) => isCode('not-found')(e) && /models pull nope/.test((e as Error).message));
    await assert.rejects(resolveModel('./nope', cache), isCode('not-found'));
  } finally {
    await rm(cache, { recursive: true, force: true });
  }
});

test('flow tables are decreasing, positive, and DDPM tables match ddpm.ts', () => {
  const t = alphaBarTable({ kind: 'flow', shift: { baseShift: 0.5, maxShift: 1.15, baseSeqLen: 256, maxSeqLen: 4096 }, steps: 1000 });
  assert.equal(t.length, 1000);
  for (let i = 1; i < t.length; i++) assert.ok(t[i] < t[i - 1]);
  assert.ok(t[999] > 0 && t[0] < 1);
  const m = parseManifest({
    schema: 1, id: 'x', family: 'sd15', prediction: 'eps',
    files: [{ role: 'unet', path: 'unet/model.onnx', sha256: '0'.repeat(64), bytes: 1 }],
    schedule: { kind: 'ddpm', config: { kind: 'scaled_linear' } },
    latent: { channels: 4, downsample: 8, scale: 0.18215, shift: 0 },
    defaults: { maxChunkBits: 12, schedule: 'even:20', reconMethod: 'flow', reconSteps: 10 },
  }, 'test');
  const d = alphaBarTable(m.schedule);
  assert.equal(d.length, 1000);
  assert.ok(Math.abs(d[999] - 0.0047) < 1e-3);
});

test('the committed test bundles verify', async () => {
  for (const fam of ['sd15', 'sd21', 'sdxl', 'flux-dev']) {
    const b = await loadBundle(join(DEFAULT_MODEL_DIR, '..', 'test', fam), { force: true });
    assert.equal(b.manifest.family, fam);
    assert.equal(b.manifest.id, `test-${fam}`);
  }
});

test('make-bundle: an optimum-layout export directory becomes a bundle (roles, checksums, export configs)', async () => {
  const { makeBundle } = await import('../src/models/make-bundle.js');
  const src = join(DEFAULT_MODEL_DIR, '..', 'test', 'sdxl');
  const dir = await scratch();
  try {
    await cp(src, dir, { recursive: true });
    await rm(join(dir, 'manifest.json'));
    await mkdir(join(dir, 'scheduler'));
    await writeFile(join(dir, 'scheduler', 'scheduler_config.json'), JSON.stringify({ prediction_type: 'v_prediction' }));
    await writeFile(join(dir, 'vae_decoder', 'config.json'), JSON.stringify({ scaling_factor: 0.5, latent_channels: 4 }));
    const m = await makeBundle(dir, { family: 'sdxl', id: 'my-sdxl' });
    const original = (await loadBundle(src)).manifest;
    const key = (f: { role: string; path: string; sha256: string; bytes: number }) => `${f.role} ${f.path} ${f.sha256} ${f.bytes}`;
    assert.deepEqual(m.files.map(key).sort(), original.files.map(key).sort());
    assert.equal(m.prediction, 'v');
    assert.equal(m.latent.scale, 0.5);
    assert.deepEqual(m.refiner, { fromFraction: 0.8 });
    const b = await loadBundle(dir);
    assert.equal(b.manifest.id, 'my-sdxl');
    await rm(join(dir, 'unet'), { recursive: true });
    await assert.rejects(makeBundle(dir, { family: 'sdxl', id: 'x' }), (e) => e instanceof ModelError && e.code === 'family');
    await assert.rejects(makeBundle(join(dir, 'scheduler'), { family: 'sd15', id: 'x' }), (e) => e instanceof ModelError && e.code === 'not-found');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
