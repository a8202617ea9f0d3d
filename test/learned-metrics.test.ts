/**
 * LPIPS and DISTS from metric bundles (src/eval/learned.ts). The test bundles under
 * test/fixtures/metrics/ are the original lpips.LPIPS and DISTS_pytorch.DISTS modules with narrow
 * random-init torchvision backbones, exported by scripts/metrics/export-metric-bundle.py, which
 * also recorded what PyTorch computes on two fixed image pairs: diffc's runner must agree. Bad
 * bundles are typed errors; diffc eval scores, averages and BD-rates both when given them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadLearnedMetric, LEARNED_METRICS } from '../src/eval/learned.js';
import { loadImage, saveImage } from '../src/image/io.js';
import { isModelError } from '../src/models/errors.js';
import { main } from '../src/cli/main.js';
import { testImage } from './helpers/workflows.js';

const FIX = new URL('./fixtures/metrics/', import.meta.url).pathname;
const expected = JSON.parse(readFileSync(join(FIX, 'expected.json'), 'utf8')).expected as Record<string, Record<string, { distance: number; identical: number }>>;

test('LPIPS and DISTS bundles give PyTorch\'s distances on fixed pairs; identical images score ~0', async () => {
  for (const metric of LEARNED_METRICS) {
    const m = await loadLearnedMetric(join(FIX, metric), metric);
    try {
      for (const pair of ['smooth', 'noise']) {
        const ref = await loadImage(join(FIX, `${pair}-ref.png`)), dist = await loadImage(join(FIX, `${pair}-dist.png`));
        const want = expected[metric][pair];
        const got = await m.score(ref, dist);
        assert.ok(Math.abs(got - want.distance) <= 1e-5 + 1e-4 * Math.abs(want.distance), `${metric} ${pair}: ${got} vs PyTorch ${want.distance}`);
        assert.ok(Math.abs(await m.score(ref, ref)) < 1e-5, `${metric} of an image with itself`);
      }
      // The two pairs are ordered as PyTorch orders them (a blurred copy is nearer than other noise).
      assert.ok(expected[metric].smooth.distance < expected[metric].noise.distance);
      await assert.rejects(m.score(testImage(64, 48), testImage(60, 48)), /differ in size/);
    } finally {
      await m.close();
    }
  }
});

test('bad bundles: missing, the other metric, a changed graph, a bad manifest: ModelErrors that say what to do', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'diffc-lm-'));
  await assert.rejects(loadLearnedMetric(join(dir, 'none'), 'lpips'), (e: unknown) => isModelError(e, 'not-found') && /export-metric-bundle\.py/.test((e as Error).message) && /nothing is downloaded/.test((e as Error).message));
  await assert.rejects(loadLearnedMetric(join(FIX, 'dists'), 'lpips'), (e: unknown) => isModelError(e, 'manifest') && /a dists bundle .*not lpips/.test((e as Error).message));
  const copy = join(dir, 'lpips');
  cpSync(join(FIX, 'lpips'), copy, { recursive: true });
  const g = readFileSync(join(copy, 'model.onnx'));
  g[g.length - 10] ^= 1;
  writeFileSync(join(copy, 'model.onnx'), g);
  await assert.rejects(loadLearnedMetric(copy, 'lpips'), (e: unknown) => isModelError(e, 'checksum'));
  writeFileSync(join(copy, 'manifest.json'), JSON.stringify({ format: 'diffc-metric', version: 1, metric: 'lpips' }));
  await assert.rejects(loadLearnedMetric(copy, 'lpips'), (e: unknown) => isModelError(e, 'manifest') && /graph/.test((e as Error).message));
});

test('diffc eval --lpips --dists: per-codec lpips and dists, their BD-rate, and a clear error for a bad bundle', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'diffc-lme-'));
  await saveImage(testImage(64, 48, 3), join(dir, 'a.png'));
  const out: string[] = [], err: string[] = [];
  const code = await main(['eval', join(dir, 'a.png'), '--bpp', '0.3,0.8', '--codecs', 'diffc,jpeg', '--out', join(dir, 'out'), '--lpips', join(FIX, 'lpips'), '--dists', join(FIX, 'dists'), '--json', '-q'], (s) => out.push(s), (s) => err.push(s));
  assert.equal(code, 0, err.join('\n'));
  const summary = JSON.parse(out.at(-1)!);
  for (const codec of ['diffc', 'jpeg']) {
    for (const p of summary[codec]) {
      assert.ok(typeof p.lpips === 'number' && p.lpips >= 0 && typeof p.dists === 'number', `${codec}: ${JSON.stringify(p)}`);
    }
  }
  assert.ok('lpips' in summary.bd_rate.jpeg && 'dists' in summary.bd_rate.jpeg, JSON.stringify(summary.bd_rate));
  const rows = JSON.parse(readFileSync(join(dir, 'out', 'results.json'), 'utf8')).rows;
  assert.ok(rows.every((r: { lpips: unknown }) => typeof r.lpips === 'number'));
  // Without bundles the columns are there, null.
  const plain: string[] = [];
  assert.equal(await main(['eval', join(dir, 'a.png'), '--bpp', '0.3', '--codecs', 'diffc', '--out', join(dir, 'out2'), '--json', '-q'], (s) => plain.push(s), () => undefined), 0);
  assert.deepEqual([JSON.parse(plain.at(-1)!).diffc[0].lpips, JSON.parse(plain.at(-1)!).diffc[0].dists], [null, null]);
  // A bundle of the wrong metric fails before any encode, non-zero, saying why.
  const bad: string[] = [];
  assert.notEqual(await main(['eval', join(dir, 'a.png'), '--bpp', '0.3', '--out', join(dir, 'out3'), '--lpips', join(FIX, 'dists'), '-q'], () => undefined, (s) => bad.push(s)), 0);
  assert.match(bad.join('\n'), /a dists bundle/);
});
