import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadImage, saveImage, encodeImage, decodeImage } from '../src/image/io.js';
import { ImageError } from '../src/image/errors.js';
import { padToMultiple, cropTo, resize, toPlanarSigned, fromPlanarSigned } from '../src/image/geometry.js';
import { crc32 } from '../src/codec/format/crc32.js';
import type { RgbImage } from '../src/image/types.js';

const dir = mkdtempSync(join(tmpdir(), 'diffc-img-'));
const gradient = (w: number, h: number): RgbImage => {
  const data = new Float32Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const i = (y * w + x) * 3;
    data[i] = x / (w - 1); data[i + 1] = y / (h - 1); data[i + 2] = ((x + y) % 7) / 6;
  }
  return { width: w, height: h, data, bitDepth: 8 };
};
const isErr = (code: string) => (e: unknown) => e instanceof ImageError && e.code === code;

test('every supported format decodes to RGB of the right size; PNG and 16-bit PNG are exact', async () => {
  const img = gradient(37, 21);
  for (const f of ['png', 'jpeg', 'webp', 'avif', 'tiff'] as const) {
    const back = await decodeImage(await encodeImage(img, f));
    assert.equal(back.width, 37);
    assert.equal(back.height, 21);
    const err = back.data.reduce((s, v, i) => s + Math.abs(v - img.data[i]), 0) / back.data.length;
    // Lossless formats only round to 8 bits (error <= 1/510); lossy ones stay close.
    assert.ok(err < (f === 'png' || f === 'tiff' ? 1 / 510 : 0.08), `${f}: mean error ${err}`);
  }
  const deep: RgbImage = { ...img, bitDepth: 16, data: img.data.map((v, i) => (v * 60000 + (i % 5)) / 65535) };
  const back16 = await decodeImage(await encodeImage(deep, 'png'));
  assert.equal(back16.bitDepth, 16);
  const q = (v: number) => Math.floor(v * 65535 + 0.5);
  assert.ok(back16.data.every((v, i) => q(v) === q(deep.data[i])), '16-bit PNG round trip is exact');
});

test('EXIF orientation is applied', async () => {
  // 16x8, top-left 8x4 quadrant red, stored with orientation 6 (display rotated 90° clockwise):
  // shown as 8x16 with the red block at the top right.
  const raw = new Uint8Array(16 * 8 * 3);
  for (let y = 0; y < 4; y++) for (let x = 0; x < 8; x++) raw[(y * 16 + x) * 3] = 255;
  const jpeg = await sharp(raw, { raw: { width: 16, height: 8, channels: 3 } }).jpeg({ quality: 100 }).withMetadata({ orientation: 6 }).toBuffer();
  const img = await decodeImage(jpeg);
  assert.equal(img.width, 8);
  assert.equal(img.height, 16);
  const red = (x: number, y: number) => img.data[(y * 8 + x) * 3];
  assert.ok(red(6, 2) > 0.8 && red(1, 2) < 0.2 && red(6, 13) < 0.2, 'red block at the top right');
});

test('alpha is flattened on white by default, or refused', async () => {
  const rgba = new Uint8Array([0, 0, 0, 0, 255, 0, 0, 255]);
  const png = await sharp(rgba, { raw: { width: 2, height: 1, channels: 4 } }).png().toBuffer();
  const img = await decodeImage(png);
  assert.deepEqual(Array.from(img.data.slice(0, 3)), [1, 1, 1]);
  assert.deepEqual(Array.from(img.data.slice(3, 6)), [1, 0, 0]);
  await assert.rejects(decodeImage(png, { alpha: 'refuse' }), isErr('alpha'));
});

