// Decoding: every input format, orientation, ICC, bit depth, alpha policy, pixel limit, bad files.
// All inputs are generated here with sharp (or by hand, for the malformed ones).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { loadImage, encodeImage, decodeImage, quantise } from '../src/image/io.js';
import { ImageError, isImageError } from '../src/image/errors.js';
import { crc32 } from '../src/codec/format/crc32.js';
import type { RgbImage } from '../src/image/types.js';

const dir = mkdtempSync(join(tmpdir(), 'diffc-image-io-'));
const isErr = (code: string, mention?: string) => (e: unknown) => {
  assert.ok(isImageError(e), `expected ImageError, got ${String(e)}`);
  assert.equal(e.code, code, e.message);
  if (mention) assert.ok(e.message.includes(mention), `message '${e.message}' should name ${mention}`);
  return true;
};

/** A test card: a different ramp in each channel, on the 8-bit grid. */
const card = (w: number, h: number): RgbImage => {
  const data = new Float32Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const i = (y * w + x) * 3;
    data[i] = Math.round((255 * x) / (w - 1)) / 255;
    data[i + 1] = Math.round((255 * y) / (h - 1)) / 255;
    data[i + 2] = Math.round((255 * (x + y)) / (w + h - 2)) / 255;
  }
  return { width: w, height: h, data, bitDepth: 8 };
};
const meanAbs = (a: RgbImage, b: RgbImage) => a.data.reduce((s, v, i) => s + Math.abs(v - b.data[i]), 0) / a.data.length;
const rgb8 = (img: RgbImage, i: number) => Array.from(img.data.slice(i * 3, i * 3 + 3)).map((v) => Math.round(v * 255));

/** A PNG chunk with a valid CRC. */
const chunk = (type: string, data: Uint8Array) => {
  const out = new Uint8Array(12 + data.length), dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
};
/** Inserts an iCCP chunk right after IHDR, tagging the unchanged samples with `icc`. */
const tagPng = (png: Uint8Array, icc: Uint8Array) =>
  Buffer.concat([png.subarray(0, 33), chunk('iCCP', Buffer.concat([Buffer.from('icc\0\0'), deflateSync(icc)])), png.subarray(33)]);

test('PNG, JPEG, WebP, AVIF, TIFF and GIF decode to RGB of the right size (files and bytes)', async () => {
  const img = card(37, 21);
  for (const f of ['png', 'jpeg', 'webp', 'avif', 'tiff'] as const) {
    const bytes = await encodeImage(img, f);
    const path = join(dir, `card.${f}`);
    writeFileSync(path, bytes);
    for (const back of [await decodeImage(bytes), await loadImage(path), await loadImage(bytes)]) {
      assert.deepEqual([back.width, back.height, back.bitDepth, back.data.length], [37, 21, 8, 37 * 21 * 3], f);
      // Lossless formats are exact on the 8-bit grid; lossy ones stay close.
      if (f === 'png' || f === 'tiff') assert.deepEqual(back.data, img.data, f);
      else assert.ok(meanAbs(back, img) < 0.06, `${f}: mean error ${meanAbs(back, img)}`);
    }
  }
  // GIF: an animated one (red frame, then blue) gives its first frame.
  const frame = (r: number, b: number) => sharp({ create: { width: 6, height: 5, channels: 3, background: { r, g: 0, b } } }).png().toBuffer();
  const gif = await sharp([await frame(255, 0), await frame(0, 255)], { join: { animated: true } }).gif().toBuffer();
  assert.equal((await sharp(gif).metadata()).pages, 2);
  const first = await decodeImage(gif);
  assert.deepEqual([first.width, first.height], [6, 5]);
  assert.deepEqual(rgb8(first, 29), [255, 0, 0]);
});

