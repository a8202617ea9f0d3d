/**
 * Tokenizers against the real libraries' ids (test/vectors/tokenizers/, written by
 * scripts/parity/gen-tokenizer-vectors.py): CLIP vs transformers' CLIPTokenizer with and without
 * ftfy for both pad conventions, T5 vs T5TokenizerFast / tokenizers on a small trained
 * SentencePiece Unigram model, ftfy's mojibake detector; then the bundle wiring (make-bundle's
 * tokenizer_2 role, Flux T5 prompts, SDXL's second tokenizer).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ClipTokenizer } from '../src/models/onnx/clip-tokenizer.js';
import { FTFY_BADNESS, ftfyIsBad } from '../src/models/onnx/clip-clean.js';
import { PrecompiledCharsmap, T5Tokenizer } from '../src/models/onnx/t5-tokenizer.js';
import { t5Ids } from '../src/models/onnx/text.js';
import { ModelError } from '../src/models/errors.js';
import { sha256File } from '../src/models/bundle.js';
import { makeBundle } from '../src/models/make-bundle.js';
import { loadDiffusionModel } from '../src/models/load.js';
import type { RgbImage } from '../src/image/types.js';

const VEC = fileURLToPath(new URL('./vectors/tokenizers/', import.meta.url));
const TEST_MODELS = fileURLToPath(new URL('../models/test/', import.meta.url));

const readJson = async <T>(p: string) => JSON.parse(await readFile(p, 'utf8')) as T;
const padTo = (ids: readonly number[], n: number, pad: number) => [...ids, ...new Array<number>(n - ids.length).fill(pad)];
const isFamilyError = (e: unknown) => e instanceof ModelError && e.code === 'family';

interface ClipCase {
  name: string;
  prompt: string;
  ftfyDiffers?: boolean;
  refuse?: string;
  transformers: Record<'ftfy/eos' | 'ftfy/bang' | 'basic/eos' | 'basic/bang', number[]>;
  fast: Record<'eos' | 'bang', number[]>;
  openClip: number[];
}

const clipVectors = () => readJson<{ maxLength: number; pad: { eos: number; bang: number }; cases: ClipCase[] }>(join(VEC, 'clip.json'));
const clipTokenizer = () => ClipTokenizer.load(join(VEC, 'clip/vocab.json'), join(VEC, 'clip/merges.txt'));

test('CLIP: ids equal transformers\' CLIPTokenizer (with and without ftfy) for both pad conventions, or a refusal where those differ', async () => {
  const v = await clipVectors();
  const t = await clipTokenizer();
  let exact = 0, refused = 0;
  for (const c of v.cases) {
    for (const pad of ['eos', 'bang'] as const) {
      const padId = v.pad[pad];
      const what = `${c.name} (${JSON.stringify(c.prompt)}), pad ${pad}`;
      if (c.ftfyDiffers || c.refuse) {
        assert.throws(() => t.encode(c.prompt, v.maxLength, padId), isFamilyError, what);
        refused++;
        continue;
      }
      const ids = c.transformers[`basic/${pad}`];
      assert.deepEqual(c.transformers[`ftfy/${pad}`], ids, `vectors: ${what} agrees with and without ftfy`);
      assert.deepEqual(t.encode(c.prompt, v.maxLength, padId), padTo(ids, v.maxLength, padId), what);
      exact++;
    }
  }
  assert.equal(exact, 64);
  assert.equal(refused, 32);
});

test('CLIP: every prompt whose ids differ with and without ftfy is among the refused ones (the vectors say which)', async () => {
  const v = await clipVectors();
  const differ = v.cases.filter((c) => JSON.stringify(c.transformers['ftfy/eos']) !== JSON.stringify(c.transformers['basic/eos'])
    || JSON.stringify(c.transformers['ftfy/bang']) !== JSON.stringify(c.transformers['basic/bang']));
  assert.ok(differ.length >= 10);
  for (const c of differ) assert.ok(c.ftfyDiffers, c.name);
  // The conservative refusals are ones both agree on.
  for (const c of v.cases.filter((x) => x.refuse)) assert.ok(!c.ftfyDiffers, c.name);
});

test("CLIP '!': with pad '!' (SD 2.x, SDXL's second tokenizer) every '!' is id 0 as in transformers; with pad EOS (SD 1.x) it is BPE ('!</w>' = 256) as open_clip", async () => {
  const v = await clipVectors();
  const t = await clipTokenizer();
  const vocab = await readJson<Record<string, number>>(join(VEC, 'clip/vocab.json'));
  assert.equal(vocab['!'], 0);
  assert.equal(vocab['!</w>'], 256);
  const wow = vocab['wow</w>'];
  // Pinned ids (no padding): SD 2.x convention, SD 1.x convention.
  assert.deepEqual(t.tokenize('wow!', 0), [vocab['wow</w>'], 0]);
  assert.deepEqual(t.tokenize('wow!', 49407), [wow, 256]);
  assert.deepEqual(t.tokenize('a ! b !! c', 0), [vocab['a</w>'], 0, vocab['b</w>'], 0, 0, vocab['c</w>']]);
  assert.deepEqual(t.tokenize('a ! b !! c', 49407), [vocab['a</w>'], 256, vocab['b</w>'], vocab['!!</w>'], vocab['c</w>']]);
  const bang = v.cases.filter((c) => c.name.startsWith('bang') || c.name.includes('bangs'));
  assert.ok(bang.length >= 6);
  for (const c of bang) {
    const ids0 = c.transformers['basic/bang'], ids1 = c.transformers['basic/eos'];
    assert.ok(ids0.includes(0) && !ids1.includes(0), c.name);
    // open_clip (SD 2.x's training tokenizer) codes '!' like the EOS-padded tokenizer does.
    assert.deepEqual(c.openClip, ids1, c.name);
    assert.notDeepEqual(c.openClip, ids0, c.name);
    assert.deepEqual(t.encode(c.prompt, 77, 0).slice(0, ids0.length), ids0, c.name);
  }
});

test('CLIP: refusals name the problem; truncation keeps BOS + 75 tokens + EOS', async () => {
  const t = await clipTokenizer();
  const msg = (p: string) => {
    try {
      t.encode(p);
    } catch (e) {
      assert.ok(isFamilyError(e));
      return (e as Error).message;
    }
    assert.fail(`${JSON.stringify(p)} was not refused`);
  };
  assert.match(msg('fish &amp; chips'), /HTML entity/);
  assert.match(msg('cafÃ© crÃ¨me'), /mojibake/);
  assert.match(msg('don’t'), /curly quote/);
  assert.match(msg('ﬁsh'), /ligature/);
  assert.match(msg('ＬＯＵＤ'), /fullwidth/);
  assert.match(msg('a\u200db'), /U\+200D/);
  assert.match(msg('東京タワー'), /CJK/);
  // a '<' in the text switches ftfy's HTML unescaping off, so the entity is kept by both
  assert.doesNotThrow(() => t.encode('a <b>bold</b> &amp; brave cat'));
  const ids = t.encode('x '.repeat(100));
  assert.equal(ids.length, 77);
  assert.equal(ids[0], 49406);
  assert.equal(ids[76], 49407);
  assert.ok(ids.slice(1, 76).every((x) => x === ids[1]));
});

test("ftfy's mojibake detector: the pattern is the generated one and agrees with ftfy.badness.is_bad", async () => {
  const v = await readJson<{ pattern: string; samples: [string, boolean][] }>(join(VEC, 'ftfy-badness.json'));
  assert.equal(FTFY_BADNESS, v.pattern);
  let n = 0;
  for (const [s, bad] of v.samples) {
    if (/^[\0-\x7f]*$/.test(s)) continue; // ftfy's fix_encoding returns ASCII text before asking is_bad
    assert.equal(ftfyIsBad(s), bad, JSON.stringify(s));
    n++;
  }
  assert.ok(n > 1000);
});

interface T5Case { name: string; prompt: string; maxLength: number; ids: number[]; variants: Record<string, number[]>; slowT5Tokenizer: number[] }

async function t5Json(): Promise<Record<string, unknown>> {
  return JSON.parse(gunzipSync(await readFile(join(VEC, 't5/tokenizer.json.gz'))).toString('utf8')) as Record<string, unknown>;
}

/** The tokenizer.json edits of gen-tokenizer-vectors.py's t5_variants. */
function t5Variants(base: Record<string, unknown>): Record<string, unknown> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const clone = (): any => structuredClone(base);
  const legacy = clone();
  legacy.normalizer = { type: 'Sequence', normalizers: [legacy.normalizer.normalizers[0], { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' }] };
  legacy.pre_tokenizer = { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, { type: 'Metaspace', replacement: '▁', add_prefix_space: true }] };
  const byteFallback = clone();
  byteFallback.model.byte_fallback = true;
  const first = clone();
  first.pre_tokenizer.prepend_scheme = 'first';
  const never = clone();
  never.pre_tokenizer.prepend_scheme = 'never';
  const flags = clone();
  for (const t of flags.added_tokens) {
    if (t.content === '<extra_id_0>') t.lstrip = t.rstrip = true;
    if (t.content === '<extra_id_1>') t.single_word = true;
  }
  flags.added_tokens.push({ id: flags.model.vocab.length, content: 'dog', single_word: true, lstrip: false, rstrip: false, normalized: true, special: false });
  return { legacy, byteFallback, first, never, addedFlags: flags };
}

test('T5: ids equal T5TokenizerFast on the tokenizer.json (and the tokenizers library on its variants) for every prompt', async () => {
  const base = await t5Json();
  const { cases } = await readJson<{ cases: T5Case[] }>(join(VEC, 't5.json'));
  const modern = new T5Tokenizer(base, 't5/tokenizer.json');
  const variants = Object.entries(t5Variants(base)).map(([k, j]) => [k, new T5Tokenizer(j, k)] as const);
  let n = 0, sameAsSlow = 0;
  for (const c of cases) {
    assert.deepEqual(modern.encode(c.prompt, c.maxLength), padTo(c.ids, c.maxLength, 0), c.name);
    for (const [k, t] of variants) assert.deepEqual(t.encode(c.prompt, c.maxLength), padTo(c.variants[k], c.maxLength, 0), `${c.name} (${k})`);
    n += 1 + variants.length;
    if (JSON.stringify(c.slowT5Tokenizer) === JSON.stringify(c.ids)) sameAsSlow++;
  }
  assert.equal(n, 29 * 6);
  assert.equal(sameAsSlow, 17); // the slow (sentencepiece) T5Tokenizer differs on 12: diffusers' Flux runs the fast one
  const long = cases.find((c) => c.name === 'long (truncation)')!;
  assert.equal(long.ids.length, 512);
  assert.equal(long.ids[511], 1);
});

test('T5: empty prompt ids without a tokenizer equal the tokenizer\'s; unsupported tokenizer.json parts are clear ModelErrors', async () => {
  const base = await t5Json();
  const t = new T5Tokenizer(base);
  assert.deepEqual(t5Ids('', 512), t.encode('', 512));
  assert.deepEqual(t5Ids('  ', 512), t.encode('  ', 512));
  assert.deepEqual(t5Ids('a cat', 8, t), t.encode('a cat', 8));
  assert.throws(() => t5Ids('a cat', 512), (e) => isFamilyError(e) && /tokenizer_2\/tokenizer\.json/.test((e as Error).message));
  const bad = (edit: (j: Record<string, unknown>) => void, re: RegExp) => {
    const j = structuredClone(base);
    edit(j);
    assert.throws(() => new T5Tokenizer(j), (e) => isFamilyError(e) && re.test((e as Error).message));
  };
  bad((j) => { (j.model as Record<string, unknown>).type = 'BPE'; }, /Unigram/);
  bad((j) => { j.normalizer = { type: 'BertNormalizer' }; }, /BertNormalizer/);
  bad((j) => { j.pre_tokenizer = { type: 'ByteLevel' }; }, /ByteLevel/);
  bad((j) => { j.post_processor = { type: 'RobertaProcessing' }; }, /RobertaProcessing/);
  const j = structuredClone(base);
  j.pre_tokenizer = { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first' }] };
  assert.throws(() => new T5Tokenizer(j).tokenize('a b'), (e) => isFamilyError(e) && /first/.test((e as Error).message));
  assert.throws(() => new PrecompiledCharsmap(new Uint8Array([9, 0, 0, 0, 1])), isFamilyError);
  await assert.rejects(T5Tokenizer.load(join(VEC, 'clip/merges.txt')), isFamilyError);
});

function testImage(size = 64): RgbImage {
  const data = new Float32Array(size * size * 3);
  for (let i = 0; i < data.length; i++) data[i] = 0.5 + 0.4 * Math.sin(i / 17);
  return { width: size, height: size, data, bitDepth: 8 };
}

/** A copy of a test bundle with extra files, listed in its manifest under `role`. */
async function withFiles(family: string, files: { role: string; path: string; data: Uint8Array | string }[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'diffc-tok-'));
  await cp(join(TEST_MODELS, family), dir, { recursive: true });
  const m = await readJson<{ files: { role: string; path: string; sha256: string; bytes: number }[] }>(join(dir, 'manifest.json'));
  for (const f of files) {
    const p = join(dir, f.path);
    await mkdir(join(p, '..'), { recursive: true });
    await writeFile(p, f.data);
    m.files.push({ role: f.role, path: f.path, sha256: await sha256File(p), bytes: (await stat(p)).size });
  }
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(m, null, 2));
  return dir;
}

