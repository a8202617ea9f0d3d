/**
 * Guidance and prompts end to end (in-process CLI, real files, the tiny ONNX test bundles): the
 * encode guidance and denoise guidance given to `diffc compress` land in the .dfc header, the
 * decoder takes them from there alone (decode == the encoder's --recon byte for byte), changing
 * them changes the reconstruction, `diffc info --json` shows them, and files without the header
 * field (the first v1 writers) decode with their family's legacy values. Last, the settings'
 * way into the workflows (submit's job id, the trigger's jobs, the job schemas).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from './helpers/cli.js';
import { saveImage } from '../src/image/io.js';
import { readDfc, writeDfc } from '../src/codec/format/index.js';
import { COMPRESS_HELP } from '../src/cli/compress.js';
import { FAMILY_GUIDANCE, guidanceDefaults, LEGACY_GUIDANCE } from '../src/models/guidance.js';
import { fileConditioning, resolveConditioning } from '../src/pipeline/conditioning.js';
import { compressionSettings } from '../src/pipeline/compress-settings.js';
import { loadModel, resolveSchedule } from '../src/pipeline/model-context.js';
import { defaultJobId } from '../src/cli/submit.js';
import { jobForEvent } from '../src/orchestration/trigger-service.js';
import { CompressImageInput, DecompressImageInput } from '../src/orchestration/types.js';

const TEST_MODELS = fileURLToPath(new URL('../models/test/', import.meta.url));
const SD15 = join(TEST_MODELS, 'sd15'), FLUX = join(TEST_MODELS, 'flux-dev');
const dir = mkdtempSync(join(tmpdir(), 'diffc-guidance-'));
const input = join(dir, 'in.png');
let n = 0;

const run = runCli;

async function image(): Promise<void> {
  if (existsSync(input)) return;
  const w = 70, h = 50; // padded to the family's multiple, cropped back
  const data = new Float32Array(w * h * 3).map((_, i) => 0.5 + 0.4 * Math.sin(i / 11) * Math.cos(i / 97));
  await saveImage({ width: w, height: h, data, bitDepth: 8 }, input);
}

/** diffc compress with --recon; returns the .dfc path, its recon path and the JSON result. */
async function compress(model: string, flags: string[]) {
  const dfc = join(dir, `c${++n}.dfc`), recon = join(dir, `c${n}-recon.png`);
  const c = await run(['compress', input, '-o', dfc, '--model', model, '--steps', '3', '--backend', 'ts', '--recon', recon, '--json', '-q', ...flags]);
  assert.equal(c.code, 0, c.err);
  return { dfc, recon, json: JSON.parse(c.out) as Record<string, unknown> };
}

async function decompress(model: string, dfc: string, flags: string[] = []) {
  const png = join(dir, `d${++n}.png`);
  const d = await run(['decompress', dfc, '-o', png, '--model', model, '--json', '-q', ...flags]);
  assert.equal(d.code, 0, d.err);
  return { png, json: JSON.parse(d.out) as Record<string, unknown> };
}

async function info(dfc: string, model?: string) {
  const r = await run(['info', dfc, '--json', ...(model ? ['--model', model] : [])]);
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out) as Record<string, unknown>;
}

const same = (a: string, b: string) => readFileSync(a).equals(readFileSync(b));

/** The same file as the first v1 writers would have written it: no conditioning field, the prompt raw. */
function asLegacy(dfc: string): string {
  const f = readDfc(readFileSync(dfc));
  const { conditioning: _c, ...header } = f.header;
  const out = join(dir, `legacy${++n}.dfc`);
  writeFileSync(out, writeDfc({ header: header.prompt !== undefined ? { ...header, promptCoding: 'raw' } : header, payload: f.payload }));
  return out;
}

