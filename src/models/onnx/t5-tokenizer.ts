/**
 * T5's tokenizer as diffusers' Flux pipelines run it: T5TokenizerFast, i.e. the Hugging Face
 * `tokenizers` pipeline that tokenizer_2/tokenizer.json describes, reimplemented for the parts a
 * SentencePiece Unigram export uses (and refusing, with a ModelError, any other part):
 *
 *   added tokens  split out first (leftmost-longest), honouring lstrip / rstrip / single_word;
 *                 `normalized: false` ones on the raw text, `normalized: true` ones after
 *                 normalisation; each remaining segment is normalised and pre-tokenised alone
 *   normalizer    Sequence, Precompiled (SentencePiece's compiled charsmap: a Darts double-array
 *                 trie applied per extended grapheme cluster exactly as tokenizers' precompiled.rs
 *                 does, shortest trie match for a grapheme under 6 bytes, else char by char),
 *                 Replace (string or regex), Strip, NFC/NFD/NFKC/NFKD, Lowercase, Prepend
 *   pre_tokenizer Sequence, Metaspace (replacement, prepend_scheme always / never / first, split
 *                 before each replacement char), WhitespaceSplit
 *   model         Unigram: Viterbi over the pieces' log-probabilities (float64, ties to the
 *                 earliest-starting last piece, as tokenizers' encode_optimized), unknown chars as
 *                 unk with score min - 10, consecutive unknowns fused, byte_fallback to <0xXX>
 *                 pieces when the model says so
 *   post          TemplateProcessing (T5: `$A </s>`), truncation of the body to
 *                 maxLength - (specials added), right padding with <pad>
 *
 * Grapheme clusters come from Intl.Segmenter (ICU), which agrees with the unicode-segmentation
 * crate tokenizers uses for the clusters that matter here (under 6 UTF-8 bytes: a base letter
 * and combining marks, CR LF). spiece.model alone (without tokenizer.json) is not read: which
 * tokenizer.json transformers would convert it to depends on the transformers version.
 */
import { readFile } from 'node:fs/promises';
import { ModelError } from '../errors.js';

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: false });

