/**
 * Parity with the real libraries (scripts/parity/README.md): tiny random-init diffusers /
 * transformers architectures exported by optimum (models/test/parity/<name>/), run through the
 * ONNX adapters, against what diffusers itself computed on the same weights (test/parity/<name>.json):
 * alpha-bar table, token ids, text encoders, VAE encode/decode, x0 at several noise levels (with
 * CFG / distilled guidance, a non-square size, SDXL's refiner), a DDIM reconstruction; plus diffc's
 * step math and per-step KL against the reference implementation's formulas (step-math.json).
 *
 * fp32 quantities must agree to max|a - b| / max|b| <= 1e-4. The per-family, per-quantity errors
 * are printed at the end. Regenerate the data with `bash scripts/parity/regenerate.sh`.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { loadDiffusionModel } from '../src/models/load.js';
import { ModelError } from '../src/models/errors.js';
import type { Conditioning, DiffusionModel } from '../src/models/types.js';
import type { ClipTokenizer } from '../src/models/onnx/clip-tokenizer.js';
import type { T5Tokenizer } from '../src/models/onnx/t5-tokenizer.js';
import { clipIds, t5Ids } from '../src/models/onnx/text.js';
import { decodeImage } from '../src/image/decode.js';
import { predictX0 } from '../src/codec/model.js';
import { reconstruct } from '../src/codec/diffusion/reconstruct.js';
import { x0FromPrediction } from '../src/codec/diffusion/prediction.js';
import { klBits, modelMean, posteriorCoefficients, standardisedOffset } from '../src/codec/diffusion/step-math.js';
import { ChainEncoder } from '../src/codec/chain/encoder.js';
import { CodingParams } from '../src/codec/chain/chunk-plan.js';
import { makeCodingSchedule } from '../src/codec/schedule/timesteps.js';
import { alphaBars, SD_SCHEDULE } from '../src/codec/schedule/ddpm.js';
import { tsBackend } from '../src/codec/rcc/select.js';

const MODELS = fileURLToPath(new URL('../models/test/parity/', import.meta.url));
const DATA = fileURLToPath(new URL('./parity/', import.meta.url));
const TOL = 1e-4;

interface Tensor { readonly dtype: 'float32' | 'float64'; readonly shape: readonly number[]; readonly b64: string }

function arr(t: Tensor): Float64Array {
  const b = Buffer.from(t.b64, 'base64');
  const src = t.dtype === 'float64' ? new Float64Array(b.buffer, b.byteOffset, b.length / 8) : new Float32Array(b.buffer, b.byteOffset, b.length / 4);
  assert.equal(src.length, t.shape.reduce((a, d) => a * d, 1), 'tensor size matches its shape');
  return Float64Array.from(src);
}
const f32 = (t: Tensor) => Float32Array.from(arr(t));

/** max |a - b| / max |b| */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'lengths differ');
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    num = Math.max(num, Number.isNaN(d) ? Infinity : d);
    den = Math.max(den, Math.abs(b[i]));
  }
  return den === 0 ? num : num / den;
}

// The table printed at the end: family -> quantity -> max relative error.
const table = new Map<string, Map<string, number>>();
function note(family: string, quantity: string, err: number): number {
  let m = table.get(family);
  if (!m) table.set(family, (m = new Map()));
  m.set(quantity, Math.max(m.get(quantity) ?? 0, err));
  return err;
}
function expectClose(family: string, quantity: string, a: ArrayLike<number>, b: ArrayLike<number>, tol = TOL): void {
  const e = note(family, quantity, relErr(a, b));
  assert.ok(e <= tol, `${family} ${quantity}: max relative error ${e.toExponential(2)} > ${tol}`);
}

after(() => {
  const fams = [...table.keys()];
  const rows = [...new Set(fams.flatMap((f) => [...table.get(f)!.keys()]))];
  const w = Math.max(...rows.map((r) => r.length));
  console.log(`\nparity: max relative error max|a-b|/max|b| (fp32 tolerance ${TOL})`);
  console.log(`${'quantity'.padEnd(w)}  ${fams.map((f) => f.padStart(10)).join(' ')}`);
  for (const r of rows) {
    console.log(`${r.padEnd(w)}  ${fams.map((f) => { const v = table.get(f)!.get(r); return (v === undefined ? '-' : v.toExponential(2)).padStart(10); }).join(' ')}`);
  }
});

