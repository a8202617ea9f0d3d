/**
 * The JPEG XL baseline (src/eval/jxl.ts, src/eval/baselines.ts) through libjxl's real cjxl/djxl
 * (Debian's libjxl-tools; `bash scripts/fetch-eval-tools.sh` then DIFFC_TOOLS_DIR=.cache/tools/bin).
 * Without the tools the codec tests skip saying so, unless DIFFC_REQUIRE_EVAL_TOOLS=1 (CI), where they fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { decodeJxl, encodeJxl, findJxlTools, jxlDistance } from '../src/eval/jxl.js';
import { ToolUnavailableError } from '../src/eval/tools.js';
import { encodeAtBpp } from '../src/eval/baselines.js';
import { psnr } from '../src/eval/metrics.js';
import { loadImage } from '../src/image/io.js';
import { resize } from '../src/image/geometry.js';

const local = new URL('../.cache/tools/bin', import.meta.url).pathname;
const env = { ...process.env, ...(process.env.DIFFC_TOOLS_DIR || !existsSync(local) ? {} : { DIFFC_TOOLS_DIR: local }) };
let tools: ReturnType<typeof findJxlTools> | undefined;
let why = '';
try {
  tools = findJxlTools(env);
} catch (e) {
  why = (e as Error).message;
}
const skip = tools || process.env.DIFFC_REQUIRE_EVAL_TOOLS === '1' ? false : `JPEG XL tests skipped: ${why}`;
const photo = new URL('../.cache/photos/astronaut.png', import.meta.url).pathname;

test('the quality scale maps 1..100 to Butteraugli distances 25..0.1, decreasing', () => {
  assert.equal(jxlDistance(1), 25);
  assert.equal(jxlDistance(100), 0.1);
  for (let q = 2; q <= 100; q++) assert.ok(jxlDistance(q) < jxlDistance(q - 1), `q ${q}`);
  assert.throws(() => jxlDistance(0), RangeError);
});

test('missing tools: a typed error that says how to get them', () => {
  assert.throws(() => findJxlTools({ DIFFC_TOOLS_DIR: '/nonexistent' }), (e: unknown) => e instanceof ToolUnavailableError && /libjxl-tools/.test(e.message) && /fetch-eval-tools/.test(e.message));
});

test('JPEG XL at a matched rate: a real .jxl under the target that decodes to the image', { skip }, async () => {
  assert.ok(tools, why);
  process.env.DIFFC_TOOLS_DIR ??= env.DIFFC_TOOLS_DIR; // encodeAtBpp finds the tools itself
  const img = resize(await loadImage(photo), 192, 128);
  const r = await encodeAtBpp(img, 'jxl', 1.0);
  assert.equal(r.overshoot, false);
  assert.ok(r.bpp <= 1.0 && r.bpp > 0.5, `bpp ${r.bpp} at quality ${r.quality}`);
  assert.equal(r.decoded.width, 192);
  assert.equal(r.decoded.height, 128);
  const p = psnr(img, r.decoded);
  assert.ok(p > 25 && p < 60, `PSNR ${p}`);
  // A better quality is a bigger file with a better PSNR; bytes are a JPEG XL codestream or container.
  const hi = await encodeJxl(img, Math.min(100, r.quality + 10), tools);
  assert.ok(hi.length > r.bytes, `${hi.length} vs ${r.bytes}`);
  assert.ok(psnr(img, await decodeJxl(hi, tools)) > p);
  assert.ok((hi[0] === 0xff && hi[1] === 0x0a) || Buffer.from(hi.subarray(4, 8)).toString('latin1') === 'JXL ', 'JPEG XL signature');
});