test('make-bundle takes tokenizer_2/: tokenizer.json for Flux, vocab.json + merges.txt for SDXL', async () => {
  const t5 = gunzipSync(await readFile(join(VEC, 't5/tokenizer.json.gz')));
  const vocab = await readFile(join(VEC, 'clip/vocab.json')), merges = await readFile(join(VEC, 'clip/merges.txt'));
  const flux = await withFiles('flux-dev', [
    { role: 'tokenizer_2', path: 'tokenizer_2/tokenizer.json', data: t5 },
    { role: 'tokenizer_2', path: 'tokenizer_2/spiece.model', data: 'not read' },
    { role: 'tokenizer_2', path: 'tokenizer_2/tokenizer_config.json', data: '{}' },
  ]);
  const sdxl = await withFiles('sdxl', [
    { role: 'tokenizer_2', path: 'tokenizer_2/vocab.json', data: vocab },
    { role: 'tokenizer_2', path: 'tokenizer_2/merges.txt', data: merges },
    { role: 'tokenizer_2', path: 'tokenizer_2/special_tokens_map.json', data: '{}' },
  ]);
  try {
    const mf = await makeBundle(flux, { family: 'flux-dev', id: 'f' }, false);
    assert.deepEqual(mf.files.filter((f) => f.role === 'tokenizer_2').map((f) => f.path), ['tokenizer_2/tokenizer.json']);
    const ms = await makeBundle(sdxl, { family: 'sdxl', id: 's' }, false);
    assert.deepEqual(ms.files.filter((f) => f.role === 'tokenizer_2').map((f) => f.path), ['tokenizer_2/merges.txt', 'tokenizer_2/vocab.json']);
  } finally {
    await rm(flux, { recursive: true, force: true });
    await rm(sdxl, { recursive: true, force: true });
  }
});