/** Rust's char::is_whitespace (Unicode White_Space). */
const WS = /[\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/u;
const isWs = (c: string): boolean => WS.test(c);
/** Rust regex's \w (single_word's word boundary). */
const isWordChar = (c: string): boolean => /[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\u200c\u200d]/u.test(c);

function fail(where: string, msg: string): never {
  throw new ModelError('family', `${where}: ${msg}`);
}

// ---------------------------------------------------------------------------------------------
// Precompiled charsmap (SentencePiece normalizer_spec.precompiled_charsmap)
// ---------------------------------------------------------------------------------------------

export class PrecompiledCharsmap {
  private readonly units: Uint32Array;
  private readonly blob: Uint8Array;
  private readonly memo = new Map<string, string | null>();

  constructor(bytes: Uint8Array, where = 'precompiled_charsmap') {
    if (bytes.length < 4) fail(where, 'charsmap shorter than its header');
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const trieBytes = view.getUint32(0, true);
    if (trieBytes % 4 !== 0 || 4 + trieBytes > bytes.length) fail(where, `bad trie size ${trieBytes}`);
    this.units = new Uint32Array(trieBytes / 4);
    for (let i = 0; i < this.units.length; i++) this.units[i] = view.getUint32(4 + 4 * i, true);
    this.blob = bytes.subarray(4 + trieBytes);
  }

  /** Values (offsets into the normalised blob) of every trie key that is a prefix of `key`, shortest first. */
  private prefixValues(key: Uint8Array): number[] {
    const a = this.units, out: number[] = [];
    if (a.length === 0) return out;
    const offset = (u: number) => ((u >>> 10) << ((u & (1 << 9)) >>> 6)) >>> 0;
    let pos = offset(a[0]);
    for (const c of key) {
      if (c === 0) break;
      pos ^= c;
      if (pos >= a.length) return out;
      const u = a[pos];
      if ((u & 0x800000ff) >>> 0 !== c) return out;
      pos ^= offset(u);
      if ((u >>> 8) & 1) {
        if (pos >= a.length) return out;
        out.push(a[pos] & 0x7fffffff);
      }
    }
    return out;
  }

  /** tokenizers' Precompiled::transform: the replacement of the shortest matching prefix, if any. */
  transform(chunk: string): string | undefined {
    const hit = this.memo.get(chunk);
    if (hit !== undefined) return hit ?? undefined;
    const v = this.prefixValues(enc.encode(chunk));
    let r: string | null = null;
    if (v.length > 0) {
      let end = v[0];
      while (end < this.blob.length && this.blob[end] !== 0) end++;
      r = dec.decode(this.blob.subarray(v[0], end));
    }
    this.memo.set(chunk, r);
    return r ?? undefined;
  }

  normalize(s: string): string {
    let out = '';
    for (const { segment: g } of graphemes.segment(s)) {
      if (enc.encode(g).length < 6) {
        const t = this.transform(g);
        if (t !== undefined) {
          out += t;
          continue;
        }
      }
      for (const c of g) out += this.transform(c) ?? c;
    }
    return out;
  }
}

const graphemes = new Intl.Segmenter('en', { granularity: 'grapheme' });

// ---------------------------------------------------------------------------------------------
// Normalizers and pre-tokenizers of tokenizer.json
// ---------------------------------------------------------------------------------------------

type Json = Record<string, unknown>;
type Normalize = (s: string) => string;

function jsonRegex(pattern: unknown, where: string): RegExp | string {
  const p = pattern as Json | undefined;
  if (p && typeof p.String === 'string') return p.String;
  if (p && typeof p.Regex === 'string') {
    try {
      return new RegExp(p.Regex, 'gu');
    } catch (e) {
      fail(where, `regex ${JSON.stringify(p.Regex)} is not one diffc can run (${(e as Error).message})`);
    }
  }
  fail(where, `pattern ${JSON.stringify(pattern)} is neither {String} nor {Regex}`);
}

function replaceAll(s: string, pattern: RegExp | string, content: string): string {
  if (typeof pattern === 'string') return pattern === '' ? s : s.split(pattern).join(content);
  return s.replace(pattern, () => content);
}

function makeNormalizer(n: unknown, where: string): Normalize | undefined {
  if (n === null || n === undefined) return undefined;
  const j = n as Json;
  switch (j.type) {
    case 'Sequence': {
      const parts = ((j.normalizers as unknown[]) ?? []).map((x, i) => makeNormalizer(x, `${where}.normalizers[${i}]`)).filter((f): f is Normalize => f !== undefined);
      return (s) => parts.reduce((acc, f) => f(acc), s);
    }
    case 'Precompiled': {
      const b64 = j.precompiled_charsmap;
      if (b64 === null || b64 === undefined || b64 === '') return undefined;
      if (typeof b64 !== 'string') fail(where, 'precompiled_charsmap is not a base64 string');
      const map = new PrecompiledCharsmap(Buffer.from(b64, 'base64'), where);
      return (s) => map.normalize(s);
    }
    case 'Replace': {
      const pattern = jsonRegex(j.pattern, where);
      const content = typeof j.content === 'string' ? j.content : fail(where, 'Replace without content');
      return (s) => replaceAll(s, pattern, content);
    }
    case 'Strip': {
      const left = j.strip_left !== false, right = j.strip_right !== false;
      return (s) => {
        const cs = [...s];
        let a = 0, b = cs.length;
        if (left) while (a < b && isWs(cs[a])) a++;
        if (right) while (b > a && isWs(cs[b - 1])) b--;
        return cs.slice(a, b).join('');
      };
    }
    case 'NFC': case 'NFD': case 'NFKC': case 'NFKD': {
      const form = j.type;
      return (s) => s.normalize(form);
    }
    case 'Lowercase':
      // per char, like tokenizers (no final-sigma context)
      return (s) => Array.from(s, (c) => c.toLowerCase()).join('');
    case 'Prepend': {
      const p = typeof j.prepend === 'string' ? j.prepend : fail(where, 'Prepend without prepend');
      return (s) => (s === '' ? s : p + s);
    }
    default:
      fail(where, `normalizer type ${JSON.stringify(j.type)} is not supported by diffc's T5 tokenizer`);
  }
}

/** A piece of pre-tokenised text; `atStart`: it begins at offset 0 of the original input (undefined: not tracked). */
interface Piece { readonly text: string; readonly atStart: boolean | undefined }
type PreTokenize = (pieces: Piece[]) => Piece[];

function makePreTokenizer(p: unknown, where: string): PreTokenize | undefined {
  if (p === null || p === undefined) return undefined;
  const j = p as Json;
  switch (j.type) {
    case 'Sequence': {
      const parts = ((j.pretokenizers as unknown[]) ?? []).map((x, i) => makePreTokenizer(x, `${where}.pretokenizers[${i}]`)).filter((f): f is PreTokenize => f !== undefined);
      return (pieces) => parts.reduce((acc, f) => f(acc), pieces);
    }
    case 'WhitespaceSplit':
      return (pieces) => pieces.flatMap((pc) => {
        const out: Piece[] = [];
        let cur = '';
        for (const c of pc.text) {
          if (isWs(c)) {
            if (cur) out.push({ text: cur, atStart: undefined });
            cur = '';
          } else {
            cur += c;
          }
        }
        if (cur) out.push({ text: cur, atStart: undefined });
        return out;
      });
    case 'Metaspace': {
      const rep = typeof j.replacement === 'string' && [...j.replacement].length === 1 ? j.replacement : fail(where, 'Metaspace replacement must be one character');
      let scheme = j.prepend_scheme ?? 'always';
      if (j.add_prefix_space === false) scheme = 'never';
      if (scheme !== 'always' && scheme !== 'never' && scheme !== 'first') fail(where, `Metaspace prepend_scheme ${JSON.stringify(scheme)} is not supported`);
      const split = j.split !== false;
      return (pieces) => pieces.flatMap((pc) => {
        let s = pc.text.split(' ').join(rep);
        if (!s.startsWith(rep) && s !== '') {
          if (scheme === 'always') s = rep + s;
          else if (scheme === 'first') {
            if (pc.atStart === undefined) fail(where, "Metaspace prepend_scheme 'first' after a splitting pre-tokenizer is not supported");
            if (pc.atStart) s = rep + s;
          }
        }
        if (!split) return s ? [{ text: s, atStart: undefined }] : [];
        const out: Piece[] = [];
        let cur = '';
        for (const c of s) {
          if (c === rep && cur !== '') {
            out.push({ text: cur, atStart: undefined });
            cur = '';
          }
          cur += c;
        }
        if (cur) out.push({ text: cur, atStart: undefined });
        return out;
      });
    }
    default:
      fail(where, `pre_tokenizer type ${JSON.stringify(j.type)} is not supported by diffc's T5 tokenizer`);
  }
}

// ---------------------------------------------------------------------------------------------
// Unigram model
// ---------------------------------------------------------------------------------------------

interface TrieNode { next?: Map<number, TrieNode>; id?: number }

const K_UNK_PENALTY = 10;

class Unigram {
  private readonly root: TrieNode = {};
  private readonly ids = new Map<string, number>();
  private readonly scores: Float64Array;
  private readonly unkScore: number;

  constructor(vocab: readonly (readonly [string, number])[], readonly unkId: number | undefined, readonly byteFallback: boolean, where: string) {
    this.scores = new Float64Array(vocab.length);
    let min = Infinity;
    vocab.forEach(([piece, score], id) => {
      if (typeof piece !== 'string' || typeof score !== 'number') fail(where, `vocab entry ${id} is not [piece, score]`);
      this.ids.set(piece, id);
      this.scores[id] = score;
      if (score < min) min = score;
      let n = this.root;
      for (const c of piece) {
        const cp = c.codePointAt(0)!;
        n.next ??= new Map();
        let m = n.next.get(cp);
        if (!m) n.next.set(cp, (m = {}));
        n = m;
      }
      n.id = id;
    });
    if (unkId !== undefined && (unkId < 0 || unkId >= vocab.length)) fail(where, `unk_id ${unkId} outside the vocabulary`);
    this.unkScore = min - K_UNK_PENALTY;
  }

  /** Pieces of the best segmentation (tokenizers' Unigram::encode_optimized, unknowns fused). */
  private segment(s: string): { text: string; unk: boolean }[] {
    const cps = Array.from(s);
    const n = cps.length;
    if (n === 0) return [];
    const score = new Float64Array(n + 1);
    const from = new Int32Array(n + 1).fill(-1);
    const id = new Int32Array(n + 1).fill(-1);
    const UNK = -2;
    for (let i = 0; i < n; i++) {
      if (i > 0 && from[i] < 0) continue; // unreachable (cannot happen: every char has a node)
      const base = score[i];
      let node: TrieNode | undefined = this.root, single = false;
      for (let k = i; k < n && node; k++) {
        node = node.next?.get(cps[k].codePointAt(0)!);
        if (node?.id !== undefined) {
          const end = k + 1, cand = this.scores[node.id] + base;
          if (from[end] < 0 || cand > score[end]) {
            score[end] = cand;
            from[end] = i;
            id[end] = node.id;
          }
          if (end === i + 1) single = true;
        }
      }
      if (!single) {
        const end = i + 1, cand = this.unkScore + base;
        if (from[end] < 0 || cand > score[end]) {
          score[end] = cand;
          from[end] = i;
          id[end] = UNK;
        }
      }
    }
    const out: { text: string; unk: boolean }[] = [];
    let unk: string[] = [];
    for (let end = n; end > 0;) {
      const start = from[end];
      const text = cps.slice(start, end).join('');
      if (id[end] === UNK && this.unkId !== undefined) {
        unk.push(text);
      } else {
        if (unk.length) out.push({ text: unk.reverse().join(''), unk: true });
        unk = [];
        out.push({ text, unk: id[end] === UNK });
      }
      end = start;
    }
    if (unk.length) out.push({ text: unk.reverse().join(''), unk: true });
    return out.reverse();
  }

  tokenize(s: string, where: string): number[] {
    const out: number[] = [];
    for (const p of this.segment(s)) {
      const known = this.ids.get(p.text);
      if (known !== undefined) {
        out.push(known);
        continue;
      }
      if (this.byteFallback) {
        const bytes = Array.from(enc.encode(p.text), (b) => this.ids.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`));
        if (bytes.every((b) => b !== undefined)) {
          out.push(...(bytes as number[]));
          continue;
        }
      }
      if (this.unkId === undefined) fail(where, `no piece for ${JSON.stringify(p.text)} and the model has no unk_id`);
      out.push(this.unkId);
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// The tokenizer
// ---------------------------------------------------------------------------------------------

interface AddedToken {
  readonly id: number;
  readonly content: string;
  readonly singleWord: boolean;
  readonly lstrip: boolean;
  readonly rstrip: boolean;
  readonly normalized: boolean;
}

/** A stretch of the input: an added token's (id) or text to tokenize; atStart: it begins at offset 0 of the input. */
interface Segment { readonly text: string; readonly atStart: boolean; readonly id?: number }

export class T5Tokenizer {
  private readonly normalize?: Normalize;
  private readonly preTokenize?: PreTokenize;
  private readonly model: Unigram;
  private readonly raw: readonly AddedToken[];
  private readonly norm: readonly AddedToken[];
  /** Ids the post-processor puts after the body (T5: [</s>]) and before it (none for T5). */
  private readonly prefix: readonly number[];
  private readonly suffix: readonly number[];
  readonly padId: number;
  readonly eosId: number;

  constructor(json: unknown, readonly source = 'tokenizer.json') {
    const j = json as Json;
    if (!j || typeof j !== 'object') fail(source, 'not a JSON object');
    const m = j.model as Json | undefined;
    if (!m || m.type !== 'Unigram') fail(source, `model type ${JSON.stringify(m?.type)}: diffc's T5 tokenizer reads SentencePiece Unigram models only`);
    if (!Array.isArray(m.vocab)) fail(source, 'model.vocab is not a list of [piece, score]');
    const unk = typeof m.unk_id === 'number' ? m.unk_id : undefined;
    this.model = new Unigram(m.vocab as [string, number][], unk, m.byte_fallback === true, `${source} model`);
    this.normalize = makeNormalizer(j.normalizer, `${source} normalizer`);
    this.preTokenize = makePreTokenizer(j.pre_tokenizer, `${source} pre_tokenizer`);
    const added = ((j.added_tokens as Json[] | undefined) ?? []).map((t): AddedToken => ({
      id: Number(t.id), content: String(t.content), singleWord: t.single_word === true, lstrip: t.lstrip === true,
      rstrip: t.rstrip === true, normalized: t.normalized === true,
    })).filter((t) => t.content !== '');
    this.raw = added.filter((t) => !t.normalized);
    this.norm = added.filter((t) => t.normalized);
    const byContent = new Map(added.map((t) => [t.content, t.id]));
    const vocabId = (tok: string) => byContent.get(tok) ?? (m.vocab as [string, number][]).findIndex(([p]) => p === tok);
    const post = j.post_processor as Json | null | undefined;
    const prefix: number[] = [], suffix: number[] = [];
    if (post) {
      if (post.type !== 'TemplateProcessing') fail(source, `post_processor type ${JSON.stringify(post.type)} is not supported`);
      const specials = (post.special_tokens ?? {}) as Record<string, { ids?: number[] }>;
      let seenA = false;
      for (const item of (post.single as Json[]) ?? []) {
        if (item.Sequence) {
          if ((item.Sequence as Json).id !== 'A' || seenA) fail(source, 'post_processor.single must hold $A once');
          seenA = true;
        } else if (item.SpecialToken) {
          const name = String((item.SpecialToken as Json).id);
          const ids = specials[name]?.ids;
          if (!ids) fail(source, `post_processor special token ${name} has no ids`);
          (seenA ? suffix : prefix).push(...ids);
        } else {
          fail(source, `post_processor.single item ${JSON.stringify(item)} is not understood`);
        }
      }
      if (!seenA) fail(source, 'post_processor.single has no $A');
    }
    this.prefix = prefix;
    this.suffix = suffix;
    const pad = vocabId('<pad>'), eos = vocabId('</s>');
    this.padId = pad >= 0 ? pad : 0;
    this.eosId = eos >= 0 ? eos : 1;
  }

  static async load(path: string): Promise<T5Tokenizer> {
    let json: unknown;
    try {
      json = JSON.parse(await readFile(path, 'utf8'));
    } catch (e) {
      throw new ModelError('family', `${path}: not a readable tokenizer.json (${(e as Error).message})`);
    }
    return new T5Tokenizer(json, path);
  }

  /** Special tokens added around the body (T5: 1, the </s>). */
  get addedCount(): number {
    return this.prefix.length + this.suffix.length;
  }

  /** The body's ids (no post-processor tokens, no truncation). */
  tokenize(text: string): number[] {
    const ids: number[] = [];
    for (const seg of this.split(text, this.raw, true)) {
      if (seg.id !== undefined) {
        ids.push(seg.id);
        continue;
      }
      const normalized = this.normalize ? this.normalize(seg.text) : seg.text;
      for (const s2 of this.split(normalized, this.norm, seg.atStart)) {
        if (s2.id !== undefined) {
          ids.push(s2.id);
          continue;
        }
        let pieces: Piece[] = [{ text: s2.text, atStart: s2.atStart }];
        if (this.preTokenize) pieces = this.preTokenize(pieces);
        for (const pc of pieces) if (pc.text !== '') ids.push(...this.model.tokenize(pc.text, this.source));
      }
    }
    return ids;
  }

  /** T5TokenizerFast(text, padding='max_length', max_length, truncation=True).input_ids. */
  encode(text: string, maxLength: number): number[] {
    if (maxLength < this.addedCount) throw new RangeError(`maxLength ${maxLength} leaves no room for ${this.addedCount} special tokens`);
    const body = this.tokenize(text).slice(0, maxLength - this.addedCount);
    const ids = [...this.prefix, ...body, ...this.suffix];
    while (ids.length < maxLength) ids.push(this.padId);
    return ids;
  }

  /**
   * tokenizers' AddedVocabulary split: leftmost-longest matches of the added tokens in `s`, with
   * their lstrip / rstrip / single_word rules; text between them (empty stretches dropped).
   */
  private split(s: string, tokens: readonly AddedToken[], atStart: boolean): Segment[] {
    if (tokens.length === 0) return s === '' ? [] : [{ text: s, atStart }];
    const out: Segment[] = [];
    let from = 0;
    const push = (a: number, b: number) => {
      if (a < b) out.push({ text: s.slice(a, b), atStart: atStart && a === 0 });
    };
    for (let i = 0; i < s.length;) {
      let best: AddedToken | undefined;
      for (const t of tokens) if (s.startsWith(t.content, i) && (!best || t.content.length > best.content.length)) best = t;
      if (!best) {
        i++;
        continue;
      }
      let start = i, stop = i + best.content.length;
      if (best.singleWord) {
        const before = [...s.slice(0, start)].pop(), after = [...s.slice(stop)][0];
        if ((before !== undefined && isWordChar(before)) || (after !== undefined && isWordChar(after))) {
          i = stop; // the match is consumed, as in tokenizers' non-overlapping match iteration
          continue;
        }
      }
      if (best.lstrip) {
        let k = start;
        while (k > from && isWs(s[k - 1])) k--;
        start = k;
      }
      if (best.rstrip) while (stop < s.length && isWs(s[stop])) stop++;
      push(from, start);
      out.push({ text: s.slice(start, stop), atStart: false, id: best.id });
      from = stop;
      i = stop;
    }
    push(from, s.length);
    return out;
  }
}
