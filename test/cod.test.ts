/**
 * The `cod` family (CoD-style conditional DiffC, src/models/onnx/cod.ts) with the project's test
 * bundle (models/test/cod, scripts/make-test-models.py --only cod): the coded condition travels
 * in .dfc field 17 before the chain; diffc decompress of the file and of its prefixes equals the
 * encoder's reconstruction; the chain runs on the condition (another image's condition decodes to
 * another image); a damaged or truncated condition, a file without one, and a model that is not
 * conditional are typed errors with a non-zero exit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './helpers/cli.js';
import { testImage } from './helpers/workflows.js';
import { saveImage } from '../src/image/io.js';
import { DfcError, readDfc, writeDfc } from '../src/codec/format/index.js';
import { loadModel } from '../src/pipeline/model-context.js';
import { fileCondition } from '../src/pipeline/conditioning.js';
import { EntropyError } from '../src/codec/entropy/learned/index.js';
import { isModelError } from '../src/models/errors.js';

const COD = new URL('../models/test/cod', import.meta.url).pathname;

async function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'diffc-cod-'));
  await saveImage(testImage(64, 48, 2), join(dir, 'a.png'));
  await saveImage(testImage(64, 48, 40), join(dir, 'b.png'));
  return dir;
}

test('cod: compress writes the coded condition; decompress and its prefixes equal the encoder\'s reconstruction', async () => {
  const dir = await setup();
  const r = await runCli(['compress', join(dir, 'a.png'), '-o', join(dir, 'a.dfc'), '--model', COD, '--steps', '4', '--recon', join(dir, 'recon.png'), '--json', '-q']);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out.trim().split('\n').at(-1)!);
  assert.equal(j.steps, 4);
  const file = readDfc(readFileSync(join(dir, 'a.dfc')));
  assert.ok(file.header.condition && file.header.condition.length > 0, 'field 17 is there');
  const info = JSON.parse((await runCli(['info', join(dir, 'a.dfc'), '--model', COD, '--json'])).out);
  assert.equal(info.condition_bytes, file.header.condition!.length);
  assert.equal(info.step_bits.length, 4);
  assert.equal((await runCli(['decompress', join(dir, 'a.dfc'), '-o', join(dir, 'dec.png'), '--model', COD, '-q'])).code, 0);
  assert.ok(readFileSync(join(dir, 'dec.png')).equals(readFileSync(join(dir, 'recon.png'))), 'decode == recon');
  // Every prefix decodes with the condition: the same as compressing with that many steps.
  for (const k of [1, 2]) {
    assert.equal((await runCli(['decompress', join(dir, 'a.dfc'), '-o', join(dir, `p${k}.png`), '--model', COD, '--upto-step', String(k), '-q'])).code, 0);
    assert.equal((await runCli(['compress', join(dir, 'a.png'), '-o', join(dir, `s${k}.dfc`), '--model', COD, '--steps', String(k), '--recon', join(dir, `s${k}.png`), '-q'])).code, 0);
    assert.ok(readFileSync(join(dir, `p${k}.png`)).equals(readFileSync(join(dir, `s${k}.png`))), `prefix ${k} == a ${k}-step encode`);
  }
  // A bpp budget counts the condition's bytes.
  const b = await runCli(['compress', join(dir, 'a.png'), '-o', join(dir, 'bpp.dfc'), '--model', COD, '--bpp', '0.3', '--json', '-q']);
  assert.equal(b.code, 0, b.err);
  assert.ok(JSON.parse(b.out.trim().split('\n').at(-1)!).bpp <= 0.3);
});

test('cod: the chain runs on the condition: another image\'s condition decodes to another image', async () => {
  const dir = await setup();
  for (const n of ['a', 'b']) assert.equal((await runCli(['compress', join(dir, `${n}.png`), '-o', join(dir, `${n}.dfc`), '--model', COD, '--steps', '3', '-q'])).code, 0);
  const a = readDfc(readFileSync(join(dir, 'a.dfc'))), b = readDfc(readFileSync(join(dir, 'b.dfc')));
  assert.ok(!Buffer.from(a.header.condition!).equals(Buffer.from(b.header.condition!)), 'the two images code different conditions');
  writeFileSync(join(dir, 'swapped.dfc'), writeDfc({ header: { ...a.header, condition: b.header.condition }, payload: a.payload }));
  for (const f of ['a', 'swapped']) {
    const r = await runCli(['decompress', join(dir, `${f}.dfc`), '-o', join(dir, `${f}-dec.png`), '--model', COD, '-q']);
    assert.equal(r.code, 0, r.err);
  }
  assert.ok(!readFileSync(join(dir, 'a-dec.png')).equals(readFileSync(join(dir, 'swapped-dec.png'))));
});

test('cod: a damaged or truncated condition, a missing one, or a model without one are typed errors', async () => {
  const dir = await setup();
  assert.equal((await runCli(['compress', join(dir, 'a.png'), '-o', join(dir, 'a.dfc'), '--model', COD, '--steps', '2', '-q'])).code, 0);
  const bytes = readFileSync(join(dir, 'a.dfc'));
  const f = readDfc(bytes);
  const cond = f.header.condition!;
  const lm = await loadModel(COD);
  try {
    // Rewritten with a valid container CRC, so only the condition's own checks can tell.
    const flipped = Uint8Array.from(cond);
    flipped[Math.floor(cond.length / 2)] ^= 0x10;
    await assert.rejects(fileCondition(lm.model, { ...f.header, condition: flipped }), (e: unknown) => e instanceof EntropyError);
    await assert.rejects(fileCondition(lm.model, { ...f.header, condition: cond.subarray(0, cond.length - 6) }), (e: unknown) => e instanceof EntropyError);
    await assert.rejects(fileCondition(lm.model, { ...f.header, condition: undefined }), (e: unknown) => isModelError(e, 'family') && /no coded condition/.test((e as Error).message));
    const dflt = await loadModel(undefined);
    await assert.rejects(fileCondition(dflt.model, f.header), (e: unknown) => e instanceof DfcError && e.code === 'model-mismatch');
    const own = { ...f.header, model: { id: dflt.model.info.id, hash: dflt.model.info.hash } };
    await assert.rejects(fileCondition(dflt.model, own), (e: unknown) => isModelError(e, 'family') && /not a conditional model/.test((e as Error).message));
    await dflt.model.close();
    // Through the CLI: non-zero exit, a message, no output.
    writeFileSync(join(dir, 'bad.dfc'), writeDfc({ header: { ...f.header, condition: flipped }, payload: f.payload }));
    const r = await runCli(['decompress', join(dir, 'bad.dfc'), '-o', join(dir, 'bad.png'), '--model', COD, '-q']);
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, /CRC|stream/);
    // A truncated file: the container says so first.
    writeFileSync(join(dir, 'cut.dfc'), bytes.subarray(0, bytes.length - 20));
    const cut = await runCli(['decompress', join(dir, 'cut.dfc'), '-o', join(dir, 'cut.png'), '--model', COD, '-q']);
    assert.equal(cut.code, 1);
    assert.match(cut.err, /truncated|checksum|payload/);
  } finally {
    await lm.model.close();
  }
});

test('diffc eval --model A --model B: families side by side with bpp, PSNR, MS-SSIM, encode and decode time', async () => {
  const dir = await setup();
  const r = await runCli(['eval', join(dir, 'a.png'), '--model', 'default', '--model', COD, '--bpp', '0.3,0.8', '--codecs', 'diffc,jpeg', '--out', join(dir, 'ev'), '--json', '-q']);
  assert.equal(r.code, 0, r.err);
  const s = JSON.parse(r.out.trim().split('\n').at(-1)!);
  assert.deepEqual(Object.keys(s).sort(), ['bd_rate', 'diffc:diffc-default-lw-v2', 'diffc:test-cod', 'jpeg']);
  for (const codec of ['diffc:diffc-default-lw-v2', 'diffc:test-cod', 'jpeg']) {
    for (const p of s[codec]) {
      for (const k of ['bpp', 'psnr', 'msssim', 'encode_s', 'decode_s']) assert.equal(typeof p[k], 'number', `${codec} ${k}: ${JSON.stringify(p)}`);
    }
  }
  // The first model's BD-rate against every other codec, the other model included.
  assert.deepEqual(Object.keys(s.bd_rate).sort(), ['diffc:test-cod', 'jpeg']);
  const again = await runCli(['eval', join(dir, 'a.png'), '--model', COD, '--model', COD, '--out', join(dir, 'ev2'), '-q']);
  assert.equal(again.code, 2);
  assert.match(again.err, /give each model once/);
});

test('cod: diffc schedule measure runs the chain on each image\'s condition', async () => {
  const dir = await setup();
  const r = await runCli(['schedule', 'measure', '-o', join(dir, 'kl.json'), join(dir, 'a.png'), '--model', COD, '-q']);
  assert.equal(r.code, 0, r.err);
  const kl = JSON.parse(readFileSync(join(dir, 'kl.json'), 'utf8'));
  assert.equal(kl.format, 'diffc-kl');
  assert.ok(kl.timesteps.length > 10);
});