test('Flux takes prompts with tokenizer_2/tokenizer.json; without it only the empty prompt', async () => {
  const t5 = gunzipSync(await readFile(join(VEC, 't5/tokenizer.json.gz')));
  const clip = [
    { role: 'tokenizer', path: 'tokenizer/vocab.json', data: await readFile(join(VEC, 'clip/vocab.json')) },
    { role: 'tokenizer', path: 'tokenizer/merges.txt', data: await readFile(join(VEC, 'clip/merges.txt')) },
  ];
  const withT5 = await withFiles('flux-dev', [...clip, { role: 'tokenizer_2', path: 'tokenizer_2/tokenizer.json', data: t5 }]);
  const without = await withFiles('flux-dev', clip);
  const a = await loadDiffusionModel(withT5), b = await loadDiffusionModel(without);
  try {
    const x = (await a.model.encode([testImage()]))[0];
    const [y0] = await (await a.model.predictor(64, 64)).predict([{ x, alphaBar: 0.4 }]);
    const [y1] = await (await a.model.predictor(64, 64, { prompt: 'a photo of a cat' })).predict([{ x, alphaBar: 0.4 }]);
    assert.notDeepEqual(y0, y1);
    const [z0] = await (await b.model.predictor(64, 64)).predict([{ x, alphaBar: 0.4 }]);
    assert.deepEqual(z0, y0); // the empty prompt's fixed ids are the tokenizer's
    await assert.rejects(b.model.predictor(64, 64, { prompt: 'a photo of a cat' }), (e) => isFamilyError(e) && /T5 tokenizer/.test((e as Error).message));
  } finally {
    await a.model.close();
    await b.model.close();
    await rm(withT5, { recursive: true, force: true });
    await rm(without, { recursive: true, force: true });
  }
});

