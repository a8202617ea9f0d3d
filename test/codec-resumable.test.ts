/**
 * The codec's resumable face (encodeRange/finishEncode, decodeRange/finishDecode): a chain coded
 * or decoded in any split of ranges, each resumed from a copy of the last state (as a checkpoint
 * read back from storage would be), gives the bytes and latents of one uninterrupted pass.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GaussianImageModel } from '../src/codec/analytic/gaussian-image-model.js';
import { alphaBars, SD_SCHEDULE } from '../src/codec/schedule/ddpm.js';
import { scheduleFromId } from '../src/codec/schedule/timesteps.js';
import { CodingParams, protocolPlans } from '../src/codec/chain/chunk-plan.js';
import {
  compressLatents, decodeRange, decodeTarget, decompressLatents, encodeRange, finishDecode, finishEncode,
  type DecodeContext, type DecodeState, type EncodeState,
} from '../src/codec/codec.js';
import { chainNoise } from '../src/codec/rcc/candidates.js';
import { tsBackend } from '../src/codec/rcc/select.js';

const table = alphaBars(SD_SCHEDULE);
const model = new GaussianImageModel({ size: 8, prediction: 'eps' });
const params = CodingParams.parse({ maxChunkBits: 10 });
const ctx: DecodeContext = {
  schedule: (id) => scheduleFromId(table, id),
  protocol: (s, p) => protocolPlans(s.alphaBars, (a, b) => model.expectedStepKlBits(a, b), model.n, p),
  table,
};
const schedule = scheduleFromId(table, 'even:20:900');
const latent = model.sample(chainNoise({ seedLo: 5, seedHi: 5 }, 0, 1, model.n));
const job = { latent, image: { width: 8, height: 8, channels: 1 }, seed: { lo: 7, hi: 1 } };
const settings = { schedule, params, recon: { method: 'mse' as const, steps: 1 }, backend: tsBackend, protocol: ctx.protocol!(schedule, params) };

/** What a checkpoint written to storage and read back holds: copies, nothing shared with the live chain. */
const stored = (s: EncodeState): EncodeState => JSON.parse(JSON.stringify({ ...s, state: s.state ? [...s.state] : null }), (k, v) => (k === 'state' && v ? Float32Array.from(v) : v));
const storedDecode = (s: DecodeState): DecodeState => ({ step: s.step, state: s.state ? Float32Array.from([...s.state]) : null });

async function ranged(stop: { steps?: number; maxBits?: number } | undefined, cuts: readonly number[]) {
  let st: EncodeState | undefined;
  const ranges: number[] = [];
  for (const to of cuts) {
    [st] = await encodeRange(model, [{ ...job, stop, from: st && stored(st) }], settings, { to });
    ranges.push(st.step);
    if (st.complete) break;
  }
  return { st: st!, ranges };
}

test('an encode in ranges (resumed from stored checkpoints) writes the bytes of one pass', async () => {
  const [one] = await compressLatents(model, [job], settings);
  const { st, ranges } = await ranged(undefined, [3, 4, 9, 15, 20]);
  assert.deepEqual(ranges, [3, 4, 9, 15, 20]);
  assert.ok(st.complete, 'the schedule is coded to its end');
  assert.ok(Buffer.from(finishEncode(model, job, settings, st).bytes).equals(Buffer.from(one.bytes)));
});

test('a bit budget ends a ranged encode where one pass ends, and a complete state codes nothing more', async () => {
  const [full] = await compressLatents(model, [job], settings);
  const budget = Math.floor(full.chain.bitsPerStep.slice(0, 11).reduce((a, b) => a + b, 0)) + 1;
  const [one] = await compressLatents(model, [{ ...job, stop: { maxBits: budget } }], settings);
  assert.equal(one.header.stepsCoded, 11);
  const { st, ranges } = await ranged({ maxBits: budget }, [4, 8, 12, 16, 20]);
  assert.deepEqual(ranges, [4, 8, 11], 'the third range stops at the budget, inside its range');
  assert.ok(st.complete);
  assert.ok(Buffer.from(finishEncode(model, job, settings, st).bytes).equals(Buffer.from(one.bytes)));
  const [again] = await encodeRange(model, [{ ...job, stop: { maxBits: budget }, from: st }], settings, { to: 20 });
  assert.equal(again.step, 11);
});

test('pause stops a range at a step boundary; resuming continues the same chain', async () => {
  const [one] = await compressLatents(model, [job], settings);
  let calls = 0;
  const [paused] = await encodeRange(model, [job], settings, { pause: () => ++calls > 5 });
  assert.ok(paused.step > 0 && paused.step < 20 && !paused.complete, `paused at ${paused.step}`);
  const [rest] = await encodeRange(model, [{ ...job, from: stored(paused) }], settings);
  assert.ok(Buffer.from(finishEncode(model, job, settings, rest).bytes).equals(Buffer.from(one.bytes)));
});

test('a decode in ranges reaches the state and latent of one pass, at every prefix', async () => {
  const [c] = await compressLatents(model, [job], settings);
  for (const upto of [undefined, 13]) {
    const [one] = await decompressLatents(model, [c.bytes], ctx, { uptoSteps: upto });
    const target = decodeTarget(c.bytes, model, ctx, upto);
    assert.equal(target, upto ?? 20);
    let at: DecodeState | undefined;
    const ranges: number[] = [];
    for (const to of [2, 7, 8, 20]) {
      [at] = await decodeRange(model, [{ bytes: c.bytes, from: at && storedDecode(at) }], ctx, { uptoSteps: upto, to });
      ranges.push(at.step);
    }
    assert.deepEqual(ranges, [2, 7, 8, target]);
    const [d] = await finishDecode(model, [{ bytes: c.bytes, at: at! }], ctx);
    assert.equal(d.stepsDecoded, target);
    assert.ok(Buffer.from(d.latent.buffer).equals(Buffer.from(one.latent.buffer)), `upto ${upto}: same latent bits`);
  }
});

test('a resume state that does not fit the file is refused', async () => {
  const [c] = await compressLatents(model, [job], settings);
  await assert.rejects(decodeRange(model, [{ bytes: c.bytes, from: { step: 3, state: new Float32Array(5) } }], ctx), /must hold 64 values/);
  await assert.rejects(decodeRange(model, [{ bytes: c.bytes, from: { step: 30, state: new Float32Array(64) } }], ctx), /cannot resume at step 30/);
});