test('decompression bombs are refused from the header; corrupt and missing files are unreadable', async () => {
  // A PNG that claims 100000 x 100000 pixels (valid chunks, almost no data): refused from its header.
  const chunk = (type: string, data: Uint8Array) => {
    const out = new Uint8Array(12 + data.length), dv = new DataView(out.buffer);
    dv.setUint32(0, data.length);
    out.set(new TextEncoder().encode(type), 4);
    out.set(data, 8);
    dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
    return out;
  };
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, 100000);
  new DataView(ihdr.buffer).setUint32(4, 100000);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const png = Buffer.concat([
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr),
    chunk('IDAT', new Uint8Array([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])), chunk('IEND', new Uint8Array(0)),
  ]);
  await assert.rejects(decodeImage(png), isErr('too-large'));
  await assert.rejects(decodeImage(await encodeImage(gradient(64, 64), 'png'), { maxPixels: 1000 }), isErr('too-large'));
  const good = await encodeImage(gradient(16, 16), 'png');
  await assert.rejects(decodeImage(good.subarray(0, 40)), (e: unknown) => e instanceof ImageError);
  await assert.rejects(decodeImage(new TextEncoder().encode('not an image at all')), isErr('unreadable'));
  await assert.rejects(loadImage(join(dir, 'missing.png')), isErr('unreadable'));
});

test('saveImage: atomic, refuses to overwrite without force, leaves nothing behind on failure', async () => {
  const img = gradient(8, 8);
  const path = join(dir, 'out.png');
  await saveImage(img, path);
  await assert.rejects(saveImage(img, path), isErr('exists'));
  await saveImage(img, path, { force: true });
  await assert.rejects(saveImage(img, join(dir, 'no-such-dir', 'x.png')), isErr('write'));
  await assert.rejects(saveImage(img, join(dir, 'x.bmpx')), isErr('unsupported'));
  assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.tmp')), []);
  writeFileSync(join(dir, 'keep.png'), 'precious');
  await assert.rejects(saveImage(img, join(dir, 'keep.png')), isErr('exists'));
  assert.ok(existsSync(join(dir, 'keep.png')));
});

test('geometry: reflect padding, crop back, resize, planar conversions', () => {
  const img = gradient(10, 7);
  const { image, crop } = padToMultiple(img, 8);
  assert.equal(image.width, 16);
  assert.equal(image.height, 8);
  assert.deepEqual(crop, { width: 10, height: 7 });
  // Reflection: column 10 mirrors column 8.
  assert.equal(image.data[10 * 3], img.data[8 * 3]);
  assert.deepEqual(Array.from(cropTo(image, 10, 7).data), Array.from(img.data));
  const small = resize(img, 5, 3);
  assert.equal(small.data.length, 5 * 3 * 3);
  const chw = toPlanarSigned(img);
  assert.equal(chw[0], img.data[0] * 2 - 1);
  assert.deepEqual(Array.from(fromPlanarSigned(chw, 10, 7).data).map((v) => v.toFixed(5)), Array.from(img.data).map((v) => v.toFixed(5)));
});

test('an embedded non-sRGB ICC profile (Display P3) is converted to sRGB', async () => {
  // sharp's withIccProfile('p3') stores sRGB (200,100,50) as Display P3 values and tags them.
  const raw = new Uint8Array(4 * 4 * 3).map((_, i) => [200, 100, 50][i % 3]);
  const p3Values = await sharp(raw, { raw: { width: 4, height: 4, channels: 3 } }).withIccProfile('p3').raw().toBuffer();
  assert.ok(Math.abs(p3Values[0] - 200) > 5, `stored P3 values ${Array.from(p3Values.subarray(0, 3))} differ from sRGB`);
  const tagged = await sharp(raw, { raw: { width: 4, height: 4, channels: 3 } }).withIccProfile('p3').png().toBuffer();
  const got = Array.from((await decodeImage(tagged)).data.slice(0, 3)).map((v) => Math.round(v * 255));
  got.forEach((v, c) => assert.ok(Math.abs(v - [200, 100, 50][c]) <= 2, `decoded ${got}, expected ~200,100,50`));
});
