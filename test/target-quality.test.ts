/**
 * Rate control by quality (src/pipeline/target-quality.ts, diffc compress --target-quality): the
 * search finds the shortest prefix reaching a target with few decodes, in both directions of a
 * metric; and the CLI's file decodes (diffc decompress) to exactly its --recon, which reaches the
 * target while the prefix one step shorter does not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './helpers/cli.js';
import { loadImage, saveImage } from '../src/image/io.js';
import { resize } from '../src/image/geometry.js';
import { psnr } from '../src/eval/metrics.js';
import { QualityTargetSpec, shortestPrefixMeeting } from '../src/pipeline/target-quality.js';

test('the shortest prefix reaching a target, in about log2(steps) + 1 decodes', async () => {
  const score = (s: number) => 10 + s; // grows with steps
  for (const [want, steps] of [[15, 5], [10.5, 1], [11, 1], [38, 28], [12.2, 3]] as const) {
    const r = await shortestPrefixMeeting(28, { metric: 'psnr', value: want }, async (s) => score(s));
    assert.equal(r.steps, steps, `target ${want}`);
    assert.ok(r.met && r.score >= want);
    assert.ok(r.tried.length <= 6, `${r.tried.length} decodes`);
  }
  const short = await shortestPrefixMeeting(28, { metric: 'psnr', value: 40 }, async (s) => score(s));
  assert.deepEqual([short.steps, short.met, short.tried.length], [28, false, 1], 'never reached: all of it, one decode');
  // A distance (lower is better): reached at or below the value.
  const ba = await shortestPrefixMeeting(20, { metric: 'butteraugli', value: 4 }, async (s) => 24 - s);
  assert.equal(ba.steps, 20);
  assert.equal((await shortestPrefixMeeting(20, { metric: 'butteraugli', value: 10 }, async (s) => 24 - s)).steps, 14);
});

test('targets parse as METRIC=VALUE; anything else says what is expected', () => {
  assert.deepEqual(QualityTargetSpec.parse('ssimulacra2=60'), { metric: 'ssimulacra2', value: 60 });
  assert.deepEqual(QualityTargetSpec.parse('ms-ssim=0.92'), { metric: 'ms-ssim', value: 0.92 });
  for (const bad of ['ssim=3', 'psnr', 'psnr=', 'psnr=x', '=3']) assert.equal(QualityTargetSpec.safeParse(bad).success, false, bad);
});

const photo = '.cache/photos/coffee.png';
test('diffc compress --target-quality psnr: the file decodes to its recon, which is the shortest prefix reaching it', { skip: existsSync(photo) ? false : 'needs the photos: bash scripts/fetch-photos.sh' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'diffc-tq-'));
  const src = join(dir, 'in.png');
  await saveImage(resize(await loadImage(photo), 160, 96), src);
  const original = await loadImage(src);
  const r = await runCli(['compress', src, '-o', join(dir, 'a.dfc'), '--target-quality', 'psnr=22.5', '--recon', join(dir, 'recon.png'), '--json', '-q']);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out.trim().split('\n').at(-1)!);
  assert.equal(j.target_quality.target_met, true, JSON.stringify(j));
  assert.ok(j.steps < j.target_quality.steps_coded, `${j.steps} of ${j.target_quality.steps_coded} steps`);
  assert.equal(j.bytes, readFileSync(join(dir, 'a.dfc')).length);
  assert.equal((await runCli(['decompress', join(dir, 'a.dfc'), '-o', join(dir, 'dec.png')])).code, 0);
  assert.ok(readFileSync(join(dir, 'dec.png')).equals(readFileSync(join(dir, 'recon.png'))), 'decode == recon');
  const got = psnr(original, await loadImage(join(dir, 'dec.png')));
  assert.ok(got >= 22.5 && Math.abs(got - j.target_quality.reached) < 1e-3, `PSNR ${got}`);
  // One step less falls short (the bisection's neighbour).
  assert.equal((await runCli(['decompress', join(dir, 'a.dfc'), '-o', join(dir, 'less.png'), '--upto-step', String(j.steps - 1)])).code, 0);
  assert.ok(psnr(original, await loadImage(join(dir, 'less.png'))) < 22.5);
  // Out of reach: the whole chain, said so.
  const far = await runCli(['compress', src, '-o', join(dir, 'b.dfc'), '--target-quality', 'psnr=80', '--steps', '6', '--json', '-q']);
  assert.equal(far.code, 0, far.err);
  const fj = JSON.parse(far.out.trim().split('\n').at(-1)!);
  assert.deepEqual([fj.steps, fj.target_quality.target_met], [6, false]);
  assert.equal((await runCli(['compress', src, '-o', join(dir, 'c.dfc'), '--target-quality', 'sharpness=3'])).code, 2);
  // A perceptual target without its tool: a clear error, non-zero exit, nothing written.
  const saved = process.env.DIFFC_TOOLS_DIR;
  process.env.DIFFC_TOOLS_DIR = '/nonexistent';
  try {
    const miss = await runCli(['compress', src, '-o', join(dir, 'd.dfc'), '--target-quality', 'ssimulacra2=50']);
    assert.notEqual(miss.code, 0);
    assert.match(miss.err, /ssimulacra2_rs not found/);
    assert.ok(!existsSync(join(dir, 'd.dfc')));
  } finally {
    if (saved === undefined) delete process.env.DIFFC_TOOLS_DIR; else process.env.DIFFC_TOOLS_DIR = saved;
  }
});
