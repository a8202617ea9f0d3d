// saveImage: format from the extension, atomic writes, --force semantics, and nothing left behind
// on failure (disk full simulated at the file-handle level).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadImage, saveImage } from '../src/image/io.js';
import { isImageError } from '../src/image/errors.js';
import type { RgbImage } from '../src/image/types.js';

const root = mkdtempSync(join(tmpdir(), 'diffc-image-save-'));
let n = 0;
const freshDir = () => { const d = join(root, String(n++)); mkdirSync(d); return d; };
const isErr = (code: string, mention?: string) => (e: unknown) => {
  assert.ok(isImageError(e), `expected ImageError, got ${String(e)}`);
  assert.equal(e.code, code, e.message);
  if (mention) assert.ok(e.message.includes(mention), `message '${e.message}' should name ${mention}`);
  return true;
};
const ramp = (w: number, h: number, bitDepth: 8 | 16 = 8): RgbImage => {
  const data = new Float32Array(w * h * 3);
  for (let i = 0; i < data.length; i++) data[i] = bitDepth === 16 ? ((i * 7919) % 65536) / 65535 : ((i * 37) % 256) / 255;
  return { width: w, height: h, data, bitDepth };
};

test('the format comes from the extension (or opts.format); 16-bit on request or from the image', async () => {
  const d = freshDir(), img = ramp(20, 12);
  const want: Record<string, string> = { 'a.png': 'png', 'a.jpg': 'jpeg', 'a.JPEG': 'jpeg', 'a.webp': 'webp', 'a.avif': 'heif', 'a.tif': 'tiff', 'a.tiff': 'tiff' };
  for (const [name, format] of Object.entries(want)) {
    await saveImage(img, join(d, name));
    assert.equal((await sharp(join(d, name)).metadata()).format, format, name);
  }
  await saveImage(img, join(d, 'really-a-webp.png'), { format: 'webp' });
  assert.equal((await sharp(join(d, 'really-a-webp.png')).metadata()).format, 'webp');
  await assert.rejects(saveImage(img, join(d, 'x.bmp')), isErr('unsupported', 'x.bmp'));
  await assert.rejects(saveImage(img, join(d, 'noext')), isErr('unsupported', 'noext'));

  const deep = ramp(20, 12, 16);
  await saveImage(deep, join(d, 'deep.png'));
  await saveImage(img, join(d, 'up.png'), { bitDepth: 16 });
  await saveImage(deep, join(d, 'down.png'), { bitDepth: 8 });
  assert.deepEqual(await Promise.all(['deep', 'up', 'down'].map(async (f) => (await sharp(join(d, `${f}.png`)).metadata()).depth)), ['ushort', 'ushort', 'uchar']);
  assert.deepEqual((await loadImage(join(d, 'deep.png'))).data, deep.data);
  // JPEG/WebP/AVIF are 8-bit: a 16-bit image is written at 8 bits, an explicit request is refused.
  await saveImage(deep, join(d, 'deep.jpg'));
  await assert.rejects(saveImage(deep, join(d, 'deep16.jpg'), { bitDepth: 16 }), isErr('unsupported', 'deep16.jpg'));
  assert.ok(!existsSync(join(d, 'deep16.jpg')));
});

test('an existing file is refused unless forced; forcing replaces it whole', async () => {
  const d = freshDir(), path = join(d, 'out.png');
  writeFileSync(path, 'precious');
  await assert.rejects(saveImage(ramp(8, 8), path), isErr('exists', path));
  assert.equal(readFileSync(path, 'utf8'), 'precious');
  await saveImage(ramp(8, 8), path, { force: true });
  assert.equal((await loadImage(path)).width, 8);
  await saveImage(ramp(4, 4), path, { force: true });
  assert.equal((await loadImage(path)).width, 4);
  assert.deepEqual(readdirSync(d), ['out.png']);
});

test('failures leave no temporary or partial file: bad directory, too large, bad image', async () => {
  const d = freshDir();
  await assert.rejects(saveImage(ramp(8, 8), join(d, 'no-such-dir', 'x.png')), isErr('write', 'no-such-dir'));
  // WebP is limited to 16383 pixels a side: refused before encoding.
  const wide: RgbImage = { width: 16384, height: 1, bitDepth: 8, data: new Float32Array(16384 * 3) };
  await assert.rejects(saveImage(wide, join(d, 'wide.webp')), isErr('too-large', 'wide.webp'));
  await assert.rejects(saveImage({ ...ramp(8, 8), width: 9 }, join(d, 'bad.png')), RangeError);
  await assert.rejects(saveImage(ramp(8, 8), join(d, 'q.jpg'), { quality: 0 }), RangeError);
  assert.deepEqual(readdirSync(d), []);
});

/** Makes every FileHandle write land 64 bytes and then fail with ENOSPC, as a full disk does. */
async function diskFullAfter64Bytes(t: TestContext, probe: string): Promise<void> {
  const fh = await open(probe, 'w');
  const proto = Object.getPrototypeOf(fh) as { write: (b: Uint8Array) => Promise<unknown>; writeFile: (b: Uint8Array) => Promise<void> };
  await fh.close();
  const realWrite = proto.write;
  async function full(this: unknown, data: Uint8Array | string): Promise<never> {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    await realWrite.call(this, bytes.subarray(0, 64));
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
  }
  t.mock.method(proto, 'write', full);
  t.mock.method(proto, 'writeFile', full);
}

test('disk full (ENOSPC): a typed write error, no temporary file, an existing target untouched', async (t) => {
  const d = freshDir(), probe = join(root, `probe-${n}`);
  const fresh = join(d, 'fresh.png'), kept = join(d, 'kept.png');
  await saveImage(ramp(8, 8), kept);
  const old = readFileSync(kept);
  await diskFullAfter64Bytes(t, probe);
  await assert.rejects(saveImage(ramp(64, 64), fresh), (e: unknown) => isErr('write', fresh)(e) && /ENOSPC|no space/.test((e as Error).message));
  await assert.rejects(saveImage(ramp(64, 64), kept, { force: true }), isErr('write', kept));
  t.mock.restoreAll();
  assert.deepEqual(readdirSync(d), ['kept.png']);
  assert.deepEqual(readFileSync(kept), old);
});
