import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { psnr, msssim, mse } from '../src/eval/metrics.js';
import { encodeAtBpp } from '../src/eval/baselines.js';
import { rdPlotSvg, writeCsv } from '../src/eval/plot.js';
import { loadImage } from '../src/image/io.js';
import { resize } from '../src/image/geometry.js';
import type { RgbImage } from '../src/image/types.js';

const photo = '.cache/photos/astronaut.png';
const havePhotos = existsSync(photo);
const photoSkip = havePhotos ? false : (process.env.CI === 'true' ? false : 'test photos missing: run bash scripts/fetch-photos.sh');

function noisy(img: RgbImage, amp: number, seed = 1): RgbImage {
  let s = seed;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5);
  return { ...img, data: img.data.map((v) => Math.min(1, Math.max(0, v + amp * rnd()))) };
}

const flat = (w: number, h: number, v: number): RgbImage => ({ width: w, height: h, data: new Float32Array(w * h * 3).fill(v), bitDepth: 8 });

test('PSNR: known values', () => {
  const a = flat(8, 8, 0.5), b = flat(8, 8, 0.6);
  assert.ok(Math.abs(mse(a, b) - 0.01) < 1e-8); // float32 0.6 - 0.5 is not exactly 0.1
  assert.ok(Math.abs(psnr(a, b) - 20) < 1e-5);
  assert.equal(psnr(a, a), Infinity);
  assert.throws(() => psnr(a, flat(4, 4, 0)), RangeError);
});

test('MS-SSIM: 1 for identical images, decreasing with noise, handles small images', { skip: photoSkip }, async () => {
  const img = resize(await loadImage(photo), 192, 192);
  assert.ok(Math.abs(msssim(img, img) - 1) < 1e-9);
  const vals = [0.05, 0.15, 0.4].map((a) => msssim(img, noisy(img, a)));
  assert.ok(vals[0] > vals[1] && vals[1] > vals[2], `not decreasing: ${vals}`);
  assert.ok(vals[0] < 1 && vals[2] > 0);
  const tiny = resize(img, 24, 24); // two scales only
  assert.ok(msssim(tiny, noisy(tiny, 0.1)) < 1);
  assert.throws(() => msssim(flat(8, 8, 0), flat(8, 8, 0)), RangeError);
});

test('baselines hit a target bpp from below, better quality at higher rates', { skip: photoSkip }, async () => {
  const img = resize(await loadImage(photo), 256, 256);
  for (const codec of ['jpeg', 'webp', 'avif'] as const) {
    const lo = await encodeAtBpp(img, codec, 0.3), hi = await encodeAtBpp(img, codec, 1.0);
    assert.ok(lo.bpp <= 0.3 || lo.overshoot, `${codec} ${lo.bpp}`);
    assert.ok(hi.bpp <= 1.0 && hi.bpp > 0.5, `${codec} ${hi.bpp}`);
    assert.ok(psnr(img, hi.decoded) > psnr(img, lo.decoded), codec);
  }
});

test('SVG plot and CSV are well formed', () => {
  const svg = rdPlotSvg([{ name: 'a<b', points: [{ bpp: 0.1, psnr: 25 }, { bpp: 0.2, psnr: 27 }] }, { name: 'jpeg', points: [{ bpp: 0.15, psnr: 22 }] }], { title: 'RD' });
  assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(svg, /<\/svg>\n$/);
  assert.equal((svg.match(/<polyline/g) ?? []).length, 1);
  assert.equal((svg.match(/<circle/g) ?? []).length, 3);
  assert.ok(svg.includes('a&lt;b') && !svg.includes('a<b'));
  assert.equal(writeCsv([{ a: 1, b: 'x,y' }, { a: 2, b: 'say "hi"' }]), 'a,b\n1,"x,y"\n2,"say ""hi"""\n');
});
