/**
 * The CLI on the ONNX test bundles: --model takes a bundle directory, and compress / decompress
 * run through the family adapters (in-process, real files).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from './helpers/cli.js';
import { loadModel } from '../src/pipeline/model-context.js';
import { ModelError } from '../src/models/errors.js';
import { saveImage } from '../src/image/io.js';

const TEST_MODELS = fileURLToPath(new URL('../models/test/', import.meta.url));

const run = runCli;

test('loadModel: the default model, ONNX bundle directories, and clear errors', async () => {
  const d = await loadModel(undefined);
  assert.equal(d.model.info.family, 'analytic-dct');
  for (const fam of ['sd15', 'flux-dev']) {
    const lm = await loadModel(join(TEST_MODELS, fam));
    assert.equal(lm.model.info.id, `test-${fam}`);
    await lm.model.close();
  }
  await assert.rejects(loadModel('no-such-model'), (e) => e instanceof ModelError && e.code === 'not-found' && /models pull no-such-model/.test(e.message));
});

for (const fam of ['sd21', 'flux-dev']) {
  test(`diffc compress / decompress with --model models/test/${fam}`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'diffc-models-cli-'));
    try {
      const w = 70, h = 50; // padded to the family's size multiple, cropped back
      const data = new Float32Array(w * h * 3).map((_, i) => 0.5 + 0.4 * Math.sin(i / 11));
      const input = join(dir, 'in.png'), dfc = join(dir, 'a.dfc'), recon = join(dir, 'recon.png'), dec = join(dir, 'dec.png');
      await saveImage({ width: w, height: h, data, bitDepth: 8 }, input);
      const model = join(TEST_MODELS, fam);
      const c = await run(['compress', input, '-o', dfc, '--model', model, '--steps', '3', '--recon', recon, '--backend', 'ts', '--json', '-q']);
      assert.equal(c.code, 0, c.err);
      const cj = JSON.parse(c.out);
      assert.equal(cj.model, `test-${fam}`);
      assert.equal(cj.steps, 3);
      const d = await run(['decompress', dfc, '-o', dec, '--model', model, '-q']);
      assert.equal(d.code, 0, d.err);
      assert.ok((await readFile(dec)).equals(await readFile(recon)), 'decoded image is byte-identical to --recon');
      const wrong = await run(['decompress', dfc, '-o', join(dir, 'x.png'), '--model', join(TEST_MODELS, 'sd15'), '-q']);
      assert.equal(wrong.code, 1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}
