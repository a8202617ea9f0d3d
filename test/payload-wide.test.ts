/**
 * Wide plan deltas (coding blob version 2, docs/format.md §4.1-4.2): a large photo's step can add
 * more than 65535 chunks at once, which the version-1 delta coder cannot code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { CodingParams, wideDeltasFor } from '../src/codec/chain/chunk-plan.js';
import { assemblePayload, PayloadReader } from '../src/codec/chain/payload.js';
import { decodeCodingBlob, encodeCodingBlob } from '../src/codec/codec.js';
import { compressionSettings } from '../src/pipeline/compress-settings.js';
import { makeCodingSchedule } from '../src/codec/schedule/timesteps.js';
import { alphaBars, SD_SCHEDULE } from '../src/codec/schedule/ddpm.js';

const dims = 3 * 540 * 960;
const steps = [
  { plan: { chunks: 200_000, k: 3 }, indices: Array.from({ length: 200_000 }, (_, i) => (i * 5) % 8) },
  { plan: { chunks: 7, k: 5 }, indices: [0, 31, 4, 9, 16, 2, 30] },
  { plan: { chunks: 1_500_000, k: 1 }, indices: Array.from({ length: 1_500_000 }, (_, i) => i % 2) },
];

test('wide deltas: chunk counts jumping by up to 1.5M round-trip; the fixed vector', () => {
  const params = CodingParams.parse({ maxChunkBits: 8, wideDeltas: true });
  const { bytes } = assemblePayload(params, dims, steps);
  const r = new PayloadReader(bytes, params, dims);
  for (const s of steps) {
    const plan = r.readPlan();
    assert.deepEqual(plan, s.plan);
    assert.deepEqual(r.readIndices(plan), s.indices);
  }
  assert.ok(r.overrun <= 4);
  assert.equal(createHash('sha256').update(bytes).digest('hex').slice(0, 16), '27a9a80f9cdb215c');
});

test('narrow deltas refuse such a jump with a clear error instead of a corrupt stream', () => {
  const params = CodingParams.parse({ maxChunkBits: 8 });
  assert.throws(() => assemblePayload(params, dims, steps), /beyond narrow plan deltas: code latents of 1555200 values with wideDeltas/);
  // What version 1 can code it still codes, to the same bytes as before wide deltas existed.
  const small = [{ plan: { chunks: 65_535, k: 1 }, indices: new Array<number>(65_535).fill(1) }];
  assert.doesNotThrow(() => assemblePayload(params, 70_000, small));
});

test('coding blob: version 2 carries wideDeltas; version 1 is unchanged', () => {
  const narrow = CodingParams.parse({ maxChunkBits: 14 });
  const wide = { ...narrow, wideDeltas: true };
  const v1 = encodeCodingBlob(narrow, true), v2 = encodeCodingBlob(wide, true);
  assert.equal(v1[0], 1);
  assert.equal(v2[0], 2);
  assert.deepEqual([...v2.subarray(1)], [...v1.subarray(1)]);
  assert.deepEqual(decodeCodingBlob(v1).params, narrow);
  assert.deepEqual(decodeCodingBlob(v2).params, wide);
});

test('encoders pick wide deltas exactly for latents of more than 65536 values', () => {
  assert.equal(wideDeltasFor(65_536), false);
  assert.equal(wideDeltasFor(65_537), true);
  const table = alphaBars(SD_SCHEDULE);
  const schedule = makeCodingSchedule(table, [999, 500, 100], 'list');
  const info = { id: 'm', hash: new Uint8Array(8), defaults: { maxChunkBits: 12, schedule: 'list', reconMethod: 'mse' as const, reconSteps: 1, guidance: 1, denoiseGuidance: 1, promptDenoiseGuidance: 1 } };
  const at = (h: number, w: number) => compressionSettings({
    info: info as never, schedule, latent: { channels: 3, height: h, width: w }, width: 4 * w, height: 4 * h, seed: 0, steps: 2,
  }).params.wideDeltas;
  assert.equal(at(128, 128), false);
  assert.equal(at(540, 960), true);
});