/** encode_prompt's outputs for one prompt (with CFG: guidance, and the negative branch; Flux: none). */
interface TextRec {
  prompt: string; tag?: string; role: string; guidance?: number;
  prompt_embeds: Tensor; pooled?: Tensor; negative_prompt_embeds?: Tensor; negative_pooled?: Tensor;
}
interface X0Case { width: number; height: number; prompt: string; tag?: string; guidance: number; t: number | null; alphaBar: number; unet?: string; x: Tensor; out: Tensor; x0: Tensor }
interface Expected {
  name: string;
  family: 'sd15' | 'sd21' | 'sdxl' | 'flux-dev';
  alphaBars: Tensor;
  predictionType: 'epsilon' | 'v_prediction' | 'flow';
  tokens: { prompt: string; tokenizer: 'tokenizer' | 'tokenizer_2'; padToken: string; ids: number[] }[];
  text: TextRec[];
  images: { image: string; width: number; height: number; latent: Tensor; decoded: Tensor }[];
  x0: X0Case[];
  recon: { width: number; height: number; prompt: string; guidance: number; alphaBar: number; steps: number; x: Tensor; x0: Tensor };
  /** How far diffusers' output moved when one input was wrong (the generator requires > 1e-3). */
  sensitivity: Record<string, number>;
}

const load = (name: string) => JSON.parse(readFileSync(join(DATA, `${name}.json`), 'utf8')) as Expected;

async function photo(name: string) {
  return decodeImage(new Uint8Array(await readFile(join(DATA, name))));
}

/** CLIP pad ids as the families' tokenizers pad (SD 2.x and SDXL's second tokenizer: '!' = 0). */
function clipPad(family: string, tokenizer: string): number {
  return family === 'sd21' || tokenizer === 'tokenizer_2' ? 0 : 49407;
}

function x0Quantity(c: X0Case, first: { width: number; height: number }): string {
  const level = c.t === null ? `ab=${c.alphaBar.toPrecision(3)}` : `t=${c.t}`;
  const size = c.width === first.width && c.height === first.height ? '' : ` ${c.width}x${c.height}`;
  const g = c.guidance > 1 ? ` g=${c.guidance}` : '';
  const who = c.unet === 'refiner_unet' ? ' refiner' : '';
  const tag = c.tag ? ` '${c.tag}'` : '';
  return `x0${size}${g}${who}${tag} ${level}`;
}

function must<T>(x: T | undefined, what: string): T {
  assert.ok(x !== undefined, `missing: ${what}`);
  return x;
}

/**
 * The adapters' own prompt path (SdModel / FluxModel in src/models/onnx/), reached through their
 * protected members: makeText (what the predictor is conditioned on), clipTokenizer and
 * t5Tokenizer (the bundle's tokenizer files as the adapter finds them in the manifest).
 */
interface UnetTextView { readonly ehs: Float32Array; readonly pooled?: Float32Array; readonly uncond?: { readonly ehs: Float32Array; readonly pooled?: Float32Array } }
interface AdapterView {
  makeText(cond: Conditioning): Promise<{ base?: UnetTextView; refiner?: UnetTextView; pooled?: Float32Array; hidden?: Float32Array }>;
  clipTokenizer(role?: 'tokenizer' | 'tokenizer_2'): Promise<ClipTokenizer | undefined>;
  t5Tokenizer(): Promise<T5Tokenizer | undefined>;
}
function adapter(m: DiffusionModel): AdapterView {
  const v = m as unknown as AdapterView;
  for (const k of ['makeText', 'clipTokenizer', 't5Tokenizer'] as const) assert.equal(typeof v[k], 'function', `the ONNX adapter has no ${k}() (src/models/onnx/base.ts): update this test`);
  return v;
}