test('defaults per family, manifest overrides, float32 rounding, legacy values', async () => {
  assert.deepEqual(guidanceDefaults('sd15'), { guidance: 1, denoiseGuidance: 1, promptDenoiseGuidance: 5 });
  assert.deepEqual(guidanceDefaults('flux-dev'), { guidance: 3.5, denoiseGuidance: 3.5, promptDenoiseGuidance: 3.5 });
  assert.deepEqual(guidanceDefaults('sdxl', { promptDenoiseGuidance: 0 }), { guidance: 1, denoiseGuidance: 1, promptDenoiseGuidance: 0 });
  assert.deepEqual(FAMILY_GUIDANCE['analytic-dct'], { guidance: 1, denoiseGuidance: 1, promptDenoiseGuidance: 1 });
  assert.deepEqual(LEGACY_GUIDANCE, { 'analytic-dct': { guidance: 1, denoiseGuidance: 1 }, sd15: { guidance: 1, denoiseGuidance: 1 }, sd21: { guidance: 1, denoiseGuidance: 1 }, sdxl: { guidance: 1, denoiseGuidance: 1 }, 'flux-dev': { guidance: 3.5, denoiseGuidance: 3.5 }, cod: { guidance: 1, denoiseGuidance: 1 }, stablecodec: { guidance: 1, denoiseGuidance: 1 } });
  const sd = guidanceDefaults('sd15');
  assert.deepEqual(resolveConditioning(sd, {}), { guidance: 1, denoiseGuidance: 1 });
  assert.deepEqual(resolveConditioning(sd, { prompt: '' }), { guidance: 1, denoiseGuidance: 1 });
  assert.deepEqual(resolveConditioning(sd, { prompt: 'a cat' }), { guidance: 1, denoiseGuidance: 5 });
  assert.deepEqual(resolveConditioning(sd, { prompt: 'a cat', guidance: 0.1, denoiseGuidance: -0 }), { guidance: Math.fround(0.1), denoiseGuidance: 0 });
  assert.throws(() => resolveConditioning(sd, { guidance: 100.01 }), RangeError);
  assert.throws(() => resolveConditioning(sd, { denoiseGuidance: NaN }), RangeError);
  const h = readDfc(readFileSync(new URL('./vectors/dfc-example-v1.bin', import.meta.url))).header;
  assert.deepEqual(fileConditioning(h, 'flux-dev'), { guidance: 3.5, denoiseGuidance: 3.5, legacy: true });
  assert.deepEqual(fileConditioning({ ...h, conditioning: { guidance: 2, denoiseGuidance: 0 } }, 'flux-dev'), { guidance: 2, denoiseGuidance: 0, legacy: false });
  // A bundle's manifest may set them (the test bundle's own manifest does not, so its hash is unchanged).
  const bundle = join(dir, 'sd15-override');
  cpSync(SD15, bundle, { recursive: true });
  const raw = JSON.parse(readFileSync(join(bundle, 'manifest.json'), 'utf8'));
  writeFileSync(join(bundle, 'manifest.json'), JSON.stringify({ ...raw, defaults: { ...raw.defaults, promptDenoiseGuidance: 2.5, guidance: 0 } }));
  const over = await loadModel(bundle);
  assert.deepEqual([over.model.info.defaults.guidance, over.model.info.defaults.denoiseGuidance, over.model.info.defaults.promptDenoiseGuidance], [0, 1, 2.5]);
  await over.model.close();
  // The model defaults reach ModelInfo, and the settings carry them (and the prompt) into the header's budget.
  for (const [dirName, g] of [[SD15, sd], [FLUX, guidanceDefaults('flux-dev')]] as const) {
    const lm = await loadModel(dirName);
    try {
      const info = lm.model.info;
      assert.equal(info.defaults.guidance, g.guidance);
      assert.equal(info.defaults.promptDenoiseGuidance, g.promptDenoiseGuidance);
      const schedule = resolveSchedule(lm, info.defaults.schedule);
      const at = (prompt?: string) => compressionSettings({ info, schedule, latent: lm.model.latentShape(64, 64), width: 64, height: 64, seed: 0, bpp: 1, prompt });
      assert.deepEqual(at().conditioning, { guidance: g.guidance, denoiseGuidance: g.denoiseGuidance });
      assert.deepEqual(at('a cat').conditioning, { guidance: g.guidance, denoiseGuidance: g.promptDenoiseGuidance });
      assert.equal(at('a cat').prompt, 'a cat');
      assert.equal(at('').prompt, undefined);
      assert.ok(at('a cat sitting on a windowsill').stop.maxBits! < at().stop.maxBits!, 'the prompt comes off the bit budget');
    } finally {
      await lm.model.close();
    }
  }
});

