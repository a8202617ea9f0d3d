/**
 * The header's coded prompt (docs/format.md §3.7): the prompt's UTF-8 bytes range-coded (§2) in
 * order with one adaptive byte model that starts from English letter frequencies. Canonical: the
 * reader re-encodes what it decoded and accepts the field only if that gives the stored bytes, so
 * a header has exactly one encoding. Bounded: at most PROMPT_MAX_BYTES bytes, each costing at most
 * log2(limit) + 0.006 bits, so the coded form never exceeds 2n + 1 bytes and the decoder's work
 * is n symbols whatever the input.
 */
import { AdaptiveModel, RangeDecoder, RangeEncoder } from '../entropy/index.js';

/** Longest prompt in UTF-8 bytes (the limit of the raw prompt field too). */
export const PROMPT_MAX_BYTES = 4096;

/** Model parameters (§2.7): 256 byte symbols, increment 16, halving above a total of 2^13. */
export const PROMPT_MODEL = { nsym: 256, increment: 16, limit: 8192 } as const;

/** Space and a-z, most frequent first, with their initial frequencies (about 2x per-mille English letter frequencies). */
const LETTERS = ' etaoinshrdlcumwfgypbvkjxqz';
const LETTER_FREQ = [360, 254, 182, 164, 150, 140, 134, 126, 122, 120, 86, 80, 56, 56, 48, 48, 44, 40, 40, 38, 30, 20, 16, 4, 4, 2, 2];

/** Initial frequencies of the byte model: the letters above, A-Z and 0-9 2 each, , . - ' 8 each, every other byte 1 (sum 2659). */
export const PROMPT_PRIOR: readonly number[] = (() => {
  const f = new Array<number>(256).fill(1);
  for (let c = 0x41; c <= 0x5a; c++) f[c] = 2;
  for (let c = 0x30; c <= 0x39; c++) f[c] = 2;
  for (const ch of ",.-'") f[ch.charCodeAt(0)] = 8;
  for (let i = 0; i < LETTERS.length; i++) f[LETTERS.charCodeAt(i)] = LETTER_FREQ[i];
  return Object.freeze(f);
})();

const newModel = () => new AdaptiveModel(PROMPT_MODEL.nsym, { increment: PROMPT_MODEL.increment, limit: PROMPT_MODEL.limit, initial: PROMPT_PRIOR });

/** Most coded bytes for a prompt of n UTF-8 bytes. */
export const maxCodedPromptBytes = (n: number): number => 2 * n + 1;

/** The coded form of a prompt's UTF-8 bytes (zero bytes for the empty prompt). */
export function encodePromptBytes(utf8: Uint8Array): Uint8Array {
  const m = newModel();
  const enc = new RangeEncoder();
  for (const b of utf8) m.encode(enc, b);
  return enc.finish();
}

/**
 * The n bytes a coded prompt holds, or null when `coded` is not exactly what encodePromptBytes
 * writes for them (garbage, trailing bytes, a non-minimal tail). n must already be bounded.
 */
export function decodePromptBytes(coded: Uint8Array, n: number): Uint8Array | null {
  const m = newModel();
  const dec = new RangeDecoder(coded);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = m.decode(dec);
  const again = encodePromptBytes(out);
  if (again.length !== coded.length) return null;
  for (let i = 0; i < again.length; i++) if (again[i] !== coded[i]) return null;
  return out;
}