test('grey images become RGB; 16-bit sources stay 16-bit', async () => {
  const grey8 = await sharp(new Uint8Array([0, 100, 200, 255]), { raw: { width: 2, height: 2, channels: 1 } }).toColourspace('b-w').png().toBuffer();
  const g8 = await decodeImage(grey8);
  assert.equal(g8.bitDepth, 8);
  assert.deepEqual(Array.from(g8.data).map((v) => Math.round(v * 255)), [0, 0, 0, 100, 100, 100, 200, 200, 200, 255, 255, 255]);
  const levels = [0, 1, 40000, 65535];
  const grey16 = await sharp(new Uint16Array(levels), { raw: { width: 2, height: 2, channels: 1 } }).toColourspace('grey16').png().toBuffer();
  assert.equal((await sharp(grey16).metadata()).depth, 'ushort');
  const g16 = await decodeImage(grey16);
  assert.equal(g16.bitDepth, 16);
  assert.deepEqual(Array.from(g16.data).map((v) => Math.round(v * 65535)), levels.flatMap((v) => [v, v, v]));
});

test('16-bit PNG and TIFF round trips are exact; float -> integer is round-half-up, clamped', async () => {
  const base = card(29, 17);
  // Values between the 8-bit levels, so any 8-bit step would show.
  const deep: RgbImage = { ...base, bitDepth: 16, data: base.data.map((v, i) => Math.round(v * 60000 + (i % 5) * 13) / 65535) };
  for (const f of ['png', 'tiff'] as const) {
    const bytes = await encodeImage(deep, f);
    assert.equal((await sharp(bytes).metadata()).depth, 'ushort', f);
    const back = await decodeImage(bytes);
    assert.equal(back.bitDepth, 16, f);
    assert.deepEqual(quantise(back, 16), quantise(deep, 16), `${f}: 16-bit samples differ`);
  }
  // An 8-bit image written at 16 bits on request reads back as 16-bit with the same values.
  const up = await decodeImage(await encodeImage(base, 'png', { bitDepth: 16 }));
  assert.equal(up.bitDepth, 16);
  assert.ok(meanAbs(up, base) < 1e-6);

  // 0.5 * 255 = 127.5 and 0.5 * 65535 = 32767.5 exactly: halves go up.
  const edge: RgbImage = { width: 2, height: 1, bitDepth: 8, data: new Float32Array([0.5, 0.4 / 255, 1.6 / 255, -0.2, 1.3, NaN]) };
  assert.deepEqual(Array.from(quantise(edge, 8)), [128, 0, 2, 0, 255, 0]);
  assert.deepEqual(Array.from(quantise({ ...edge, data: new Float32Array([0.5, 0.4 / 65535, 1.6 / 65535, 2, -1, 1]) }, 16)), [32768, 0, 2, 65535, 0, 65535]);
});

test('EXIF orientation 6: dimensions swap and the top-left block lands at the top right', async () => {
  // Stored 16x8 with the top-left 8x4 block red; orientation 6 = display rotated 90° clockwise.
  const raw = new Uint8Array(16 * 8 * 3);
  for (let y = 0; y < 4; y++) for (let x = 0; x < 8; x++) raw[(y * 16 + x) * 3] = 255;
  const jpeg = await sharp(raw, { raw: { width: 16, height: 8, channels: 3 } }).jpeg({ quality: 100 }).withMetadata({ orientation: 6 }).toBuffer();
  assert.equal((await sharp(jpeg).metadata()).orientation, 6);
  const img = await decodeImage(jpeg);
  assert.deepEqual([img.width, img.height], [8, 16]);
  // Stored (x, y) -> displayed (H-1-y, x): stored (2, 1) is red -> displayed (6, 2).
  const red = (x: number, y: number) => img.data[(y * 8 + x) * 3];
  assert.ok(red(6, 2) > 0.9 && red(5, 6) > 0.9, 'red at the top right');
  assert.ok(red(1, 2) < 0.1 && red(6, 13) < 0.1 && red(1, 13) < 0.1, 'black elsewhere');
});

