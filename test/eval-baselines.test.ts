// encodeAtBpp: the search finds the exhaustive answer, flags overshoot, and hits targets on a photo.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { encodeAtBpp } from '../src/eval/baselines.js';
import { psnr } from '../src/eval/metrics.js';
import { encodeImage, loadImage, QUALITY_RANGE } from '../src/image/io.js';
import { resize } from '../src/image/geometry.js';
import type { RgbImage } from '../src/image/types.js';

const texture = (w: number, h: number): RgbImage => {
  const data = new Float32Array(w * h * 3);
  for (let i = 0; i < data.length; i++) data[i] = 0.5 + 0.35 * Math.sin(i * 0.37) * Math.cos(i * 0.011);
  return { width: w, height: h, data, bitDepth: 8 };
};

test('the quality search returns what an exhaustive scan would (JPEG and WebP, 1..100)', async () => {
  const img = texture(96, 80), pixels = 96 * 80;
  let searched = 0;
  for (const codec of ['jpeg', 'webp'] as const) {
    const sizes: number[] = [];
    for (let q = QUALITY_RANGE[codec][0]; q <= 100; q++) sizes.push((await encodeImage(img, codec, { quality: q })).length);
    for (const target of [0.5, 1, 2, 4]) {
      const budget = (target * pixels) / 8;
      // The highest quality whose file fits (sizes here grow with quality; the search assumes so).
      const fits = sizes.map((s, i) => (s <= budget ? i + QUALITY_RANGE[codec][0] : -1)).filter((q) => q > 0);
      const r = await encodeAtBpp(img, codec, target);
      if (!fits.length) { assert.ok(r.overshoot); continue; }
      assert.equal(r.quality, Math.max(...fits), `${codec} at ${target} bpp`);
      assert.equal(r.bytes, sizes[r.quality - QUALITY_RANGE[codec][0]]);
      assert.equal(r.bpp, (8 * r.bytes) / pixels);
      assert.ok(r.trials <= 8, `${codec}: ${r.trials} encodes`);
      searched++;
    }
  }
  assert.ok(searched >= 6, `only ${searched} targets were reachable`);
});

test('a target below the lowest quality returns that quality with overshoot: true; bad targets throw', async () => {
  const img = texture(32, 32);
  for (const codec of ['jpeg', 'webp', 'avif'] as const) {
    const r = await encodeAtBpp(img, codec, 0.001);
    assert.equal(r.overshoot, true, codec);
    assert.equal(r.quality, QUALITY_RANGE[codec][0]);
    assert.ok(r.bpp > 0.001 && r.trials === 1);
    assert.deepEqual([r.decoded.width, r.decoded.height], [32, 32]);
  }
  // Anything fits a huge target: the top quality, no overshoot.
  const top = await encodeAtBpp(img, 'jpeg', 1000);
  assert.deepEqual([top.quality, top.overshoot], [100, false]);
  for (const bad of [0, -1, NaN, Infinity]) await assert.rejects(encodeAtBpp(img, 'jpeg', bad), RangeError);
});

const photo = fileURLToPath(new URL('../.cache/photos/astronaut.png', import.meta.url));
const photoSkip = existsSync(photo) || process.env.CI === 'true' ? false : 'no .cache/photos (run: bash scripts/fetch-photos.sh)';

test('on a photo, each codec lands within 20% below the target, and more bits buy PSNR', { skip: photoSkip }, async () => {
  assert.ok(existsSync(photo), `${photo} missing: CI must run scripts/fetch-photos.sh first`);
  // 256x256 keeps AVIF's encodes (effort 4) to a few hundred ms each on a small machine.
  const img = resize(await loadImage(photo), 256, 256);
  for (const codec of ['jpeg', 'webp', 'avif'] as const) {
    const [lo, hi] = [await encodeAtBpp(img, codec, 0.5), await encodeAtBpp(img, codec, 1.0)];
    for (const [r, target] of [[lo, 0.5], [hi, 1.0]] as const) {
      assert.ok(!r.overshoot && r.bpp <= target && r.bpp >= 0.8 * target, `${codec} at ${target}: ${r.bpp.toFixed(4)} bpp (q ${r.quality})`);
      assert.ok(r.encodeMs > 0 && r.decodeMs > 0);
    }
    assert.ok(hi.quality > lo.quality, codec);
    assert.ok(psnr(img, hi.decoded) > psnr(img, lo.decoded) + 1, `${codec}: ${psnr(img, lo.decoded)} -> ${psnr(img, hi.decoded)}`);
  }
});