test('sd15: --guidance / --denoise-guidance / --prompt are in the header, and the decoder uses them from there', async () => {
  await image();
  const prompt = 'a photo of a cat';
  const a = await compress(SD15, ['--prompt', prompt, '--guidance', '2', '--denoise-guidance', '7']);
  assert.equal(a.json.guidance, 2);
  assert.equal(a.json.denoiseGuidance, 7);
  const h = readDfc(readFileSync(a.dfc)).header;
  assert.deepEqual(h.conditioning, { guidance: 2, denoiseGuidance: 7 });
  assert.equal(h.prompt, prompt);
  assert.equal(h.promptCoding, undefined, 'new files code the prompt');
  const da = await decompress(SD15, a.dfc);
  assert.ok(same(da.png, a.recon), 'decode == the encoder\'s reconstruction');
  assert.deepEqual([da.json.guidance, da.json.denoiseGuidance, da.json.legacy_conditioning], [2, 7, false]);
  const ia = await info(a.dfc, SD15);
  assert.deepEqual([ia.guidance, ia.denoiseGuidance, ia.prompt, ia.legacy_conditioning], [2, 7, prompt, false]);
  assert.equal((ia.step_bits as unknown[]).length, 3);
  const noModel = await info(a.dfc); // the default model: not this file's, the header still says
  assert.deepEqual([noModel.guidance, noModel.denoiseGuidance, noModel.prompt], [2, 7, prompt]);

  // Another denoise guidance: the same chain (payload), another reconstruction.
  const b = await compress(SD15, ['--prompt', prompt, '--guidance', '2', '--denoise-guidance', '3']);
  assert.deepEqual(readDfc(readFileSync(b.dfc)).payload, readDfc(readFileSync(a.dfc)).payload);
  assert.ok(!same(b.recon, a.recon), 'denoise guidance changes the reconstruction');
  assert.ok(same((await decompress(SD15, b.dfc)).png, b.recon));
  // The decoder reads the value from the header alone: a's file with b's denoise guidance written in decodes to b's image.
  const fa = readDfc(readFileSync(a.dfc));
  const patched = join(dir, 'patched.dfc');
  writeFileSync(patched, writeDfc({ header: { ...fa.header, conditioning: { guidance: 2, denoiseGuidance: 3 } }, payload: fa.payload }));
  assert.ok(same((await decompress(SD15, patched)).png, b.recon));
  // ... and so does an explicit override on decompress.
  assert.ok(same((await decompress(SD15, a.dfc, ['--denoise-guidance', '3'])).png, b.recon));

  // Another encode guidance: another chain and reconstruction, still decoded exactly.
  const c = await compress(SD15, ['--prompt', prompt, '--guidance', '4', '--denoise-guidance', '7']);
  assert.ok(!same(c.recon, a.recon), 'encode guidance changes the reconstruction');
  assert.ok(same((await decompress(SD15, c.dfc)).png, c.recon));
  // The prompt matters too.
  const d = await compress(SD15, ['--prompt', 'a red bicycle', '--guidance', '2', '--denoise-guidance', '7']);
  assert.ok(!same(d.recon, a.recon));
  assert.ok(same((await decompress(SD15, d.dfc)).png, d.recon));
});

test('sd15 defaults: 1/1 without a prompt, 1/5 with one; legacy files decode with 1/1', async () => {
  await image();
  const plain = await compress(SD15, []);
  assert.deepEqual([plain.json.guidance, plain.json.denoiseGuidance], [1, 1]);
  const ip = await info(plain.dfc, SD15);
  assert.deepEqual([ip.guidance, ip.denoiseGuidance, ip.prompt], [1, 1, null]);
  const prompted = await compress(SD15, ['--prompt', 'a photo of a cat']);
  assert.deepEqual([prompted.json.guidance, prompted.json.denoiseGuidance], [1, 5]);
  assert.deepEqual(readDfc(readFileSync(prompted.dfc)).header.conditioning, { guidance: 1, denoiseGuidance: 5 });
  assert.ok(same((await decompress(SD15, prompted.dfc)).png, prompted.recon));

  // A file of the first writers (no conditioning field, raw prompt) decodes as those decoders did: 1/1.
  const one = await compress(SD15, ['--prompt', 'a photo of a cat', '--denoise-guidance', '1']);
  const legacy = asLegacy(one.dfc);
  assert.equal(readFileSync(legacy)[5] & 0x1c, 0x04, 'raw prompt, no conditioning');
  const dl = await decompress(SD15, legacy);
  assert.ok(same(dl.png, one.recon), 'legacy file decodes with guidance 1 / denoise 1');
  assert.deepEqual([dl.json.guidance, dl.json.denoiseGuidance, dl.json.legacy_conditioning], [1, 1, true]);
  const il = await info(legacy, SD15);
  assert.deepEqual([il.guidance, il.denoiseGuidance, il.prompt, il.legacy_conditioning], [1, 1, 'a photo of a cat', true]);
  const text = await run(['info', legacy, '--model', SD15]);
  assert.match(text.out, /guidance 1 \(chain\), denoise guidance 1: legacy file/);
  // Without its model the family (and so the legacy values) is unknown: null, and the text says so.
  const unknown = await info(legacy);
  assert.deepEqual([unknown.guidance, unknown.denoiseGuidance, unknown.legacy_conditioning], [null, null, true]);
  assert.match((await run(['info', legacy])).out, /legacy file/);
});

