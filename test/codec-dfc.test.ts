import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GaussianImageModel } from '../src/codec/analytic/gaussian-image-model.js';
import { alphaBars, SD_SCHEDULE } from '../src/codec/schedule/ddpm.js';
import { scheduleFromId } from '../src/codec/schedule/timesteps.js';
import { CodingParams, protocolPlans } from '../src/codec/chain/chunk-plan.js';
import { compressLatents, decompressLatents, truncateDfc, stepBits, decodeCodingBlob, encodeCodingBlob, type DecodeContext } from '../src/codec/codec.js';
import { DfcError, readDfc } from '../src/codec/format/index.js';
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
const schedule = scheduleFromId(table, 'even:16:900');
const latent = model.sample(chainNoise({ seedLo: 3, seedHi: 3 }, 0, 1, model.n));
const job = { latent, image: { width: 8, height: 8, channels: 1 }, seed: { lo: 42, hi: 0 }, prompt: 'a test' };
const settings = { schedule, params, recon: { method: 'mse' as const, steps: 1 }, backend: tsBackend, protocol: ctx.protocol!(schedule, params) };

test('compress -> .dfc -> decompress gives the encoder state; header carries what decoding needs', async () => {
  const [c] = await compressLatents(model, [job], settings);
  const h = readDfc(c.bytes).header;
  assert.equal(h.stepsCoded, 16);
  assert.equal(h.prompt, 'a test');
  assert.deepEqual(decodeCodingBlob(h.coding).params, params);
  const [d] = await decompressLatents(model, [c.bytes], ctx);
  const expected = model.posteriorMean(c.chain.state!, c.chain.alphaBar);
  for (let i = 0; i < model.n; i++) assert.ok(Math.abs(d.latent[i] - expected[i]) < 1e-5);
  assert.equal(d.stepsDecoded, 16);
  const bits = stepBits(c.bytes, model, ctx);
  assert.equal(bits.length, 16);
  assert.ok(Math.abs(bits.reduce((a, b) => a + b, 0) - c.chain.bitsPerStep.reduce((a, b) => a + b, 0)) < 1e-9);
});

test('truncateDfc keeps a decodable prefix equal to progressive decoding', async () => {
  const [c] = await compressLatents(model, [job], settings);
  const small = truncateDfc(c.bytes, 6, model, ctx);
  assert.ok(small.length < c.bytes.length);
  const [a] = await decompressLatents(model, [small], ctx);
  const [b] = await decompressLatents(model, [c.bytes], ctx, { uptoSteps: 6 });
  assert.deepEqual(Array.from(a.latent), Array.from(b.latent));
  assert.equal(a.stepsDecoded, 6);
});

test('bad input: truncated, corrupt, wrong model, unknown schedule are typed DfcErrors', async () => {
  const [c] = await compressLatents(model, [job], settings);
  for (let cut = 0; cut < c.bytes.length; cut += 3) {
    await assert.rejects(decompressLatents(model, [c.bytes.subarray(0, cut)], ctx), (e: unknown) => e instanceof DfcError);
  }
  const other = new GaussianImageModel({ size: 8, exponent: 3 });
  await assert.rejects(decompressLatents(other, [c.bytes], ctx), (e: unknown) => e instanceof DfcError && e.code === 'model-mismatch');
  await assert.rejects(decompressLatents(model, [c.bytes], { ...ctx, schedule: () => { throw new Error('nope'); } }), (e: unknown) => e instanceof DfcError);
  assert.throws(() => decodeCodingBlob(new Uint8Array([9])), (e: unknown) => e instanceof DfcError && e.code === 'version');
  assert.deepEqual(decodeCodingBlob(encodeCodingBlob({ ...params, paddingQuarterBits: -3 }, false)).params.paddingQuarterBits, -3);
});

test('fuzz: payload mutations behind a valid CRC decode or fail with DfcError, never anything else', async () => {
  const { writeDfc } = await import('../src/codec/format/index.js');
  const [c] = await compressLatents(model, [job], settings);
  const file = readDfc(c.bytes);
  const rounds = process.env.DIFFC_LONG ? 20_000 : 300;
  let seed = 12345;
  const rnd = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
  let ok = 0, rejected = 0;
  for (let r = 0; r < rounds; r++) {
    const p = file.payload.slice();
    const kind = rnd(3);
    if (kind === 0) p[rnd(p.length)] ^= 1 << rnd(8);
    else if (kind === 1) for (let i = 0; i < p.length; i++) p[i] = rnd(256);
    const payload = kind === 2 ? p.subarray(0, rnd(p.length)) : p;
    const bytes = writeDfc({ header: file.header, payload });
    try {
      const [d] = await decompressLatents(model, [bytes], ctx);
      assert.equal(d.latent.length, model.n);
      ok++;
    } catch (e) {
      assert.ok(e instanceof DfcError, `unexpected ${(e as Error).name}: ${(e as Error).message}`);
      rejected++;
    }
  }
  assert.equal(ok + rejected, rounds);
});

test('stepsWithinBpp: the longest prefix that fits, counting the file\'s fixed bits', async () => {
  const { stepsWithinBpp } = await import('../src/codec/codec.js');
  // 20 bytes = 160 bits, of which 100 are steps: 60 fixed bits.
  const bits = [10, 20, 30, 40];
  assert.equal(stepsWithinBpp(20, bits, 10, 6), 0); // 60 fixed bits already fill 6 bpp over 10 px
  assert.equal(stepsWithinBpp(20, bits, 10, 7), 1); // 70
  assert.equal(stepsWithinBpp(20, bits, 10, 10.9), 2); // 90 <= 109 < 120
  assert.equal(stepsWithinBpp(20, bits, 10, 16), 4);
});
