/**
 * BD-rate with PCHIP (src/eval/bd-rate.ts) against fixed vectors: the published example of the
 * FAU-LMS `bjontegaard` package (libx265 presets, its README; its PCHIP matches the JVET CTC
 * Excel sheet to 10 decimals), evaluated with bjontegaard 1.3.0 / SciPy 1.17.1:
 *   bd.bd_rate(ra, pa, rt, pt, method='pchip'), bd.bd_psnr(...), and a lower-is-better curve
 *   passed negated with require_matching_points=False.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bdQuality, bdRate, BdRateError, Pchip, type RdPoint } from '../src/eval/bd-rate.js';

const pts = (rates: number[], q: number[]): RdPoint[] => rates.map((rate, i) => ({ rate, quality: q[i] }));
const anchor = pts([9487.76, 4593.6, 2486.44, 1358.24], [40.037, 38.615, 36.845, 34.851]);
const testCurve = pts([9787.8, 4469.0, 2451.52, 1356.24], [40.121, 38.651, 36.97, 34.987]);
const close = (got: number | null, want: number, what: string) => assert.ok(got !== null && Math.abs(got - want) < 1e-9, `${what}: ${got} vs ${want}`);

test('BD-rate and BD-PSNR of the published example equal the reference implementation\'s', () => {
  close(bdRate(anchor, testCurve).value, -4.417485350589045, 'BD-rate %');
  close(bdQuality(anchor, testCurve).value, 0.11969278542479489, 'BD-PSNR dB');
  // Point order does not matter; swapping the curves inverts the rate ratio.
  close(bdRate([...anchor].reverse(), testCurve).value, -4.417485350589045, 'reversed input');
  const back = bdRate(testCurve, anchor).value!;
  assert.ok(Math.abs((1 + back / 100) * (1 - 0.04417485350589045) - 1) < 0.002, `inverse: ${back}`);
});

test('a lower-is-better metric with unequal point counts (Butteraugli-like)', () => {
  const a = pts([0.03, 0.06, 0.12], [9.1, 7.2, 5.0]);
  const t = pts([0.02, 0.045, 0.09, 0.18], [8.8, 7.0, 5.6, 4.1]);
  close(bdRate(a, t, { lowerIsBetter: true }).value, -26.69221810570238, 'BD-rate %');
  const q = bdQuality(a, t, { lowerIsBetter: true }).value!;
  assert.ok(q < 0, `test has lower (better) scores at equal rate: ${q}`);
});

test('identical curves give 0; disjoint ones no value; bad points a typed error', () => {
  close(bdRate(anchor, anchor).value, 0, 'self');
  const far = pts([1, 2], [10, 11]);
  const r = bdRate(anchor, far);
  assert.equal(r.value, null);
  assert.equal(r.overlap, 0);
  assert.throws(() => bdRate(anchor.slice(0, 1), testCurve), BdRateError);
  // A point repeated exactly is one measurement (a baseline at its floor for two targets).
  close(bdRate([anchor[0], ...anchor], testCurve).value, -4.417485350589045, 'a repeated point');
  assert.throws(() => bdRate([anchor[0], anchor[0]], testCurve), BdRateError, 'one distinct point');
  assert.throws(() => bdRate(pts([1, 2, 3], [30, 30, 31]), testCurve), BdRateError, 'a repeated quality');
  assert.throws(() => bdRate(pts([0, 2], [30, 31]), testCurve), BdRateError, 'a zero rate');
});

test('PCHIP keeps monotone data monotone and integrates a line exactly', () => {
  const line = new Pchip([0, 1, 3, 4], [1, 3, 7, 9]);
  assert.ok(Math.abs(line.integrate(0, 4) - 20) < 1e-12);
  assert.ok(Math.abs(line.integrate(0.5, 3.5) - (3.5 * 3.5 + 3.5 - 0.25 - 0.5)) < 1e-12);
  const step = new Pchip([0, 1, 2, 3], [0, 0, 1, 1]);
  assert.ok(Math.abs(step.integrate(0, 1)) < 1e-15, 'flat where the data is flat');
});
