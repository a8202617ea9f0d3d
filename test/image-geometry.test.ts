// Padding, cropping, resizing and the planar [-1,1] layout, on small hand-checkable images.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { padToMultiple, cropTo, resize, toPlanarSigned, fromPlanarSigned, type ResizeKernel } from '../src/image/geometry.js';
import type { RgbImage } from '../src/image/types.js';

/** Pixel (x, y) holds (x, y, 0.5) scaled into [0,1] by 1/100. */
const coords = (w: number, h: number): RgbImage => {
  const data = new Float32Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set([x / 100, y / 100, 0.5], (y * w + x) * 3);
  return { width: w, height: h, data, bitDepth: 16 };
};
const at = (img: RgbImage, x: number, y: number) => Array.from(img.data.slice((y * img.width + x) * 3, (y * img.width + x) * 3 + 3)).map((v) => Math.round(v * 100));

test('padToMultiple: reflect (no repeated border) or edge, right and bottom only; cropTo undoes it', () => {
  const img = coords(5, 3);
  const r = padToMultiple(img, 4);
  assert.deepEqual([r.image.width, r.image.height, r.image.bitDepth], [8, 4, 16]);
  assert.deepEqual(r.crop, { width: 5, height: 3 });
  // Columns 0..4 then 3, 2, 1 (mirror about column 4); row 3 mirrors row 1.
  assert.deepEqual([5, 6, 7].map((x) => at(r.image, x, 0)[0]), [3, 2, 1]);
  assert.deepEqual(at(r.image, 7, 3), [1, 1, 50]);
  const e = padToMultiple(img, 4, 'edge');
  assert.deepEqual([5, 6, 7].map((x) => at(e.image, x, 0)[0]), [4, 4, 4]);
  assert.deepEqual(at(e.image, 7, 3), [4, 2, 50]);
  for (const p of [r, e]) assert.deepEqual(cropTo(p.image, p.crop.width, p.crop.height).data, img.data);
  // Padding wider than the image keeps reflecting; a 1-pixel side repeats; multiples are untouched.
  assert.deepEqual(Array.from({ length: 8 }, (_, x) => at(padToMultiple(coords(3, 1), 8).image, x, 0)[0]), [0, 1, 2, 1, 0, 1, 2, 1]);
  assert.deepEqual(at(padToMultiple(coords(1, 1), 2).image, 1, 1), [0, 0, 50]);
  assert.equal(padToMultiple(img, 1).image, img);
  assert.throws(() => padToMultiple(img, 0), RangeError);
  assert.throws(() => padToMultiple(img, 2.5), RangeError);
  assert.throws(() => cropTo(img, 6, 3), RangeError);
});

test('resize: sizes, constants stay constant, 2x area shrink averages 2x2 blocks, same size is the identity', () => {
  const img = coords(12, 8);
  const kernels: ResizeKernel[] = ['auto', 'area', 'nearest', 'bilinear', 'catmull-rom', 'lanczos3'];
  const flat: RgbImage = { width: 9, height: 7, bitDepth: 8, data: new Float32Array(9 * 7 * 3).fill(0.3) };
  for (const k of kernels) {
    for (const [w, h] of [[5, 3], [12, 8], [31, 17], [1, 1]]) {
      const out = resize(img, w, h, k);
      assert.deepEqual([out.width, out.height, out.data.length, out.bitDepth], [w, h, w * h * 3, 16], `${k} ${w}x${h}`);
      assert.ok(out.data.every((v) => v >= 0 && v <= 1), `${k}: clamped`);
    }
    for (const [w, h] of [[4, 3], [20, 15]]) assert.ok(resize(flat, w, h, k).data.every((v) => Math.abs(v - 0.3) < 1e-6), `${k}: constant`);
    assert.ok(resize(img, 12, 8, k).data.every((v, i) => Math.abs(v - img.data[i]) < 1e-6), `${k}: identity`);
  }
  const half = resize(img, 6, 4, 'area');
  // Block (2..3, 4..5) has mean x = 2.5, y = 4.5.
  assert.deepEqual(Array.from(half.data.slice((2 * 6 + 1) * 3, (2 * 6 + 1) * 3 + 2)).map((v) => +(v * 100).toFixed(4)), [2.5, 4.5]);
  assert.deepEqual(resize(img, 6, 4, 'nearest').data.slice(0, 3), img.data.slice((1 * 12 + 1) * 3, (1 * 12 + 1) * 3 + 3));
  // A linear ramp stays linear under bilinear enlargement (away from the clamped edges).
  const up = resize(img, 24, 8, 'bilinear');
  assert.ok(Math.abs((up.data[(0 * 24 + 10) * 3] - up.data[(0 * 24 + 9) * 3]) * 100 - 0.5) < 1e-4);
  assert.throws(() => resize(img, 0, 4), RangeError);
});

test('planar signed layout: CHW in [-1,1], round trip, clamping, size check', () => {
  const img = coords(3, 2);
  const chw = toPlanarSigned(img);
  assert.equal(chw.length, 18);
  // Channel 0 plane is x / 100 * 2 - 1, row-major; channel 2 is 0.5 -> 0.
  assert.ok(Math.abs(chw[1] - (0.01 * 2 - 1)) < 1e-6 && Math.abs(chw[3] - -1) < 1e-6);
  assert.ok(chw.slice(12).every((v) => v === 0));
  const back = fromPlanarSigned(chw, 3, 2, 16);
  assert.equal(back.bitDepth, 16);
  assert.ok(back.data.every((v, i) => Math.abs(v - img.data[i]) < 1e-6));
  assert.deepEqual(Array.from(fromPlanarSigned(new Float32Array([-3, 3, 0]), 1, 1).data), [0, 1, 0.5]);
  assert.throws(() => fromPlanarSigned(chw, 3, 3), RangeError);
});