test('flux-dev: distilled guidance from the header (default 3.5), legacy files decode with 3.5', async () => {
  await image();
  const def = await compress(FLUX, []);
  assert.deepEqual([def.json.guidance, def.json.denoiseGuidance], [3.5, 3.5]);
  assert.deepEqual((await info(def.dfc, FLUX)).guidance, 3.5);
  const g = await compress(FLUX, ['--guidance', '5', '--denoise-guidance', '2']);
  assert.deepEqual(readDfc(readFileSync(g.dfc)).header.conditioning, { guidance: 5, denoiseGuidance: 2 });
  assert.ok(!same(g.recon, def.recon), 'guidance changes the reconstruction');
  assert.ok(same((await decompress(FLUX, g.dfc)).png, g.recon), 'decode == recon with guidance 5 / 2');
  const ig = await info(g.dfc, FLUX);
  assert.deepEqual([ig.guidance, ig.denoiseGuidance], [5, 2]);
  // Only the final denoise differs: same chain, another image.
  const dn = await compress(FLUX, ['--denoise-guidance', '1']);
  assert.deepEqual(readDfc(readFileSync(dn.dfc)).payload, readDfc(readFileSync(def.dfc)).payload);
  assert.ok(!same(dn.recon, def.recon));
  // A non-float32 value is rounded once, before the model sees it: decode still matches.
  const odd = await compress(FLUX, ['--guidance', '3.3']);
  assert.equal(readDfc(readFileSync(odd.dfc)).header.conditioning?.guidance, Math.fround(3.3));
  assert.ok(same((await decompress(FLUX, odd.dfc)).png, odd.recon));
  // The legacy form of the default file: the legacy 3.5 / 3.5, the same image.
  const legacy = asLegacy(def.dfc);
  const dl = await decompress(FLUX, legacy);
  assert.ok(same(dl.png, def.recon));
  assert.deepEqual([dl.json.guidance, dl.json.legacy_conditioning], [3.5, true]);
  assert.deepEqual([(await info(legacy, FLUX)).denoiseGuidance, (await info(legacy, FLUX)).legacy_conditioning], [3.5, true]);
});

test('default model: stores 1/1, ignores guidance, and its legacy files decode as before', async () => {
  await image();
  const a = await compress('default', []);
  assert.deepEqual(readDfc(readFileSync(a.dfc)).header.conditioning, { guidance: 1, denoiseGuidance: 1 });
  const legacy = asLegacy(a.dfc);
  assert.ok(same((await decompress('default', legacy)).png, a.recon));
  const il = await info(legacy);
  assert.deepEqual([il.guidance, il.denoiseGuidance, il.legacy_conditioning], [1, 1, true]);
  // Guidance is recorded but changes nothing for a model without conditioning.
  const b = await compress('default', ['--guidance', '9', '--denoise-guidance', '4']);
  assert.ok(same(b.recon, a.recon));
  assert.deepEqual(readDfc(readFileSync(b.dfc)).payload, readDfc(readFileSync(a.dfc)).payload);
  // With a bpp budget, header bytes (a coded prompt among them) count against it.
  const long = 'a very long prompt about a lighthouse on a cliff at dusk, dramatic clouds, waves, seagulls';
  const c = await run(['compress', input, '-o', join(dir, 'budget.dfc'), '--bpp', '0.6', '--prompt', long, '--json', '-q']);
  assert.equal(c.code, 0, c.err);
  assert.ok((JSON.parse(c.out) as { bpp: number }).bpp <= 0.6);
});

