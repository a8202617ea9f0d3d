/**
 * CLIP's byte-level BPE tokenizer (openai/CLIP's, '</w>' word ends) reading the vocab.json +
 * merges.txt a diffusers export ships, producing the ids transformers' CLIPTokenizer gives (what
 * diffusers pipelines load):
 *   - the special tokens are split out of the text first and map to their ids: <|startoftext|>,
 *     <|endoftext|> and the pad token, so with SD 2.x's pad '!' (id 0) every '!' in a prompt is
 *     id 0, as transformers does (open_clip, which SD 2.x was trained with, BPE-encodes it to
 *     '!</w>' = 256; see docs/models.md for why diffc follows transformers);
 *   - each stretch between them is cleaned as clip-clean.ts says (NFC, whitespace collapsed,
 *     lower-cased), or refused when its ids depend on whether ftfy is installed;
 *   - words by CLIP's pattern, byte-level BPE by merge rank, unknown pieces -> <|endoftext|>
 *     (transformers' unk);
 *   - encode: BOS, the first maxLength - 2 tokens, EOS, then padding to maxLength.
 */
import { readFile } from 'node:fs/promises';
import { clipWords } from './clip-clean.js';

export const CLIP_BOS = 49406;
export const CLIP_EOS = 49407;

/** The merges transformers' CLIPTokenizer reads: merges.txt lines 1 .. 49152 - 256 - 2. */
const MAX_MERGES = 49152 - 256 - 2;

/** GPT-2's reversible byte -> printable character map. */
function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const out = new Array<string>(256);
  bs.forEach((b, i) => { out[b] = String.fromCharCode(cs[i]); });
  return out;
}

const enc = new TextEncoder();

export class ClipTokenizer {
  private readonly byteChars = bytesToUnicode();
  private readonly ranks: Map<string, number>;
  private readonly cache = new Map<string, string[]>();
  private readonly tokenOf = new Map<number, string>();
  readonly bos: number;
  readonly eos: number;

  constructor(private readonly vocab: ReadonlyMap<string, number>, merges: readonly string[], readonly maxLength = 77, readonly padId?: number) {
    this.ranks = new Map(merges.map((m, i) => [m, i]));
    this.bos = vocab.get('<|startoftext|>') ?? CLIP_BOS;
    this.eos = vocab.get('<|endoftext|>') ?? CLIP_EOS;
    for (const [t, id] of vocab) if (!this.tokenOf.has(id)) this.tokenOf.set(id, t);
    this.cache.set('<|startoftext|>', ['<|startoftext|>']);
    this.cache.set('<|endoftext|>', ['<|endoftext|>']);
  }

  static async load(vocabPath: string, mergesPath: string, maxLength = 77, padId?: number): Promise<ClipTokenizer> {
    const vocab = JSON.parse(await readFile(vocabPath, 'utf8')) as Record<string, number>;
    // As CLIPTokenizer: the first line is the '#version' header, then up to MAX_MERGES merges.
    const merges = (await readFile(mergesPath, 'utf8')).trim().split('\n').slice(1, MAX_MERGES + 1)
      .map((l) => l.trim().split(/\s+/).join(' '));
    return new ClipTokenizer(new Map(Object.entries(vocab)), merges, maxLength, padId);
  }

  /**
   * Token ids without BOS/EOS. `padId` names the pad token, which is split out as a special
   * token like BOS and EOS (transformers treats it as one).
   */
  tokenize(text: string, padId = this.padId ?? this.eos): number[] {
    const specials = ['<|startoftext|>', '<|endoftext|>'];
    const pad = this.tokenOf.get(padId);
    if (pad !== undefined && pad !== '' && !specials.includes(pad)) specials.push(pad);
    const ids: number[] = [];
    let from = 0;
    const words = (a: number, b: number) => {
      if (a >= b) return;
      for (const w of clipWords(text.slice(a, b))) {
        const word = Array.from(enc.encode(w), (x) => this.byteChars[x]).join('');
        for (const piece of this.bpe(word)) ids.push(this.vocab.get(piece) ?? this.eos);
      }
    };
    for (let i = 0; i < text.length;) {
      let best: string | undefined;
      for (const s of specials) if (text.startsWith(s, i) && (!best || s.length > best.length)) best = s;
      if (!best) {
        i++;
        continue;
      }
      words(from, i);
      ids.push(this.vocab.get(best) ?? this.eos);
      i = from = i + best.length;
    }
    words(from, text.length);
    return ids;
  }

  /** BOS, the prompt's tokens (truncated), EOS, then padding to maxLength. */
  encode(text: string, maxLength = this.maxLength, padId = this.padId ?? this.eos): number[] {
    const body = this.tokenize(text, padId).slice(0, maxLength - 2);
    const ids = [this.bos, ...body, this.eos];
    while (ids.length < maxLength) ids.push(padId);
    return ids;
  }

  private bpe(word: string): string[] {
    const hit = this.cache.get(word);
    if (hit) return hit;
    let parts = [...word];
    if (parts.length === 0) return [];
    parts[parts.length - 1] += '</w>';
    while (parts.length > 1) {
      let best = -1, bestRank = Infinity;
      for (let i = 0; i < parts.length - 1; i++) {
        const r = this.ranks.get(`${parts[i]} ${parts[i + 1]}`);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      const a = parts[best], b = parts[best + 1];
      const next: string[] = [];
      for (let i = 0; i < parts.length; i++) {
        if (i < parts.length - 1 && parts[i] === a && parts[i + 1] === b) {
          next.push(a + b);
          i++;
        } else {
          next.push(parts[i]);
        }
      }
      parts = next;
    }
    this.cache.set(word, parts);
    return parts;
  }
}

/** The ids a CLIP tokenizer gives the empty prompt: BOS, EOS, padding (needs no vocabulary). */
export function emptyClipIds(maxLength = 77, padId = CLIP_EOS): number[] {
  return [CLIP_BOS, CLIP_EOS, ...new Array<number>(Math.max(0, maxLength - 2)).fill(padId)];
}