test('embedded ICC profiles are converted to sRGB, at 8 and at 16 bits', async () => {
  const srgb = [200, 100, 50];
  const raw8 = new Uint8Array(4 * 4 * 3).map((_, i) => srgb[i % 3]);
  // 8-bit: sharp stores sRGB (200,100,50) as Display P3 values and tags them.
  const p3png = await sharp(raw8, { raw: { width: 4, height: 4, channels: 3 } }).withIccProfile('p3').png().toBuffer();
  const p3values = Array.from((await sharp(p3png, { ignoreIcc: true }).raw().toBuffer()).subarray(0, 3));
  assert.ok(Math.abs(p3values[0] - 200) > 5, `stored P3 values ${p3values} differ from the sRGB ones`);
  rgb8(await decodeImage(p3png), 0).forEach((v, c) => assert.ok(Math.abs(v - srgb[c]) <= 1, `8-bit P3: channel ${c} = ${v}, want ~${srgb[c]}`));

  // 16-bit: the same P3 values at 16 bits, tagged by hand with the P3 profile (sharp alone would
  // convert the samples while tagging).
  const p3icc = (await sharp(p3png).metadata()).icc!;
  const srgbIcc = (await sharp(await sharp(raw8, { raw: { width: 4, height: 4, channels: 3 } }).withIccProfile('srgb').png().toBuffer()).metadata()).icc!;
  const samples = new Uint16Array(4 * 4 * 3).map((_, i) => p3values[i % 3] * 257);
  const plain16 = await sharp(samples, { raw: { width: 4, height: 4, channels: 3 } }).toColourspace('rgb16').png().toBuffer();
  const p3at16 = await decodeImage(tagPng(plain16, p3icc));
  assert.equal(p3at16.bitDepth, 16);
  Array.from(p3at16.data.slice(0, 3)).forEach((v, c) => assert.ok(Math.abs(v * 255 - srgb[c]) < 1, `16-bit P3: channel ${c} = ${v * 255}, want ~${srgb[c]}`));
  // ... an sRGB-tagged 16-bit file comes through bit-exact, and an untagged one is taken as sRGB.
  for (const png of [tagPng(plain16, srgbIcc), plain16]) {
    assert.deepEqual(quantise(await decodeImage(png), 16), samples);
  }
});

test('alpha: flattened on white (or a given background) in exact integer steps, or refused', async () => {
  const rgba = new Uint8Array([0, 0, 0, 0, 255, 0, 0, 255, 0, 0, 0, 128, 10, 20, 30, 255]);
  const png = await sharp(rgba, { raw: { width: 4, height: 1, channels: 4 } }).png().toBuffer();
  const img = await decodeImage(png);
  // Transparent -> white; opaque unchanged; black at alpha 128/255 -> 255 * 127/255 = 127.
  assert.deepEqual([0, 1, 2, 3].map((i) => rgb8(img, i)), [[255, 255, 255], [255, 0, 0], [127, 127, 127], [10, 20, 30]]);
  const onGrey = await decodeImage(png, { background: [0, 128, 255] });
  assert.deepEqual(rgb8(onGrey, 0), [0, 128, 255]);
  await assert.rejects(decodeImage(png, { alpha: 'refuse' }), isErr('alpha', '<buffer>'));
  const path = join(dir, 'clear.png');
  writeFileSync(path, png);
  await assert.rejects(loadImage(path, { alpha: 'refuse' }), isErr('alpha', path));

  // 16-bit alpha flattens on exactly 65535 (sharp's own flatten would give 65280).
  const rgba16 = new Uint16Array([0, 0, 0, 0, 65535, 0, 1000, 65535]);
  const png16 = await sharp(rgba16, { raw: { width: 2, height: 1, channels: 4 } }).toColourspace('rgb16').png().toBuffer();
  assert.deepEqual(Array.from(quantise(await decodeImage(png16), 16)), [65535, 65535, 65535, 65535, 0, 1000]);

  // An alpha channel that is fully opaque is not refused (GIF always decodes with one).
  const opaque = await sharp(new Uint8Array([9, 8, 7, 255]), { raw: { width: 1, height: 1, channels: 4 } }).png().toBuffer();
  assert.deepEqual(rgb8(await decodeImage(opaque, { alpha: 'refuse' }), 0), [9, 8, 7]);
  const gif = await sharp({ create: { width: 3, height: 3, channels: 3, background: '#102030' } }).gif().toBuffer();
  assert.equal((await decodeImage(gif, { alpha: 'refuse' })).width, 3);
  await assert.rejects(decodeImage(png, { background: [0, 0, 256] as unknown as [number, number, number] }), RangeError);
});

