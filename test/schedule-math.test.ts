import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alphaBars, betas, SD_SCHEDULE } from '../src/codec/schedule/ddpm.js';
import {
  alphaBarAt, alphaBarFromFlowSigma, flowInputScale, flowSigmaFromAlphaBar, snrFromAlphaBar, timestepFromAlphaBar,
} from '../src/codec/schedule/noise-level.js';
import { fluxMu, fluxSeqLen, fluxSigmas, flowSigmasToAlphaBars, shiftSigma } from '../src/codec/schedule/flow.js';
import { posteriorCoefficients, klBits, standardisedOffset, diffuse } from '../src/codec/diffusion/step-math.js';
import { x0FromPrediction, epsFromX0, flowInput } from '../src/codec/diffusion/prediction.js';
import { GaussianImageModel } from '../src/codec/analytic/gaussian-image-model.js';
import { chainNoise } from '../src/codec/rcc/candidates.js';

const close = (a: number, b: number, tol: number, what = '') => assert.ok(Math.abs(a - b) <= tol, `${what} ${a} vs ${b}`);

test('DDPM schedules: SD scaled-linear endpoints, monotone alpha-bar, cosine', () => {
  const ab = alphaBars(SD_SCHEDULE);
  assert.equal(ab.length, 1000);
  close(ab[0], 1 - 0.00085, 1e-12, 'ab[0]');
  close(ab[999], 0.0046, 2e-4, 'ab[999]'); // SD's alphas_cumprod[-1] ≈ 0.00466
  close(betas(SD_SCHEDULE)[999], 0.012, 1e-12);
  for (let t = 1; t < 1000; t++) assert.ok(ab[t] < ab[t - 1]);
  const lin = alphaBars({ kind: 'linear', steps: 1000, betaStart: 1e-4, betaEnd: 0.02, cosineOffset: 0.008 });
  close(lin[999], 4.0358e-5, 1e-6, 'linear ab[999]');
  const cos = alphaBars({ kind: 'cosine', steps: 1000, betaStart: 1e-4, betaEnd: 0.02, cosineOffset: 0.008 });
  assert.ok(cos[0] > 0.9999 && cos[999] < 1e-6 && cos[500] > 0.4 && cos[500] < 0.6);
});

test('timestep <-> alpha-bar <-> SNR conversions are inverse to each other', () => {
  const ab = alphaBars(SD_SCHEDULE);
  for (const t of [0, 1, 17.5, 500, 998.25, 999]) close(timestepFromAlphaBar(ab, alphaBarAt(ab, t)), t, 1e-6, `t=${t}`);
  for (const a of [0.001, 0.3, 0.9]) {
    close(alphaBarFromFlowSigma(flowSigmaFromAlphaBar(a)), a, 1e-12);
    close(snrFromAlphaBar(a), a / (1 - a), 1e-12);
  }
});

test('flow mapping: the scaled DDPM latent is the flow latent at the same SNR (A.3)', () => {
  const x0 = 0.7, eps = -1.3;
  for (const ab of [0.05, 0.5, 0.95]) {
    const s = flowSigmaFromAlphaBar(ab);
    const xd = Math.sqrt(ab) * x0 + Math.sqrt(1 - ab) * eps;
    close(xd * flowInputScale(s), (1 - s) * x0 + s * eps, 1e-12, `ab=${ab}`);
    const fi = flowInput(new Float32Array([xd]), ab);
    close(fi.sigma, s, 1e-12);
  }
  close(fluxMu(256), 0.5, 1e-12);
  close(fluxMu(4096), 1.15, 1e-12);
  assert.equal(fluxSeqLen(1024, 1024), 4096);
  close(shiftSigma(0.5, 0), 0.5, 1e-12);
  const sig = fluxSigmas(28, 1024, 1024);
  assert.equal(sig[0], 1);
  for (let i = 1; i < sig.length; i++) assert.ok(sig[i] < sig[i - 1] && sig[i] > shiftSigma(1 - i / 28, 0));
  const abs = flowSigmasToAlphaBars(sig.slice(1));
  for (let i = 1; i < abs.length; i++) assert.ok(abs[i] > abs[i - 1]);
});

test('posterior coefficients match DDPM single-step formulas and the prior step', () => {
  const ab = alphaBars(SD_SCHEDULE), b = betas(SD_SCHEDULE);
  for (const t of [1, 100, 999]) {
    const c = posteriorCoefficients(ab[t], ab[t - 1]);
    close(c.cX0, (Math.sqrt(ab[t - 1]) * b[t]) / (1 - ab[t]), 1e-12);
    close(c.cXt, (Math.sqrt(1 - b[t]) * (1 - ab[t - 1])) / (1 - ab[t]), 1e-12);
    close(c.sigma ** 2, ((1 - ab[t - 1]) / (1 - ab[t])) * b[t], 1e-15);
  }
  const p = posteriorCoefficients(0, 0.3);
  close(p.cX0, Math.sqrt(0.3), 1e-15);
  assert.equal(p.cXt, 0);
  close(p.sigma ** 2, 0.7, 1e-15);
  assert.throws(() => posteriorCoefficients(0.5, 0.4), RangeError);
});

test('prediction converters recover x0 from eps, v and flow velocity', async () => {
  const base = new GaussianImageModel({ size: 4 });
  const x0true = base.sample(chainNoise({ seedLo: 1, seedHi: 1 }, 0, 0, 16));
  const eps = chainNoise({ seedLo: 2, seedHi: 2 }, 0, 0, 16);
  const x = diffuse(x0true, eps, 0.4);
  const want = base.posteriorMean(x, 0.4);
  for (const kind of ['eps', 'v', 'flow', 'x0'] as const) {
    const m = new GaussianImageModel({ size: 4, prediction: kind });
    const [pred] = await m.predict([{ x, alphaBar: 0.4 }]);
    const got = x0FromPrediction(kind, pred, x, 0.4);
    for (let i = 0; i < 16; i++) close(got[i], want[i], 1e-5, kind);
  }
  const e = epsFromX0(x0true, x, 0.4);
  for (let i = 0; i < 16; i++) close(e[i], eps[i], 1e-5, 'eps');
});

test('KL in bits: closed-form expectation matches Monte Carlo on the analytic source', async () => {
  const m = new GaussianImageModel({ size: 8 });
  const ab = alphaBars(SD_SCHEDULE);
  const [tFrom, tTo] = [600, 400];
  const c = posteriorCoefficients(ab[tFrom], ab[tTo]);
  let sum = 0;
  const trials = 300;
  for (let i = 0; i < trials; i++) {
    const x0 = m.sample(chainNoise({ seedLo: i, seedHi: 9 }, 0, 0, m.n));
    const xt = diffuse(x0, chainNoise({ seedLo: i, seedHi: 10 }, 0, 0, m.n), ab[tFrom]);
    sum += klBits(standardisedOffset(c, x0, m.posteriorMean(xt, ab[tFrom])));
  }
  const expected = m.expectedStepKlBits(ab[tFrom], ab[tTo]);
  close(sum / trials, expected, 0.08 * expected, 'mean KL');
});
