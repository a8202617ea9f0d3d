/**
 * SSIMULACRA 2 and Butteraugli through the reference tools (src/eval/perceptual.ts): on fixed,
 * generated images the scores equal the tools run by hand on the same PNG files, equal the values
 * recorded with ssimulacra2_rs 0.5.2 and Debian's butteraugli 0~20170116-3, and rank distortions
 * sensibly. The tools come from `bash scripts/fetch-eval-tools.sh` (DIFFC_TOOLS_DIR); without them
 * the tests skip saying so, unless DIFFC_REQUIRE_EVAL_TOOLS=1 (CI), where they fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { availableMetrics, perceptualMetric } from '../src/eval/perceptual.js';
import { findTool, inTemp, runTool, ToolUnavailableError, writePng8 } from '../src/eval/tools.js';
import type { RgbImage } from '../src/image/types.js';

const local = new URL('../.cache/tools/bin', import.meta.url).pathname;
const env = { ...process.env, ...(process.env.DIFFC_TOOLS_DIR || !existsSync(local) ? {} : { DIFFC_TOOLS_DIR: local }) };
const { metrics, missing } = availableMetrics(env);
const skip = (metrics.ssimulacra2 && metrics.butteraugli) || process.env.DIFFC_REQUIRE_EVAL_TOOLS === '1' ? false : `perceptual metric tests skipped: ${missing.join('; ')}`;

/** A 96x64 test card: gradients, a checker and a disc; `blur` box-blurs it, `noise` adds a fixed pattern. */
function card(opts: { blur?: number; noise?: number } = {}): RgbImage {
  const w = 96, h = 64;
  const base = new Float32Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      const check = ((x >> 3) + (y >> 3)) & 1;
      const disc = (x - 64) ** 2 + (y - 32) ** 2 < 18 ** 2;
      base[i] = disc ? 0.9 : x / w;
      base[i + 1] = check ? 0.8 : 0.2;
      base[i + 2] = disc ? 0.1 : y / h;
    }
  }
  const out = new Float32Array(base);
  const r = opts.blur ?? 0;
  if (r > 0) {
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) {
      let s = 0, n = 0;
      for (let dy = -r; dy <= r; dy++) for (let dx = -r; dx <= r; dx++) {
        const yy = Math.min(h - 1, Math.max(0, y + dy)), xx = Math.min(w - 1, Math.max(0, x + dx));
        s += base[(yy * w + xx) * 3 + c]; n++;
      }
      out[(y * w + x) * 3 + c] = s / n;
    }
  }
  const a = opts.noise ?? 0;
  for (let i = 0; i < out.length; i++) out[i] = Math.min(1, Math.max(0, out[i] + a * (((i * 2654435761) >>> 0) / 2 ** 32 - 0.5)));
  return { width: w, height: h, data: out, bitDepth: 8 };
}

const ref = card(), blur1 = card({ blur: 1 }), blur2 = card({ blur: 2 }), noisy = card({ noise: 0.2 });

test('scores equal the tools run by hand, and the recorded values', { skip }, async () => {
  const s2 = metrics.ssimulacra2!, ba = metrics.butteraugli!;
  const byHand = await inTemp(async (dir) => {
    await writePng8(ref, join(dir, 'a.png'));
    await writePng8(blur1, join(dir, 'b.png'));
    const s = (await runTool(findTool('ssimulacra2_rs', '', env), ['image', join(dir, 'a.png'), join(dir, 'b.png')])).stdout;
    const b = (await runTool(findTool('butteraugli', '', env), [join(dir, 'a.png'), join(dir, 'b.png')])).stdout;
    return { s: Number(/Score:\s*(\S+)/.exec(s)![1]), b: Number(b.trim()) };
  });
  const got = { s: await s2(ref, blur1), b: await ba(ref, blur1) };
  assert.deepEqual(got, byHand);
  const rec = [[got.s, 17.38678849], [got.b, 9.028292], [await s2(ref, noisy), 49.51390488], [await ba(ref, noisy), 6.049637]];
  for (const [g, want] of rec) assert.ok(Math.abs(g - want) < 1e-5, `${g} vs recorded ${want}`);
});

test('identical images score 100 and 0; more blur scores worse on both', { skip }, async () => {
  const s2 = metrics.ssimulacra2!, ba = metrics.butteraugli!;
  assert.equal(await s2(ref, ref), 100);
  assert.equal(await ba(ref, ref), 0);
  assert.ok((await s2(ref, blur2)) < (await s2(ref, blur1)));
  assert.ok((await ba(ref, blur2)) > (await ba(ref, blur1)));
  await assert.rejects(s2(ref, { ...ref, width: 48, data: ref.data.subarray(0, 48 * 64 * 3) }), RangeError);
});

test('a missing tool is a typed error that says how to get it', () => {
  assert.throws(() => perceptualMetric('ssimulacra2', { DIFFC_TOOLS_DIR: '/nonexistent' }), (e: unknown) => e instanceof ToolUnavailableError && /fetch-eval-tools/.test(e.message));
  const none = availableMetrics({ DIFFC_TOOLS_DIR: '/nonexistent' });
  assert.deepEqual(Object.keys(none.metrics), []);
  assert.equal(none.missing.length, 2);
});
