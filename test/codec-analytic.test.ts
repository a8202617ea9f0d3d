/**
 * The codec proven on an exact model: a Gaussian image source whose optimal denoiser is closed-form.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GaussianImageModel, distortionRateTotal } from '../src/codec/analytic/gaussian-image-model.js';
import { alphaBars, SD_SCHEDULE } from '../src/codec/schedule/ddpm.js';
import { scheduleFromId } from '../src/codec/schedule/timesteps.js';
import { CodingParams } from '../src/codec/chain/chunk-plan.js';
import { ChainEncoder } from '../src/codec/chain/encoder.js';
import { encodeChains, decodeChains } from '../src/codec/chain/run.js';
import { assemblePayload } from '../src/codec/chain/payload.js';
import { predictX0 } from '../src/codec/model.js';
import { chainNoise } from '../src/codec/rcc/candidates.js';
import { tsBackend } from '../src/codec/rcc/select.js';
import { reconstruct } from '../src/codec/diffusion/reconstruct.js';
import type { ChainConfig } from '../src/codec/chain/chain-config.js';

const table = alphaBars(SD_SCHEDULE);
const model = new GaussianImageModel({ size: 8 });
const schedule = scheduleFromId(table, 'even:24:900');
const params = CodingParams.parse({ maxChunkBits: 10, paddingQuarterBits: 4 });
const cfgFor = (seed: number): ChainConfig => ({ schedule, params, key: { seedLo: seed, seedHi: 77 } });
const image = (seed: number) => model.sample(chainNoise({ seedLo: seed, seedHi: 1 }, 0, 9, model.n));
const sameBits = (a: Float32Array, b: Float32Array) =>
  a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

test('decoder reproduces the encoder state bit for bit at every prefix', async () => {
  const x0 = image(1);
  const cfg = cfgFor(11);
  const enc = new ChainEncoder(x0, cfg);
  const states: Float32Array[] = [];
  while (!enc.done) {
    const [x0hat] = await predictX0(model, [enc.request()]);
    await enc.advance(x0hat, tsBackend);
    states.push(enc.current!.slice());
  }
  const { bytes } = assemblePayload(params, model.n, enc.steps);
  const full = enc.steps.length;
  for (let upto = 0; upto <= full; upto++) {
    const [dec] = await decodeChains(model, [{ payload: bytes, cfg, dims: model.n, stepsCoded: full, upto }]);
    if (upto === 0) assert.equal(dec.state, null);
    else assert.ok(sameBits(dec.state!, states[upto - 1]), `state differs after ${upto} steps`);
    assert.equal(dec.steps, upto);
  }
  // A re-assembled prefix payload decodes to the same state as decoding the full payload partially.
  const half = Math.floor(full / 2);
  const prefix = assemblePayload(params, model.n, enc.steps.slice(0, half)).bytes;
  const [dp] = await decodeChains(model, [{ payload: prefix, cfg, dims: model.n, stepsCoded: half }]);
  assert.ok(sameBits(dp.state!, states[half - 1]));
  assert.ok(prefix.length < bytes.length);
});

test('batched encode equals one-by-one encode, and coded bits bracket the ideal sum of KL', async () => {
  const seeds = [21, 22, 23, 24, 25, 26];
  const jobs = seeds.map((s) => ({ x0: image(s), cfg: cfgFor(s) }));
  const batched = await encodeChains(model, jobs, tsBackend);
  const single = await encodeChains(model, [jobs[0]], tsBackend);
  assert.deepEqual(Buffer.from(single[0].payload), Buffer.from(batched[0].payload));
  let ideal = 0, actual = 0;
  for (const r of batched) {
    ideal += r.records.reduce((s, x) => s + x.klBits, 0);
    actual += r.payload.length * 8;
  }
  // Above the ideal (cannot beat the KL on average) and within the chunked-PFR overhead.
  assert.ok(actual > ideal, `actual ${actual} <= ideal ${ideal}`);
  assert.ok(actual < 1.8 * ideal + 64 * seeds.length, `overhead too large: ${actual} vs ${ideal}`);
});

test('MSE at every rate stays above the Shannon D(R) bound of the Gaussian source', async () => {
  const seeds = Array.from({ length: 10 }, (_, i) => 100 + i);
  for (const steps of [4, 10, 24]) {
    const jobs = seeds.map((s) => ({ x0: image(s), cfg: cfgFor(s), stop: { steps } }));
    const enc = await encodeChains(model, jobs, tsBackend);
    let mse = 0, bits = 0;
    for (let i = 0; i < jobs.length; i++) {
      const rec = await reconstruct(model, enc[i].state, enc[i].alphaBar, model.n, { method: 'mse', steps: 1, table, key: jobs[i].cfg.key });
      for (let d = 0; d < model.n; d++) mse += (rec[d] - jobs[i].x0[d]) ** 2;
      bits += enc[i].payload.length * 8;
    }
    mse /= jobs.length;
    bits /= jobs.length;
    const bound = distortionRateTotal(model.lambda, bits);
    assert.ok(mse > bound, `steps ${steps}: mse ${mse} below D(R) ${bound} at ${bits} bits`);
    // ...and well below the prior's variance once bits are spent.
    if (bits > 32) assert.ok(mse < 0.8 * model.n, `steps ${steps}: mse ${mse} barely improved`);
  }
});

test('rate control: bit budget keeps the longest fitting prefix; timestep and step stops', async () => {
  const x0 = image(5);
  const [full] = await encodeChains(model, [{ x0, cfg: cfgFor(5) }], tsBackend);
  const cum = full.bitsPerStep.reduce<number[]>((a, b) => [...a, (a.at(-1) ?? 0) + b], []);
  const budget = cum[Math.floor(cum.length / 2)] + 0.5;
  const [cut] = await encodeChains(model, [{ x0, cfg: cfgFor(5), stop: { maxBits: budget } }], tsBackend);
  assert.equal(cut.records.length, Math.floor(cum.length / 2) + 1);
  assert.ok(cut.bitsPerStep.reduce((a, b) => a + b, 0) <= budget);
  const [byT] = await encodeChains(model, [{ x0, cfg: cfgFor(5), stop: { timestep: 500 } }], tsBackend);
  assert.ok(schedule.timesteps[byT.records.length - 1] <= 500 && schedule.timesteps[byT.records.length - 2] > 500);
  const [byN] = await encodeChains(model, [{ x0, cfg: cfgFor(5), stop: { steps: 3 } }], tsBackend);
  assert.equal(byN.records.length, 3);
  assert.deepEqual(byN.records, full.records.slice(0, 3));
});

test('protocol side information decodes without coded plans', async () => {
  const x0 = image(8);
  const protoParams = CodingParams.parse({ maxChunkBits: 10, paddingQuarterBits: 4, sideInfo: 'protocol' });
  const protocol = schedule.timesteps.map((_, j) => {
    const kl = model.expectedStepKlBits(j === 0 ? 0 : schedule.alphaBars[j - 1], schedule.alphaBars[j]);
    const chunks = Math.max(1, Math.ceil(kl / 9));
    return { chunks, k: Math.min(10, Math.ceil(kl / chunks + 1)) };
  });
  const cfg: ChainConfig = { schedule, params: protoParams, key: { seedLo: 8, seedHi: 8 }, protocol };
  const [enc] = await encodeChains(model, [{ x0, cfg }], tsBackend);
  const [dec] = await decodeChains(model, [{ payload: enc.payload, cfg, dims: model.n, stepsCoded: enc.records.length }]);
  assert.ok(sameBits(dec.state!, enc.state!));
});

test('flow and ancestral reconstructions are deterministic and better than the prior', async () => {
  const x0 = image(9);
  const cfg = cfgFor(9);
  const [enc] = await encodeChains(model, [{ x0, cfg, stop: { steps: 16 } }], tsBackend);
  for (const method of ['flow', 'ancestral', 'mse'] as const) {
    const a = await reconstruct(model, enc.state, enc.alphaBar, model.n, { method, steps: 8, table, key: cfg.key });
    const b = await reconstruct(model, enc.state, enc.alphaBar, model.n, { method, steps: 8, table, key: cfg.key });
    assert.ok(sameBits(a, b), method);
    const mse = a.reduce((s, v, d) => s + (v - x0[d]) ** 2, 0);
    assert.ok(mse < 0.9 * model.n, `${method}: mse ${mse}`);
  }
});
