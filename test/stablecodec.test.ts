/**
 * The `stablecodec` family through the CLI with the project's test bundle (models/test/stablecodec,
 * scripts/stablecodec/export-bundle.py --test-fixtures; parity with the original in
 * stablecodec-parity.test.ts): the whole code is .dfc field 17 with no chain steps; diffc
 * decompress equals the encoder's reconstruction (the one-step UNet tiled, as at 300x200 padded
 * to 512x256); its group streams decode bit-exactly with every scale 1 ulp away; rate controls
 * are refused; a damaged, truncated or missing condition is a typed error with exit 1; diffc eval
 * puts it beside the default model.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './helpers/cli.js';
import { testImage } from './helpers/workflows.js';
import { saveImage } from '../src/image/io.js';
import { readDfc, writeDfc } from '../src/codec/format/index.js';
import { loadModel } from '../src/pipeline/model-context.js';
import { fileCondition } from '../src/pipeline/conditioning.js';
import { decodeGaussian, EntropyError } from '../src/codec/entropy/learned/index.js';
import { isModelError } from '../src/models/errors.js';
import { readStreams, writeStreams } from '../src/models/stablecodec/stream.js';
import type { StableCodecModel } from '../src/models/onnx/stablecodec.js';

const SC = new URL('../models/test/stablecodec', import.meta.url).pathname;

async function compressed() {
  const dir = mkdtempSync(join(tmpdir(), 'diffc-sc-'));
  await saveImage(testImage(300, 200, 5), join(dir, 'a.png'));
  const r = await runCli(['compress', join(dir, 'a.png'), '-o', join(dir, 'a.dfc'), '--model', SC, '--recon', join(dir, 'recon.png'), '--json', '-q']);
  assert.equal(r.code, 0, r.err);
  return { dir, result: JSON.parse(r.out.trim().split('\n').at(-1)!), bytes: readFileSync(join(dir, 'a.dfc')) };
}

const ulp = (v: number, dir: 1 | -1) => {
  const f = new Float32Array([v]), u = new Int32Array(f.buffer);
  u[0] += (v >= 0 ? dir : -dir);
  return f[0];
};

test('stablecodec: one file of field 17 and no steps; decompress equals the encoder\'s reconstruction; groups decode with scales 1 ulp away', async () => {
  const { dir, result, bytes } = await compressed();
  assert.equal(result.steps, 0);
  const f = readDfc(bytes);
  assert.equal(f.header.stepsCoded, 0);
  assert.equal(f.payload.length, 0);
  assert.deepEqual([f.header.latent.width, f.header.latent.height], [64, 32], 'padded to 512x256');
  const info = JSON.parse((await runCli(['info', join(dir, 'a.dfc'), '--json'])).out);
  assert.equal(info.condition_bytes, f.header.condition!.length);
  const d = await runCli(['decompress', join(dir, 'a.dfc'), '-o', join(dir, 'dec.png'), '--model', SC, '-q']);
  assert.equal(d.code, 0, d.err);
  assert.ok(readFileSync(join(dir, 'dec.png')).equals(readFileSync(join(dir, 'recon.png'))), 'decode == recon');
  // Another device's scales: every one 1 ulp up, then down, still parses every symbol.
  const lm = await loadModel(SC);
  try {
    const model = lm.model as StableCodecModel;
    const dec = await model.decodeLatentCodec(f.header.condition!, 512, 256);
    const streams = readStreams(f.header.condition!);
    for (const [k, g] of dec.groups.entries()) {
      for (const dir of [1, -1] as const) {
        const moved = Float32Array.from(g.scales, (s) => ulp(s, dir));
        assert.deepEqual(decodeGaussian(streams.groups[k], moved, g.symbols.length), g.symbols, `group ${k}, scales ${dir > 0 ? '+' : '-'}1 ulp`);
      }
    }
  } finally {
    await lm.model.close();
  }
});

test('stablecodec: rate controls and other reconstructions are refused (exit 1, nothing written)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'diffc-sc-'));
  await saveImage(testImage(256, 256, 1), join(dir, 'a.png'));
  for (const [flags, said] of [[['--bpp', '0.05'], /bpp do not apply/], [['--steps', '3'], /steps do not apply/], [['--target-quality', 'psnr=20'], /a quality target do not apply/], [['--method', 'flow'], /method do not apply/]] as const) {
    const r = await runCli(['compress', join(dir, 'a.png'), '-o', join(dir, 'a.dfc'), '--model', SC, ...flags, '-q']);
    assert.equal(r.code, 1, `${flags.join(' ')}: ${r.err}`);
    assert.match(r.err, /one-step model/);
    assert.match(r.err, said);
  }
  assert.throws(() => readFileSync(join(dir, 'a.dfc')), /ENOENT/);
});

test('stablecodec: a damaged, truncated, padded or missing condition is a typed error', async () => {
  const { dir, bytes } = await compressed();
  const f = readDfc(bytes);
  const cond = f.header.condition!;
  const lm = await loadModel(SC);
  try {
    const bad = async (c: Uint8Array | undefined, check: (e: unknown) => boolean) => assert.rejects(fileCondition(lm.model, { ...f.header, condition: c }), check);
    const streams = readStreams(cond);
    const g3 = Uint8Array.from(streams.groups[3]);
    g3[Math.floor(g3.length / 2)] ^= 0x21;
    await bad(writeStreams({ z: streams.z, groups: [...streams.groups.slice(0, 3), g3] }), (e) => e instanceof EntropyError && e.code === 'desync');
    await bad(cond.subarray(0, cond.length - 3), (e) => e instanceof EntropyError && e.code === 'corrupt' && /do not parse/.test((e as Error).message));
    await bad(Uint8Array.from([...cond, 0]), (e) => e instanceof EntropyError && /after the StableCodec streams/.test((e as Error).message));
    await bad(Uint8Array.from([9, ...cond.subarray(1)]), (e) => e instanceof EntropyError && /version 9/.test((e as Error).message));
    await bad(undefined, (e) => isModelError(e, 'family') && /no coded condition/.test((e as Error).message));
    // Through the CLI, with a valid container CRC: exit 1 and the condition named.
    writeFileSync(join(dir, 'bad.dfc'), writeDfc({ header: { ...f.header, condition: cond.subarray(0, cond.length - 3) }, payload: f.payload }));
    const r = await runCli(['decompress', join(dir, 'bad.dfc'), '-o', join(dir, 'bad.png'), '--model', SC, '-q']);
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, /coded condition \(\.dfc field 17\) does not decode/);
    assert.throws(() => readFileSync(join(dir, 'bad.png')), /ENOENT/);
  } finally {
    await lm.model.close();
  }
});

test('diffc eval: a one-step model beside the default model, its one fixed-rate point at every target', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'diffc-sc-'));
  await saveImage(testImage(256, 256, 3), join(dir, 'a.png'));
  const r = await runCli(['eval', join(dir, 'a.png'), '--model', 'default', '--model', SC, '--bpp', '0.3,0.8', '--codecs', 'diffc,jpeg', '--out', join(dir, 'ev'), '--json', '-q']);
  assert.equal(r.code, 0, r.err);
  const s = JSON.parse(r.out.trim().split('\n').at(-1)!);
  const sc = s['diffc:test-stablecodec'];
  assert.equal(sc.length, 2);
  assert.equal(sc[0].bpp, sc[1].bpp, 'one rate');
  for (const p of sc) for (const k of ['bpp', 'psnr', 'msssim', 'encode_s', 'decode_s']) assert.equal(typeof p[k], 'number', `${k}: ${JSON.stringify(p)}`);
  assert.ok(sc[0].encode_s > 0, 'encode time covers the latent codec');
  assert.ok(s['diffc:diffc-default-lw-v2'][1].bpp > s['diffc:diffc-default-lw-v2'][0].bpp);
});