for (const name of ['sd15', 'sd21', 'sdxl', 'flux-dev'] as const) {
  const exp = load(name);
  const fam = exp.family;
  const dir = join(MODELS, name);
  const flux = fam === 'flux-dev';

  describe(`${name}: ONNX adapters vs diffusers`, () => {
    let model: DiffusionModel;
    let closed = false;
    const get = async () => {
      assert.ok(!closed);
      model ??= (await loadDiffusionModel(dir)).model;
      return model;
    };
    after(async () => {
      closed = true;
      await model?.close();
    });

    test('alpha-bar table vs the scheduler (SD: alphas_cumprod; Flux: time_shift(base_shift) at (t+1)/1001)', async () => {
      const m = await get();
      expectClose(fam, 'alpha-bar table', m.table, arr(exp.alphaBars));
    });

    test('token ids: diffusers\' tokenizers vs the tokenizers the adapter loads from the bundle (tokenizer/, tokenizer_2/)', async () => {
      const a = adapter(await get());
      const clip = must(await a.clipTokenizer(), 'the bundle ships tokenizer/vocab.json + merges.txt');
      const second = fam === 'sdxl' ? must(await a.clipTokenizer('tokenizer_2'), 'the SDXL bundle ships tokenizer_2/vocab.json + merges.txt') : undefined;
      const t5 = flux ? must(await a.t5Tokenizer(), 'the Flux bundle ships tokenizer_2/tokenizer.json') : undefined;
      for (const r of exp.tokens) {
        const isT5 = flux && r.tokenizer === 'tokenizer_2';
        assert.equal(r.ids.length, isT5 ? 512 : 77);
        const ids = isT5 ? t5Ids(r.prompt, 512, t5) : clipIds(r.prompt, r.tokenizer === 'tokenizer_2' ? second : clip, 77, clipPad(fam, r.tokenizer));
        assert.deepEqual(ids, r.ids, `${r.tokenizer} ids of '${r.prompt}' (pad ${r.padToken})`);
      }
      assert.ok(exp.tokens.filter((r) => r.prompt !== '').length >= 2, 'non-empty prompts are checked');
      note(fam, 'token ids (exact)', 0);
    });

    test('text: diffusers\' encode_prompt vs the adapter\'s conditioning (its makeText: tokenizers, pad ids, text encoders, CFG branch)', async () => {
      const a = adapter(await get());
      for (const r of exp.text) {
        const tag = r.tag ? ` '${r.tag}'` : '';
        const t = await a.makeText({ prompt: r.prompt, guidance: r.guidance ?? (flux ? 3.5 : 1) });
        if (flux) {
          expectClose(fam, `text: pooled (CLIP pooler_output)${tag}`, must(t.pooled, 'pooled'), arr(must(r.pooled, 'recorded pooled')));
          expectClose(fam, `text: prompt_embeds (T5)${tag}`, must(t.hidden, 'T5 hidden states'), arr(r.prompt_embeds));
          continue;
        }
        const refiner = r.role === 'refiner_unet';
        const u = must(refiner ? t.refiner : t.base, `the adapter's ${r.role} conditioning`);
        const who = refiner ? 'refiner ' : '';
        expectClose(fam, `text: ${who}prompt_embeds${fam === 'sdxl' && !refiner ? ' (penultimate, concat)' : ''}${tag}`, u.ehs, arr(r.prompt_embeds));
        if (r.pooled) expectClose(fam, `text: ${who}pooled (text_embeds)${tag}`, must(u.pooled, 'pooled'), arr(r.pooled));
        if (r.negative_prompt_embeds) {
          // CFG's unconditional branch: SD the empty prompt, SDXL zeros, the refiner the empty prompt through text_encoder_2.
          const un = must(u.uncond, `an unconditional branch at guidance ${r.guidance}`);
          expectClose(fam, `text: ${who}negative_prompt_embeds${tag}`, un.ehs, arr(r.negative_prompt_embeds));
          if (r.negative_pooled) expectClose(fam, `text: ${who}negative_pooled${tag}`, must(un.pooled, 'negative pooled'), arr(r.negative_pooled));
        }
      }
    });

    for (const im of exp.images) {
      const size = `${im.width}x${im.height}`;
      test(`VAE encode ${size}: (mean - shift) * scale of diffusers' latent_dist.mean`, async () => {
        const m = await get();
        const [z] = await m.encode([await photo(im.image)]);
        expectClose(fam, `VAE encode ${size}`, z, arr(im.latent));
      });
      test(`VAE decode ${size}: diffusers' vae.decode + postprocess`, async () => {
        const m = await get();
        const [rgb] = await m.decode([f32(im.latent)], im.width, im.height);
        assert.equal(rgb.width, im.width);
        assert.equal(rgb.height, im.height);
        expectClose(fam, `VAE decode ${size}`, rgb.data, arr(im.decoded));
      });
    }

    // x0 cases, grouped by quantity (prompts go into the same row).
    const groups = new Map<string, X0Case[]>();
    for (const c of exp.x0) {
      const q = x0Quantity(c, exp.images[0]);
      groups.set(q, [...(groups.get(q) ?? []), c]);
    }
    const what = flux ? 'velocity' : exp.predictionType === 'v_prediction' ? 'v' : 'eps';
    for (const [q, cases] of groups) {
      test(`${q}: diffusers' ${flux ? 'transformer at sigma' : 'UNet'} output (${what}) and x0`, async () => {
        const m = await get();
        for (const c of cases) {
          const p = await m.predictor(c.width, c.height, { prompt: c.prompt, guidance: c.guidance });
          const req = { x: f32(c.x), alphaBar: c.alphaBar };
          const [out] = await p.predict([req]);
          expectClose(fam, `${what}: ${q.slice(3)}`, out, arr(c.out));
          const [x0] = await predictX0(p, [req]);
          expectClose(fam, q, x0, arr(c.x0));
        }
      });
    }

    test('the comparisons can fail: a wrong noise level, guidance or prompt is far outside the tolerance', async () => {
      const m = await get();
      for (const [k, v] of Object.entries(exp.sensitivity)) note(fam, `sensitivity (diffusers): ${k}`, v);
      // SD: the prompted case without CFG (guidance + 1 then turns CFG on); Flux: the empty prompt at 3.5.
      const c = exp.x0.find((c) => c.t === 500 && c.width === exp.images[0].width && c.guidance === (flux ? 3.5 : 1) && (flux || c.prompt !== ''))!;
      const p = await m.predictor(c.width, c.height, { prompt: c.prompt, guidance: c.guidance });
      const next = m.table[501] ?? m.table[499];
      const [shifted] = await p.predict([{ x: f32(c.x), alphaBar: next }]);
      const eT = note(fam, 'sensitivity (diffc): alpha-bar of t 500 -> 501', relErr(shifted, arr(c.out)));
      const other = await m.predictor(c.width, c.height, { prompt: c.prompt, guidance: c.guidance + 1 });
      const [guided] = await other.predict([{ x: f32(c.x), alphaBar: c.alphaBar }]);
      const eG = note(fam, 'sensitivity (diffc): guidance + 1', relErr(guided, arr(c.out)));
      assert.ok(eT > 10 * TOL && eG > 10 * TOL, `outputs barely move (${eT}, ${eG}): these tests could not fail`);
      for (const v of Object.values(exp.sensitivity)) assert.ok(v > 10 * TOL);
    });

    test(`DDIM reconstruction (${exp.recon.steps} steps${flux ? ', flow Euler' : ''}) vs reconstruct(method 'flow')`, async () => {
      const m = await get();
      const r = exp.recon;
      const p = await m.predictor(r.width, r.height, { prompt: r.prompt, guidance: r.guidance });
      const x = f32(r.x);
      const out = await reconstruct(p, x, r.alphaBar, x.length, { method: 'flow', steps: r.steps, table: m.table, key: { seedLo: 0, seedHi: 0 } });
      expectClose(fam, `DDIM recon ${r.steps} steps`, out, arr(r.x0));
    });
  });
}