test("SDXL's second text encoder reads tokenizer_2/ when the bundle has it", async () => {
  const big = (role: string) => [
    { role, path: `${role}/vocab.json`, data: readFile(join(VEC, 'clip/vocab.json')) },
    { role, path: `${role}/merges.txt`, data: readFile(join(VEC, 'clip/merges.txt')) },
  ];
  // A different vocabulary for tokenizer_2 (the sd15 test bundle's), so that using it changes the ids.
  const small = [
    { role: 'tokenizer_2', path: 'tokenizer_2/vocab.json', data: readFile(join(TEST_MODELS, 'sd15/tokenizer/vocab.json')) },
    { role: 'tokenizer_2', path: 'tokenizer_2/merges.txt', data: readFile(join(TEST_MODELS, 'sd15/tokenizer/merges.txt')) },
  ];
  const make = async (fs: { role: string; path: string; data: Promise<Buffer> }[]) => withFiles('sdxl', await Promise.all(fs.map(async (f) => ({ ...f, data: await f.data }))));
  const dirs = [await make(big('tokenizer')), await make([...big('tokenizer'), ...big('tokenizer_2')]), await make([...big('tokenizer'), ...small])];
  const models = await Promise.all(dirs.map((d) => loadDiffusionModel(d)));
  try {
    const x = (await models[0].model.encode([testImage()]))[0];
    const run = async (i: number, prompt: string) => (await (await models[i].model.predictor(64, 64, { prompt })).predict([{ x, alphaBar: 0.4 }]))[0];
    const p = 'a photo of a cat!';
    assert.deepEqual(await run(1, p), await run(0, p)); // the same files under tokenizer_2: the same ids
    assert.notDeepEqual(await run(2, p), await run(0, p)); // other files under tokenizer_2: encoder 2 gets other ids
  } finally {
    for (const m of models) await m.model.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  }
});
