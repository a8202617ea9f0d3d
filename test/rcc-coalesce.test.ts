/**
 * One backend pass for several images' chunks (src/codec/rcc/coalesce.ts): requests made in the
 * same tick go to the backend as one batch, each caller gets its own selections, a bad request
 * fails only its caller, and a batch encode makes one backend call per step with the same bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coalescingBackend } from '../src/codec/rcc/coalesce.js';
import { tsBackend, type ChunkRequest, type RccBackend } from '../src/codec/rcc/select.js';
import { GaussianImageModel } from '../src/codec/analytic/gaussian-image-model.js';
import { alphaBars, SD_SCHEDULE } from '../src/codec/schedule/ddpm.js';
import { scheduleFromId } from '../src/codec/schedule/timesteps.js';
import { CodingParams } from '../src/codec/chain/chunk-plan.js';
import { encodeChains } from '../src/codec/chain/run.js';
import { chainNoise } from '../src/codec/rcc/candidates.js';

function counting(inner: RccBackend): RccBackend & { calls: number[] } {
  const calls: number[] = [];
  return { name: 'counting', calls, selectBatch: (r) => { calls.push(r.length); return inner.selectBatch(r); } };
}

const req = (chunk: number, n: number, k: number, salt = 0): ChunkRequest => ({
  addr: { key: { seedLo: 5 + salt, seedHi: 9 }, step: 3, chunk },
  d: Float32Array.from({ length: n }, (_, j) => Math.sin(1.7 * (j + 1) * (chunk + 1) + salt)),
  k,
});

test('requests of one tick go as one batch; each caller gets its own selections', async () => {
  const inner = counting(tsBackend);
  const b = coalescingBackend(inner);
  const groups = [[req(0, 7, 6), req(1, 7, 6)], [req(0, 33, 5, 1)], [req(0, 2, 7, 2), req(1, 3, 7, 2), req(2, 1, 7, 2)]];
  const got = await Promise.all(groups.map((g) => b.selectBatch(g)));
  assert.deepEqual(inner.calls, [6], 'one pass of all six chunks');
  for (const [i, g] of groups.entries()) assert.deepEqual(got[i], await tsBackend.selectBatch(g));
  // Calls in different ticks are separate passes; empty ones never reach the backend.
  await b.selectBatch([req(0, 4, 4)]);
  await b.selectBatch([]);
  await b.selectBatch([req(0, 4, 4, 3)]);
  assert.deepEqual(inner.calls, [6, 1, 1]);
});

test('a bad request fails its own caller only', async () => {
  const b = coalescingBackend(tsBackend);
  const bad = { ...req(0, 4, 4), k: 99 };
  const [ok, failed, ok2] = await Promise.allSettled([b.selectBatch([req(0, 5, 5)]), b.selectBatch([bad]), b.selectBatch([req(1, 6, 5)])]);
  assert.equal(failed.status, 'rejected');
  assert.match(String((failed as PromiseRejectedResult).reason), /chunk bits k=99/);
  assert.deepEqual(ok.status === 'fulfilled' && ok.value, await tsBackend.selectBatch([req(0, 5, 5)]));
  assert.deepEqual(ok2.status === 'fulfilled' && ok2.value, await tsBackend.selectBatch([req(1, 6, 5)]));
});

test('a batch encode makes one backend call per step, with the bytes of one-by-one encodes', async () => {
  const model = new GaussianImageModel({ size: 8 });
  const schedule = scheduleFromId(alphaBars(SD_SCHEDULE), 'even:10:900');
  const params = CodingParams.parse({ maxChunkBits: 8 });
  const jobs = [31, 32, 33].map((s) => ({ x0: model.sample(chainNoise({ seedLo: s, seedHi: 1 }, 0, 9, model.n)), cfg: { schedule, params, key: { seedLo: s, seedHi: 4 } } }));
  const inner = counting(tsBackend);
  const batched = await encodeChains(model, jobs, inner);
  assert.equal(inner.calls.length, schedule.timesteps.length, `${inner.calls.length} backend calls for ${schedule.timesteps.length} steps of 3 images`);
  for (const [i, j] of jobs.entries()) {
    const [alone] = await encodeChains(model, [j], tsBackend);
    assert.ok(Buffer.from(alone.payload).equals(Buffer.from(batched[i].payload)), `image ${i} differs from its one-by-one encode`);
  }
});