describe('sd15-fp16: an fp16 optimum export (--dtype fp16) through the adapters', () => {
  const meta = JSON.parse(readFileSync(join(DATA, 'sd15-fp16.json'), 'utf8')) as { exported: boolean; error?: string };
  const exp = load('sd15');
  test('encode, predict and decode give finite values or a clear ModelError', { skip: meta.exported ? false : `not exported: ${meta.error}` }, async () => {
    let model: DiffusionModel | undefined;
    try {
      model = (await loadDiffusionModel(join(MODELS, 'sd15-fp16'))).model;
      const im = exp.images[0];
      const [z] = await model.encode([await photo(im.image)]);
      assert.ok(z.every(Number.isFinite), 'latent finite');
      note('sd15-fp16', `VAE encode ${im.width}x${im.height} (vs fp32 diffusers, info)`, relErr(z, arr(im.latent)));
      const p = await model.predictor(im.width, im.height, { prompt: '', guidance: 1 });
      for (const c of exp.x0.filter((c) => c.prompt === '' && c.guidance === 1 && c.width === im.width)) {
        const [x0] = await predictX0(p, [{ x: f32(c.x), alphaBar: c.alphaBar }]);
        assert.ok(x0.every(Number.isFinite), `x0 finite at ${c.alphaBar}`);
        note('sd15-fp16', `x0 t=${c.t ?? `ab=${c.alphaBar}`} (vs fp32 diffusers, info)`, relErr(x0, arr(c.x0)));
      }
      const [rgb] = await model.decode([f32(im.latent)], im.width, im.height);
      assert.ok(rgb.data.every(Number.isFinite), 'decode finite');
      note('sd15-fp16', `VAE decode ${im.width}x${im.height} (vs fp32 diffusers, info)`, relErr(rgb.data, arr(im.decoded)));
    } catch (e) {
      assert.ok(e instanceof ModelError, `fp16 bundle failed without a ModelError: ${String(e)}`);
      console.log(`sd15-fp16: ModelError ${e.code}: ${e.message}`);
    } finally {
      await model?.close();
    }
  });
});