test('--help tells the defaults; bad guidance values are usage errors', async () => {
  assert.match(COMPRESS_HELP, /--guidance G[\s\S]*SD 1\.5\/2\.1\/SDXL 1 = no CFG[\s\S]*Flux 3\.5/);
  assert.match(COMPRESS_HELP, /--denoise-guidance G[\s\S]*SD 1, or 5 with a non-empty --prompt; Flux 3\.5/);
  const help = await run(['decompress', '--help']);
  assert.match(help.out, /--denoise-guidance G/);
  await image();
  for (const bad of [['--guidance', '-1'], ['--guidance', '101'], ['--guidance', 'x'], ['--denoise-guidance', 'Infinity'], ['--prompt', 'é'.repeat(2049)]]) {
    const r = await run(['compress', input, '-o', join(dir, 'bad.dfc'), '-q', ...bad]);
    assert.equal(r.code, 2, `${bad.join(' ')}: ${r.err}`);
  }
});

test('workflow plumbing: submit\'s job id, the trigger\'s jobs and the decompress job carry the settings', () => {
  // Jobs without prompt or guidance keep the ids they always had (resubmitting resumes them).
  const base = { prefix: 'in/', manifest: undefined, 'output-prefix': 'out/', bpp: 0.1, steps: undefined, seed: 0, model: 'default' };
  const old = `job-${createHash('sha256').update(JSON.stringify([base.prefix, base.manifest, base['output-prefix'], base.bpp, base.steps, base.seed, base.model])).digest('hex').slice(0, 16)}`;
  assert.equal(defaultJobId(base), old);
  assert.notEqual(defaultJobId({ ...base, guidance: 2 }), old);
  assert.notEqual(defaultJobId({ ...base, prompt: 'a cat' }), defaultJobId({ ...base, prompt: 'a dog' }));
  const ev = { bucket: 'photos', key: 'incoming/cat.png', etag: 'e1', eventName: 's3:ObjectCreated:Put' };
  const job = jobForEvent(ev, { prefix: 'incoming/', outputPrefix: 'dfc/' }, { seed: 0, model: 'm', prompt: 'a cat', guidance: 1.5, denoiseGuidance: 6 }, { io: 'io', gpu: 'gpu' });
  assert.deepEqual([job.prompt, job.guidance, job.denoiseGuidance], ['a cat', 1.5, 6]);
  const plain = jobForEvent(ev, { prefix: 'incoming/', outputPrefix: 'dfc/' }, { seed: 0, model: 'm' }, { io: 'io', gpu: 'gpu' });
  assert.ok(!('prompt' in plain) && !('guidance' in plain) && !('denoiseGuidance' in plain));
  // A quality target reaches the trigger's jobs, with its cap; without one, none.
  const targeted = jobForEvent(ev, { prefix: 'incoming/', outputPrefix: 'dfc/' }, { seed: 0, model: 'm', bpp: 0.4, targetQuality: { metric: 'ms-ssim', value: 0.9 } }, { io: 'io', gpu: 'gpu' });
  assert.deepEqual([targeted.targetQuality, targeted.bpp], [{ metric: 'ms-ssim', value: 0.9 }, 0.4]);
  assert.equal(plain.targetQuality, undefined);
  // Submit's job id changes with a target, and only then.
  assert.notEqual(defaultJobId({ ...base, 'target-quality': { metric: 'psnr', value: 30 } }), old);
  assert.throws(() => jobForEvent(ev, { outputPrefix: 'dfc/' }, { seed: 0, model: 'm', guidance: -1 }, { io: 'io', gpu: 'gpu' }));
  assert.equal(DecompressImageInput.parse({ store: 'file:///x', source: 'a.dfc', output: 'a.png', denoiseGuidance: 2 }).denoiseGuidance, 2);
  // Old histories: inputs without the new fields still parse (they are optional).
  const oldJob = CompressImageInput.parse({ store: 'file:///x', source: 'a.png', output: 'a.dfc' });
  assert.deepEqual([oldJob.prompt, oldJob.guidance, oldJob.denoiseGuidance], [undefined, undefined, undefined]);
});
