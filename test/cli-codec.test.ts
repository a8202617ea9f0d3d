/**
 * The diffc CLI end to end on the embedded default model (in-process, real files).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, readdirSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { runCli } from './helpers/cli.js';
import { saveImage, loadImage } from '../src/image/io.js';
import { resize } from '../src/image/geometry.js';

const photo = '.cache/photos/coffee.png';
const skip = existsSync(photo) ? false : (process.env.CI === 'true' ? false : 'test photos missing: run bash scripts/fetch-photos.sh');
const dir = mkdtempSync(join(tmpdir(), 'diffc-cli-'));
const input = join(dir, 'in.png');

const run = runCli;

test('compress -> decompress: byte-identical to --recon; info --json; progressive prefixes', { skip }, async () => {
  // A 150x100 crop-size photo keeps the test quick; odd sizes exercise padding and cropping.
  await saveImage(resize(await loadImage(photo), 150, 100), input);
  const dfc = join(dir, 'a.dfc'), recon = join(dir, 'recon.png'), dec = join(dir, 'dec.png');
  const c = await run(['compress', input, '-o', dfc, '--bpp', '0.3', '--recon', recon, '--json', '-q']);
  assert.equal(c.code, 0, c.err);
  const cj = JSON.parse(c.out);
  assert.ok(cj.bpp <= 0.3 && cj.bpp > 0.1, `bpp ${cj.bpp}`);
  const d = await run(['decompress', dfc, '-o', dec, '-q']);
  assert.equal(d.code, 0, d.err);
  assert.ok(readFileSync(dec).equals(readFileSync(recon)), 'decoded PNG is byte-identical to --recon');
  const out = await loadImage(dec);
  assert.equal(out.width, 150);
  assert.equal(out.height, 100);
  const info = await run(['info', dfc, '--json']);
  assert.equal(info.code, 0, info.err);
  const ij = JSON.parse(info.out);
  assert.equal(ij.bytes, readFileSync(dfc).length);
  assert.equal(ij.width, 150);
  assert.equal(ij.steps, cj.steps);
  assert.ok(Math.abs(ij.bpp - cj.bpp) < 1e-4 && ij.model === 'diffc-default-lw-v2');
  assert.equal(ij.step_bits.length, cj.steps);
  // Each step's chunk plan: C chunks of 2^k candidates, within the latent's size and the chunk cap.
  const dims = ij.latent.channels * ij.latent.height * ij.latent.width;
  for (const s of ij.step_bits as { chunks: number; k: number; bits: number }[]) {
    assert.ok(Number.isInteger(s.chunks) && s.chunks >= 1 && s.chunks <= dims, `chunks ${s.chunks}`);
    assert.ok(Number.isInteger(s.k) && s.k >= 0 && s.k <= ij.coding.maxChunkBits, `k ${s.k}`);
  }
  assert.ok((ij.step_bits as { chunks: number }[]).at(-1)!.chunks > 1, 'the late steps need several chunks');
  // A prefix decodes to a different (lower-rate) image; --upto-bpp picks a prefix within budget.
  const half = Math.max(1, Math.floor(cj.steps / 2));
  const p1 = join(dir, 'p1.png');
  assert.equal((await run(['decompress', dfc, '-o', p1, '--upto-step', String(half), '-q'])).code, 0);
  assert.ok(!readFileSync(p1).equals(readFileSync(dec)));
  const p2 = join(dir, 'p2.png');
  const r = await run(['decompress', dfc, '-o', p2, '--upto-bpp', '0.1', '--json', '-q']);
  assert.equal(r.code, 0, r.err);
  assert.ok(JSON.parse(r.out).steps < cj.steps);
});

test('bad input: truncated .dfc, unreadable image, existing output, bad parameters', { skip }, async () => {
  if (!existsSync(input)) await saveImage(resize(await loadImage(photo), 150, 100), input);
  const dfc = join(dir, 'b.dfc');
  assert.equal((await run(['compress', input, '-o', dfc, '--steps', '4', '-q'])).code, 0);
  const bytes = readFileSync(dfc);
  const cut = join(dir, 'cut.dfc');
  writeFileSync(cut, bytes.subarray(0, bytes.length - 7));
  const outPng = join(dir, 'never.png');
  const t = await run(['decompress', cut, '-o', outPng, '-q']);
  assert.equal(t.code, 1);
  assert.match(t.err, /truncated|corrupt/);
  assert.ok(!existsSync(outPng), 'no output file after a refused input');
  // Existing output: refused without --force, nothing changed; accepted with it.
  writeFileSync(join(dir, 'exists.dfc'), 'keep me');
  const e = await run(['compress', input, '-o', join(dir, 'exists.dfc'), '--steps', '2', '-q']);
  assert.equal(e.code, 1);
  assert.equal(readFileSync(join(dir, 'exists.dfc'), 'utf8'), 'keep me');
  assert.equal((await run(['compress', input, '-o', join(dir, 'exists.dfc'), '--steps', '2', '-q', '--force'])).code, 0);
  // Not an image.
  writeFileSync(join(dir, 'notimage.png'), 'hello');
  const u = await run(['compress', join(dir, 'notimage.png'), '-o', join(dir, 'u.dfc'), '-q']);
  assert.equal(u.code, 1);
  assert.match(u.err, /not a readable image|unsupported/);
  assert.ok(!existsSync(join(dir, 'u.dfc')));
  // Nonsense parameters are usage errors.
  for (const args of [['--bpp', '-1'], ['--bpp', '0.1', '--steps', '3'], ['--backend', 'gpu'], ['--timestep', '5000'], ['--seed', 'x']]) {
    const r = await run(['compress', input, '-o', join(dir, 'p.dfc'), ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
  }
  assert.equal((await run(['decompress', dfc])).code, 2);
  assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.tmp')), []);
});

test('eval on a folder writes CSV, JSON and SVG and prints a per-codec summary', { skip }, async () => {
  const folder = join(dir, 'photos');
  mkdirSync(folder, { recursive: true });
  await saveImage(resize(await loadImage(photo), 96, 64), join(folder, 'one.png'));
  const outDir = join(dir, 'eval');
  const r = await run(['eval', folder, '--bpp', '0.2,0.5', '--out', outDir, '--json', '-q']);
  assert.equal(r.code, 0, r.err);
  const summary = JSON.parse(r.out.trim().split('\n').at(-1)!);
  for (const codec of ['diffc', 'jpeg', 'webp', 'avif']) {
    assert.equal(summary[codec].length, 2, codec);
    for (const p of summary[codec]) assert.ok(p.bpp > 0 && Number.isFinite(p.psnr), `${codec} ${JSON.stringify(p)}`);
  }
  assert.ok(summary.diffc[1].psnr > summary.diffc[0].psnr);
  // diffc's BD-rate against each baseline per metric: a number, or null where curves do not overlap.
  const baselines = Object.keys(summary).filter((k) => k !== 'diffc' && k !== 'bd_rate').sort();
  assert.ok(['avif', 'jpeg', 'webp'].every((c) => baselines.includes(c)), baselines.join());
  assert.deepEqual(Object.keys(summary.bd_rate).sort(), baselines);
  // SSIMULACRA 2 and Butteraugli where their tools are (CI: always, scripts/fetch-eval-tools.sh).
  const perceptual = ['butteraugli', 'ssimulacra2'].filter((k) => summary.diffc[0][k] !== null);
  if (process.env.DIFFC_REQUIRE_EVAL_TOOLS === '1') assert.deepEqual(perceptual, ['butteraugli', 'ssimulacra2']);
  for (const k of perceptual) for (const c of baselines) assert.ok(Number.isFinite(summary[c][0][k]), `${c} ${k}`);
  for (const [anchor, m] of Object.entries(summary.bd_rate as Record<string, Record<string, number | null>>)) {
    assert.deepEqual(Object.keys(m).sort(), [...perceptual, 'msssim', 'psnr'].sort(), anchor);
    for (const v of Object.values(m)) assert.ok(v === null || Number.isFinite(v), `${anchor}: ${v}`);
  }
  assert.deepEqual(JSON.parse(readFileSync(join(outDir, 'results.json'), 'utf8')).bd_rate, summary.bd_rate);
  for (const f of ['results.csv', 'results.json', 'rd.svg']) assert.ok(existsSync(join(outDir, f)), f);
  assert.match(readFileSync(join(outDir, 'rd.svg'), 'utf8'), /<svg/);
});

test('the bin launcher runs: --help exits 0, a bad verb exits 2', () => {
  const h = spawnSync(process.execPath, ['bin/diffc.js', '--help'], { encoding: 'utf8' });
  assert.equal(h.status, 0);
  assert.match(h.stdout, /compress/);
  assert.equal(spawnSync(process.execPath, ['bin/diffc.js', 'frobnicate'], { encoding: 'utf8' }).status, 2);
  const c = spawnSync(process.execPath, ['bin/diffc.js', 'compress', '--help'], { encoding: 'utf8' });
  assert.equal(c.status, 0);
  assert.match(c.stdout, /--bpp X/);
});

test('compress takes folders and globs: one .dfc per image in the output directory, bad files reported', { skip }, async () => {
  const src = join(dir, 'batch');
  mkdirSync(src, { recursive: true });
  const small = resize(await loadImage(photo), 48, 40);
  await saveImage(small, join(src, 'a.png'));
  await saveImage(small, join(src, 'b.png'));
  writeFileSync(join(src, 'c.png'), 'not an image');
  const outDir = join(dir, 'batch-out');
  const r = await run(['compress', src, '-o', outDir, '--steps', '3', '--json', '-q']);
  assert.equal(r.code, 1, 'one bad input makes the exit code 1');
  const j = JSON.parse(r.out);
  assert.equal(j.failed, 1);
  assert.deepEqual(readdirSync(outDir).sort(), ['a.dfc', 'b.dfc']);
  const g = await run(['compress', join(src, '?.png').replace('?.png', 'a*.png'), '-o', join(dir, 'glob-out'), '--steps', '2', '-q']);
  assert.equal(g.code, 0, g.err);
  assert.deepEqual(readdirSync(join(dir, 'glob-out')), ['a.dfc']);
  const d = await run(['decompress', outDir, '-o', join(dir, 'batch-dec'), '-q']);
  assert.equal(d.code, 0, d.err);
  assert.deepEqual(readdirSync(join(dir, 'batch-dec')).sort(), ['a.png', 'b.png']);
});
