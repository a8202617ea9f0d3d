/**
 * Tokenizers against the real libraries' ids (test/vectors/tokenizers/, written by
 * scripts/parity/gen-tokenizer-vectors.py): CLIP vs transformers' CLIPTokenizer with and without
 * ftfy for both pad conventions, ftfy's mojibake detector.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ClipTokenizer } from '../src/models/onnx/clip-tokenizer.js';
import { FTFY_BADNESS, ftfyIsBad } from '../src/models/onnx/clip-clean.js';
import { ModelError } from '../src/models/errors.js';

const VEC = fileURLToPath(new URL('./vectors/tokenizers/', import.meta.url));

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
