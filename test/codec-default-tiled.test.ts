/**
 * The embedded default model on a photo larger than one predictor tile (docs/tiling.md): the
 * decoder's image equals the encoder's reconstruction bit for bit at the full chain and at a
 * prefix, and the tiled prediction stays close to the whole-latent Wiener filter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { loadImage } from '../src/image/io.js';
import { cropTo, padToMultiple, resize } from '../src/image/geometry.js';
import { compressLatents } from '../src/codec/codec.js';
import { reconstruct } from '../src/codec/diffusion/reconstruct.js';
import { tsBackend } from '../src/codec/rcc/select.js';
import { TiledPredictor } from '../src/codec/tiling/index.js';
import { compressionSettings } from '../src/pipeline/compress-settings.js';
import { decodeDfc } from '../src/pipeline/decompress.js';
import { loadModel, protocolFor, resolveSchedule } from '../src/pipeline/model-context.js';
import { DctModel } from '../src/models/analytic-dct/model.js';

const photo = '.cache/photos/coffee.png';
const skip = existsSync(photo) ? false : (process.env.CI === 'true' ? false : 'test photos missing: run bash scripts/fetch-photos.sh');

test('default model, 2x2 predictor tiles: decode == encoder reconstruction, full chain and prefix', { skip }, async () => {
  const lm = await loadModel('default');
  const info = lm.model.info;
  const img = resize(await loadImage(photo), 402, 286);
  const { image: padded } = padToMultiple(img, info.sizeMultiple);
  const predictor = await lm.model.predictor(padded.width, padded.height);
  assert.ok(predictor instanceof TiledPredictor, 'a 404x288 photo is more than one 64-cell tile');
  assert.equal(predictor.grid.tiles.length, 4);
  const schedule = resolveSchedule(lm, info.defaults.schedule);
  const s = compressionSettings({ info, schedule, latent: predictor.latent, width: img.width, height: img.height, seed: 5, bpp: 0.08, chunkBits: 8 });
  const protocol = protocolFor(lm, padded.width, padded.height, schedule, s.params);
  const [latent] = await lm.model.encode([padded]);
  const [c] = await compressLatents(predictor, [{ latent, image: s.image, seed: s.seed, stop: s.stop }], { schedule, params: s.params, recon: s.recon, backend: tsBackend, protocol });
  assert.ok(c.header.stepsCoded > 3);
  const x0 = await reconstruct(predictor, c.chain.state, c.chain.alphaBar, latent.length, { ...s.recon, table: lm.model.table, key: { seedLo: s.seed.lo, seedHi: s.seed.hi } });
  const [rgb] = await lm.model.decode([x0], padded.width, padded.height);
  const recon = cropTo(rgb, img.width, img.height);

  const fresh = await loadModel('default');
  const dec = await decodeDfc(fresh, c.bytes);
  assert.equal(dec.steps, c.header.stepsCoded);
  assert.ok(Buffer.from(dec.image.data.buffer).equals(Buffer.from(recon.data.buffer)), 'decoded pixels equal the encoder reconstruction bit for bit');
  const a = await decodeDfc(fresh, c.bytes, { uptoStep: 2 });
  const b = await decodeDfc(await loadModel('default'), c.bytes, { uptoStep: 2 });
  assert.ok(Buffer.from(a.image.data.buffer).equals(Buffer.from(b.image.data.buffer)), 'a prefix decodes the same in two fresh decoders');
});

test('the tiled Wiener filter stays close to the whole-latent one', async () => {
  const lm = await loadModel('default');
  const info = lm.model.info;
  const whole = new DctModel({ id: info.id, hash: info.hash, params: (lm.model as DctModel).params, defaults: info.defaults, tiling: { tile: 1024, overlap: 0 } });
  const W = 640, H = 384;
  const x = new Float32Array(3 * (W / 4) * (H / 4));
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.013) + 0.3 * Math.cos(i * 0.7);
  const tiled = await lm.model.predictor(W, H);
  assert.ok(tiled instanceof TiledPredictor);
  for (const ab of [0.05, 0.5, 0.95]) {
    const [p] = await tiled.predict([{ x, alphaBar: ab }]);
    const [q] = await (await whole.predictor(W, H)).predict([{ x, alphaBar: ab }]);
    let num = 0, den = 0;
    for (let i = 0; i < p.length; i++) { num += (p[i] - q[i]) ** 2; den += q[i] ** 2; }
    assert.ok(num / den < 0.05, `alpha-bar ${ab}: relative squared difference ${num / den}`);
  }
});
