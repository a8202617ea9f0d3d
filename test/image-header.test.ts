/**
 * readImageHeader: the checks and the decoded size of decodeImage, from the header alone, and from
 * a PNG's or JPEG's first bytes (what prepareSource reads on io workers).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { decodeImage, readImageHeader } from '../src/image/io.js';
import { ImageError } from '../src/image/errors.js';

const noisy = (w: number, h: number) => {
  const raw = Buffer.alloc(w * h * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 2654435761) >>> 24;
  return sharp(raw, { raw: { width: w, height: h, channels: 3 } });
};

test('the header gives decodeImage\'s size (EXIF orientation applied) for every format, and for a PNG/JPEG prefix', async () => {
  for (const fmt of ['png', 'jpeg', 'webp', 'tiff', 'avif', 'gif'] as const) {
    const bytes = await noisy(300, 200).withMetadata({ orientation: 6 }).toFormat(fmt).toBuffer();
    const h = await readImageHeader(bytes);
    const img = await decodeImage(bytes);
    assert.deepEqual([h.width, h.height, h.bitDepth], [img.width, img.height, img.bitDepth], fmt);
    if (fmt === 'png' || fmt === 'jpeg') {
      assert.deepEqual(await readImageHeader(bytes.subarray(0, 4096)), h, `${fmt}: the first 4 KB say the same`);
    }
  }
  const sixteen = await noisy(40, 30).toColourspace('rgb16').png().toBuffer();
  assert.equal((await readImageHeader(sixteen)).bitDepth, 16);
});

test('the header refuses what decodeImage refuses, with the same ImageError codes', async () => {
  const png = await noisy(100, 100).png().toBuffer();
  for (const [bytes, opts, code] of [[png, { maxPixels: 9999 }, 'too-large'], [Buffer.from('not an image'), {}, 'unreadable']] as const) {
    const header = await readImageHeader(bytes, opts).then(() => 'ok', (e: unknown) => (e instanceof ImageError ? e.code : String(e)));
    const full = await decodeImage(bytes, opts).then(() => 'ok', (e: unknown) => (e instanceof ImageError ? e.code : String(e)));
    assert.equal(header, code);
    assert.equal(full, code);
  }
});