interface StepPair { refT: number; refS: number; alphaBarT: number; alphaBarS: number; xt: Tensor; x0: Tensor; eps: Tensor; x0hat: Tensor; pMu: Tensor; qMu: Tensor; std: number; klBits: number }
interface StepMath {
  pairs: StepPair[];
  chain: { timesteps: number[]; refTimesteps: number[]; x0: Tensor; x0hats: Tensor[]; klBits: number[]; refPriorKlBits: number };
}

describe('step math and per-step KL vs the reference implementation (JeremyIV/diffc p.py, q.py, encode.py)', () => {
  const sm = JSON.parse(readFileSync(join(DATA, 'step-math.json'), 'utf8')) as StepMath;
  const q = 'step math';
  for (const pr of sm.pairs) {
    test(`reference t ${pr.refT} -> ${pr.refS} (ours ${pr.refT - 1} -> ${pr.refS - 1}): x0-hat, p and q means, sigma, KL bits`, () => {
      const xt = f32(pr.xt), x0 = f32(pr.x0);
      const x0hat = x0FromPrediction('eps', f32(pr.eps), xt, pr.alphaBarT);
      expectClose(q, 'x0-hat from eps', x0hat, arr(pr.x0hat));
      const c = posteriorCoefficients(pr.alphaBarT, pr.alphaBarS);
      expectClose(q, 'p mean (P)', modelMean(c, x0hat, xt), arr(pr.pMu));
      expectClose(q, 'q mean (Q)', modelMean(c, x0, xt), arr(pr.qMu));
      expectClose(q, 'sigma (P std)', [c.sigma], [pr.std], 1e-9);
      expectClose(q, 'KL bits', [klBits(standardisedOffset(c, x0, x0hat))], [pr.klBits]);
    });
  }

  test('ChainEncoder step KLs over a 3-step schedule; the first step starts from the prior (alpha-bar 0)', async () => {
    const c = sm.chain;
    const tableSd = alphaBars(SD_SCHEDULE);
    const enc = new ChainEncoder(f32(c.x0), { schedule: makeCodingSchedule(tableSd, c.timesteps), params: CodingParams.parse({ maxChunkBits: 8 }), key: { seedLo: 3, seedHi: 0 } });
    const kls: number[] = [];
    for (const x0hat of c.x0hats) kls.push((await enc.advance(f32(x0hat), tsBackend)).klBits);
    expectClose(q, 'chain KL bits (steps 1-2)', kls.slice(1), c.klBits.slice(1));
    expectClose(q, 'chain KL bits (step 0 from alpha-bar 0)', [kls[0]], [c.klBits[0]]);
    // The reference starts at its timestep 1000 = alphas_cumprod[999] with x = randn, diffc at the prior.
    const d = Math.abs(kls[0] - c.refPriorKlBits) / c.refPriorKlBits;
    console.log(`step 0: diffc ${kls[0].toFixed(4)} bits (from alpha-bar 0), reference ${c.refPriorKlBits.toFixed(4)} bits (from alphas_cumprod[999]): ${(100 * d).toFixed(2)} % apart`);
    note(q, 'chain step 0 vs reference prior at ab[999] (info)', d);
  });
});
