/**
 * The recorded chunk-shape mix (test/fixtures/rcc-mix/recorded.json, scripts/record-chunk-mix.ts)
 * and its replay as RCC work (bench/rcc-mix.ts): the fixture is what real encodes send (every plan
 * valid for its latent, rates growing step by step, late steps in many smaller chunks), a rate cut
 * is a prefix, sampled steps scale back to the step's samples, and on the mix's own shapes the
 * native backend picks the reference's winners.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ChunkMix, mixWork, sampleShareBySize } from '../src/codec/rcc/chunk-mix.js';
import { chunkSizes } from '../src/codec/rcc/candidates.js';
import { tsBackend } from '../src/codec/rcc/select.js';
import { createNativeBackend, loadAddon } from '../src/rcc-backends/index.js';
import { identityRequests, sameSelections, stepRequests } from '../bench/rcc-mix.js';

const mix = ChunkMix.parse(JSON.parse(readFileSync(new URL('./fixtures/rcc-mix/recorded.json', import.meta.url), 'utf8')));

test('the recorded mix: real default-model encodes and SD/Flux-shaped plans, valid and progressive', () => {
  const ids = mix.sources.map((s) => s.id);
  assert.ok(ids.filter((i) => i.startsWith('default:')).length >= 5, `photo encodes: ${ids.join(', ')}`);
  assert.ok(ids.includes('analytic:sdxl-1024') && ids.includes('analytic:flux-1024'));
  for (const s of mix.sources) {
    s.steps.forEach((x, j) => {
      assert.equal(x.step, j + 1, `${s.id}: steps in order`);
      if (j > 0) assert.ok(x.cumulative_bpp >= s.steps[j - 1].cumulative_bpp, `${s.id}: rate grows`);
    });
    assert.ok(s.steps.at(-1)!.cumulative_bpp <= 0.2 + 1e-9);
  }
  // Late, low-noise steps carry more KL per dimension: their chunks are much smaller than the
  // first steps'. At these rates (<= 0.2 bpp) they stay above 16 values (README, "chunk mix").
  for (const s of mix.sources.filter((x) => x.kind === 'encode')) {
    assert.ok(s.steps.at(-1)!.chunks >= 8 * s.steps[0].chunks, `${s.id}: ${s.steps[0].chunks} chunks at step 1, ${s.steps.at(-1)!.chunks} at the last`);
  }
  const share = sampleShareBySize(mixWork(mix), [128, 4096]);
  assert.ok(share[0].share > 0 && share[1].share < 1, `samples in chunks of n <= 128 and n > 4096: ${JSON.stringify(share)}`);
});

test('a rate cut keeps each source\'s prefix; chunk sizes follow docs/rcc.md §7', () => {
  const all = mixWork(mix), low = mixWork(mix, 0.05);
  assert.ok(low.length < all.length && low.length > 0);
  for (const s of mix.sources) {
    const kept = low.filter((w) => w.source === s.id).map((w) => w.step);
    assert.deepEqual(kept, s.steps.filter((x) => x.cumulative_bpp <= 0.05).map((x) => x.step), s.id);
    assert.deepEqual(kept, kept.map((_, j) => j + 1), `${s.id}: a prefix`);
  }
  for (const w of all.slice(0, 40)) {
    const s = mix.sources.find((x) => x.id === w.source)!;
    assert.deepEqual(w.sizes, chunkSizes(s.dims, w.sizes.length));
    assert.equal(w.sizes.reduce((a, b) => a + b, 0), s.dims);
    assert.equal(w.samples, s.dims * 2 ** w.k);
  }
});

test('a step timed on part of its work scales back to the step\'s samples', () => {
  const cap = 2 ** 20;
  for (const w of mixWork(mix)) {
    const { requests, k, scale } = stepRequests(w, cap);
    const ran = requests.reduce((s, r) => s + r.d.length * 2 ** r.k, 0);
    assert.ok(Math.abs(ran * scale - w.samples) <= 1e-9 * w.samples, `${w.source} step ${w.step}`);
    assert.ok(requests.every((r) => r.k === k) && (k === w.k || k >= 10), 'fewer candidates only down to 2^10');
    assert.ok(ran <= cap || requests.length === 1, 'over the cap only with a single chunk');
  }
});

const { addon, error } = loadAddon();
test('on the mix\'s shapes the native cpu backend picks the reference\'s winners, bit for bit', { skip: addon ? false : `native addon: ${error}` }, async () => {
  const reqs = identityRequests(mixWork(mix), 8, 40);
  assert.ok(new Set(reqs.map((r) => r.d.length)).size >= 10, 'many distinct chunk sizes');
  const ref = await tsBackend.selectBatch(reqs);
  for (const simd of addon!.info().simd) {
    assert.ok(sameSelections(await createNativeBackend('cpu', { simd }).selectBatch(reqs), ref), `cpu ${simd}`);
  }
});
