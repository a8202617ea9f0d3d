/**
 * A minimal CLIP BPE tokenizer (byte-level BPE with '</w>' word ends, as in openai/CLIP and
 * transformers' CLIPTokenizer) reading the vocab.json + merges.txt a diffusers export ships.
 * Text is lower-cased and its whitespace collapsed; ftfy's mojibake repair and HTML unescaping
 * are not done, so prompts with broken Unicode or HTML entities may tokenize differently.
 */
import { readFile } from 'node:fs/promises';

export const CLIP_BOS = 49406;
export const CLIP_EOS = 49407;

const PATTERN = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+/giu;

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

export class ClipTokenizer {
  private readonly byteChars = bytesToUnicode();
  private readonly ranks: Map<string, number>;
  private readonly cache = new Map<string, string[]>();
  readonly bos: number;
  readonly eos: number;

  constructor(private readonly vocab: ReadonlyMap<string, number>, merges: readonly string[], readonly maxLength = 77, readonly padId?: number) {
    this.ranks = new Map(merges.map((m, i) => [m, i]));
    this.bos = vocab.get('<|startoftext|>') ?? CLIP_BOS;
    this.eos = vocab.get('<|endoftext|>') ?? CLIP_EOS;
  }

  static async load(vocabPath: string, mergesPath: string, maxLength = 77, padId?: number): Promise<ClipTokenizer> {
    const vocab = JSON.parse(await readFile(vocabPath, 'utf8')) as Record<string, number>;
    const merges = (await readFile(mergesPath, 'utf8')).split('\n')
      .filter((l, i) => l.trim() !== '' && !(i === 0 && l.startsWith('#version')));
    return new ClipTokenizer(new Map(Object.entries(vocab)), merges, maxLength, padId);
  }

  /** Token ids without BOS/EOS. */
  tokenize(text: string): number[] {
    const clean = text.replace(/\s+/g, ' ').trim().toLowerCase();
    const ids: number[] = [];
    for (const m of clean.matchAll(PATTERN)) {
      const word = Array.from(new TextEncoder().encode(m[0]), (b) => this.byteChars[b]).join('');
      for (const piece of this.bpe(word)) {
        const id = this.vocab.get(piece);
        if (id !== undefined) ids.push(id);
      }
    }
    return ids;
  }

  /** BOS, the prompt's tokens (truncated), EOS, then padding to maxLength. */
  encode(text: string, maxLength = this.maxLength, padId = this.padId ?? this.eos): number[] {
    const body = this.tokenize(text).slice(0, maxLength - 2);
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
    for (;;) {
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