test('decompression bombs are refused from the header, before any pixel is decoded', async () => {
  // A valid PNG header with 8 bytes of image data: decoding it fails as truncated ('unreadable'),
  // so 'too-large' shows that the header check came first.
  const bombPng = (side: number) => {
    const ihdr = new Uint8Array(13);
    new DataView(ihdr.buffer).setUint32(0, side);
    new DataView(ihdr.buffer).setUint32(4, side);
    ihdr.set([8, 2, 0, 0, 0], 8);
    return Buffer.concat([
      new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr),
      chunk('IDAT', new Uint8Array([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])), chunk('IEND', new Uint8Array(0)),
    ]);
  };
  const path = join(dir, 'bomb.png');
  writeFileSync(path, bombPng(100000)); // 10 Gpx, 30 GB of RGB
  const t = performance.now();
  await assert.rejects(loadImage(path), isErr('too-large', path));
  assert.ok(performance.now() - t < 1000, 'refused quickly');
  const modest = bombPng(3000); // 9 Mpx: under the default limit it gets decoded, and fails as truncated
  await assert.rejects(decodeImage(modest), isErr('unreadable'));
  await assert.rejects(decodeImage(modest, { maxPixels: 1_000_000 }), isErr('too-large'));
  // The limit is inclusive: 64x64 = 4096 pixels.
  const small = await encodeImage(card(64, 64), 'png');
  await assert.rejects(decodeImage(small, { maxPixels: 4095 }), isErr('too-large'));
  assert.equal((await decodeImage(small, { maxPixels: 4096 })).width, 64);
  await assert.rejects(decodeImage(small, { maxPixels: 0 }), RangeError);
});

test('truncated, corrupt, missing and unsupported inputs are ImageErrors naming the file', async () => {
  const img = card(48, 40);
  for (const f of ['png', 'jpeg', 'webp', 'avif', 'tiff'] as const) {
    const bytes = await encodeImage(img, f);
    for (const frac of [0.1, 0.5, 0.9]) {
      const path = join(dir, `cut-${frac}.${f}`);
      writeFileSync(path, bytes.subarray(0, Math.floor(bytes.length * frac)));
      await assert.rejects(loadImage(path), isErr('unreadable', path), `${f} cut at ${frac}`);
    }
  }
  // Flipped bits in the middle of a PNG's image data: the CRC or zlib check catches them.
  const png = Buffer.from(await encodeImage(img, 'png'));
  png[Math.floor(png.length / 2)] ^= 0xff;
  await assert.rejects(decodeImage(png), isErr('unreadable'));
  await assert.rejects(decodeImage(new TextEncoder().encode('not an image at all')), isErr('unreadable', '<buffer>'));
  await assert.rejects(decodeImage(new Uint8Array(0)), isErr('unreadable'));
  await assert.rejects(loadImage(join(dir, 'missing.png')), isErr('unreadable', 'missing.png'));
  await assert.rejects(loadImage(dir), isErr('unreadable', dir));
  // Real formats we do not take: SVG (sharp could render it), float TIFF, BMP.
  const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4"/></svg>');
  await assert.rejects(decodeImage(svg), isErr('unsupported'));
  const floatTiff = await sharp(new Uint8Array(12), { raw: { width: 2, height: 2, channels: 3 } }).tiff({ compression: 'deflate', predictor: 'float' }).toBuffer();
  await assert.rejects(decodeImage(floatTiff), isErr('unsupported'));
  const bmp = Buffer.alloc(70);
  bmp.write('BM', 0);
  await assert.rejects(decodeImage(bmp), isErr('unsupported'));
  // Nothing raw escapes: every rejection above was an ImageError (checked by isErr).
  assert.ok(new ImageError('write', 'x') instanceof Error);
});
