// PSNR/MSE by hand, SSIM/MS-SSIM against closed forms for flat images and against fixed vectors
// from an independent NumPy transcription of Wang's reference MATLAB (ssim_index.m, msssim.m).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { psnr, msssim, mse, ssim, msssimScales, MSSSIM_WEIGHTS } from '../src/eval/metrics.js';
import { loadImage } from '../src/image/io.js';
import { resize } from '../src/image/geometry.js';
import type { RgbImage } from '../src/image/types.js';

const flat = (w: number, h: number, v: number): RgbImage => ({ width: w, height: h, data: new Float32Array(w * h * 3).fill(v), bitDepth: 8 });
const close = (got: number, want: number, tol: number, what: string) => assert.ok(Math.abs(got - want) <= tol, `${what}: ${got}, want ${want} ± ${tol}`);

/** The vector-test pair: smooth per-channel waves, and the same plus uniform noise (LCG). */
function wavesAndNoisy(w: number, h: number): [RgbImage, RgbImage] {
  const a = new Float32Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) {
    a[(y * w + x) * 3 + c] = 0.5 + 0.4 * Math.sin(0.07 * (c + 1) * x) * Math.cos(0.05 * y + c);
  }
  let s = 12345;
  const b = a.map((v) => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return Math.min(1, Math.max(0, v + 0.15 * (s / 2 ** 32 - 0.5)));
  });
  return [{ width: w, height: h, data: a, bitDepth: 8 }, { width: w, height: h, data: b, bitDepth: 8 }];
}

test('MSE and PSNR: hand-computed values', () => {
  // Every sample off by exactly 1/255 (8-bit levels 100 vs 101): PSNR = 20 log10(255) = 48.1308 dB.
  const a = flat(4, 4, 100 / 255), b = flat(4, 4, 101 / 255);
  close(mse(a, b), 1 / 255 ** 2, 1e-11, 'mse');
  close(psnr(a, b), 20 * Math.log10(255), 1e-5, 'psnr 1 level');
  // One sample of 48 off by the full range: MSE = 1/48, PSNR = 10 log10(48) = 16.8124 dB.
  const c = flat(4, 4, 0), d = { ...c, data: c.data.slice() };
  d.data[17] = 1;
  close(mse(c, d), 1 / 48, 1e-15, 'mse one sample');
  close(psnr(c, d), 10 * Math.log10(48), 1e-12, 'psnr one sample');
  // 0.5 vs 0.6 everywhere: 20 dB (float32 0.6 - 0.5 is not exactly 0.1).
  close(psnr(flat(8, 8, 0.5), flat(8, 8, 0.6)), 20, 1e-5, 'psnr 0.1');
  assert.equal(psnr(a, a), Infinity);
  assert.equal(mse(a, a), 0);
  assert.throws(() => psnr(a, flat(4, 5, 0)), RangeError);
});

test('SSIM and MS-SSIM of flat images: the luminance term alone, with the published weights at 5 scales', () => {
  // Flat images have zero variance, so cs = C2 / C2 = 1 and SSIM = (2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1).
  const mx = Math.fround(0.5), my = Math.fround(0.6), C1 = 0.01 ** 2;
  const lum = (2 * mx * my + C1) / (mx * mx + my * my + C1);
  close(ssim(flat(11, 11, 0.5), flat(11, 11, 0.6)), lum, 1e-12, 'ssim');
  close(msssim(flat(11, 11, 0.5), flat(11, 11, 0.6)), lum, 1e-12, 'msssim, 1 scale = ssim');
  // 176x176 has 5 scales (176, 88, 44, 22, 11): only the last weight acts, unnormalised.
  close(msssim(flat(176, 176, 0.5), flat(176, 176, 0.6)), lum ** MSSSIM_WEIGHTS[4], 1e-12, 'msssim, 5 scales');
  assert.equal(msssim(flat(20, 30, 0.2), flat(20, 30, 0.2)), 1);
});

test('MS-SSIM scales: a scale is used while both sides are >= 11 (sizes round up), at most 5', () => {
  assert.deepEqual([[176, 176], [161, 500], [160, 160], [24, 24], [21, 21], [20, 40], [11, 11], [10, 400]].map(([w, h]) => msssimScales(w, h)), [5, 5, 4, 2, 2, 1, 1, 0]);
  assert.throws(() => msssim(flat(10, 40, 0), flat(10, 40, 0)), RangeError);
  assert.throws(() => ssim(flat(10, 40, 0), flat(10, 40, 0)), RangeError);
});

test('fixed vectors from an independent NumPy transcription of the reference MATLAB', () => {
  // tmp NumPy script (not in the repo): 2-D 'valid' correlation with the 11x11 Gaussian, 2x2 mean
  // after 'symmetric' padding, 1:2:end subsampling, per channel, mean over R, G, B.
  const [a, b] = wavesAndNoisy(200, 180); // 5 scales
  close(msssim(a, b), 0.96316829511, 1e-9, 'msssim 200x180');
  close(ssim(a, b), 0.64718517493, 1e-9, 'ssim 200x180');
  close(psnr(a, b), 27.2884032236, 1e-8, 'psnr 200x180');
  const [c, d] = wavesAndNoisy(40, 27); // 2 scales, weights renormalised
  close(msssim(c, d), 0.882113237885, 1e-9, 'msssim 40x27');
  close(ssim(c, d), 0.625929694408, 1e-9, 'ssim 40x27');
});

function noisy(img: RgbImage, amp: number, seed = 1): RgbImage {
  let s = seed;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5);
  return { ...img, data: img.data.map((v) => Math.min(1, Math.max(0, v + amp * rnd()))) };
}

test('MS-SSIM falls monotonically with noise (synthetic image, 5 scales)', () => {
  const [img] = wavesAndNoisy(180, 180);
  const amps = [0.01, 0.03, 0.1, 0.3, 0.6];
  const vals = amps.map((a) => msssim(img, noisy(img, a)));
  for (let i = 1; i < vals.length; i++) assert.ok(vals[i] < vals[i - 1], `not decreasing: ${vals.map((v) => v.toFixed(4))}`);
  assert.ok(vals[0] > 0.99 && vals[4] > 0 && vals[4] < 0.9, `${vals}`);
  const ps = amps.map((a) => psnr(img, noisy(img, a)));
  for (let i = 1; i < ps.length; i++) assert.ok(ps[i] < ps[i - 1]);
});

const photo = fileURLToPath(new URL('../.cache/photos/astronaut.png', import.meta.url));
const photoSkip = existsSync(photo) || process.env.CI === 'true' ? false : 'no .cache/photos (run: bash scripts/fetch-photos.sh)';

test('MS-SSIM falls monotonically with noise on a photo', { skip: photoSkip }, async () => {
  assert.ok(existsSync(photo), `${photo} missing: CI must run scripts/fetch-photos.sh first`);
  const img = resize(await loadImage(photo), 192, 192);
  assert.equal(msssim(img, img), 1);
  const vals = [0.02, 0.08, 0.25, 0.5].map((a) => msssim(img, noisy(img, a, 7)));
  for (let i = 1; i < vals.length; i++) assert.ok(vals[i] < vals[i - 1], `not decreasing: ${vals}`);
});
