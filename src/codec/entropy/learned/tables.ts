/**
 * Integer CDF tables and the coding of one symbol with them (docs/learned-entropy.md §2.1, §2.5,
 * §1 for Exp-Golomb): n ordinary symbols from `offset`, then an escape for anything outside.
 */
import { MAX_RAW_BITS, type RangeDecoder, type RangeEncoder } from '../range-coder.js';
import { EntropyError } from './errors.js';

export const PRECISION = 16;
export const TOTAL = 2 ** PRECISION;

export interface CdfTable {
  /** The symbol of table index 0. */
  readonly offset: number;
  /** Frequencies of the n ordinary symbols, then the escape; each >= 1, summing to 2^16. */
  readonly freqs: Uint32Array;
  /** Prefix sums of freqs (length n + 2). */
  readonly cum: Uint32Array;
}

export function cdfTable(offset: number, freqs: ArrayLike<number>): CdfTable {
  if (!Number.isSafeInteger(offset)) throw new EntropyError('invalid', `table offset ${offset} is not an integer`);
  if (freqs.length < 2) throw new EntropyError('invalid', 'a table needs at least one ordinary symbol and the escape');
  const f = Uint32Array.from(freqs);
  const cum = new Uint32Array(f.length + 1);
  for (let i = 0; i < f.length; i++) {
    if (!(Number.isInteger(freqs[i]) && freqs[i] >= 1)) throw new EntropyError('invalid', `frequency ${freqs[i]} at ${i} is not an integer >= 1`);
    cum[i + 1] = cum[i] + f[i];
  }
  if (cum[f.length] !== TOTAL) throw new EntropyError('invalid', `frequencies sum to ${cum[f.length]}, not 2^${PRECISION}`);
  return { offset, freqs: f, cum };
}

/** §2.1: a pmf over n ordinary symbols and the escape's mass, quantised to frequencies summing to 2^16. */
export function quantizeTable(offset: number, p: ArrayLike<number>, pEscape: number): CdfTable {
  const n = p.length;
  if (n + 1 > TOTAL) throw new EntropyError('invalid', `${n} symbols do not fit a 16-bit table`);
  const M = TOTAL - (n + 1);
  const f = new Array<number>(n + 1);
  let sum = 0, top = 0;
  for (let i = 0; i <= n; i++) {
    const q = i < n ? p[i] : pEscape;
    if (!(q >= 0 && q <= 1)) throw new EntropyError('invalid', `probability ${q} at ${i} is outside [0, 1]`);
    f[i] = 1 + Math.floor(q * M);
    sum += f[i];
    if (f[i] > f[top]) top = i;
  }
  f[top] += TOTAL - sum;
  if (f[top] < 1) throw new EntropyError('invalid', 'the pmf cannot be quantised (the largest frequency would drop below 1)');
  return cdfTable(offset, f);
}

/** §1: EG(v), v in [0, 2^31 - 2], as raw bits. */
export function encodeExpGolomb(enc: RangeEncoder, v: number): void {
  if (!(Number.isInteger(v) && v >= 0 && v <= 2 ** 31 - 2)) throw new EntropyError('invalid', `Exp-Golomb value ${v} out of range`);
  const x = v + 1;
  let n = 0;
  while (2 ** (n + 1) <= x) n++;
  for (let i = 0; i < n; i++) enc.encodeBits(1, 1);
  enc.encodeBits(0, 1);
  writeBits(enc, x - 2 ** n, n);
}

export function decodeExpGolomb(dec: RangeDecoder): number {
  let n = 0;
  while (dec.decodeBits(1) === 1) {
    if (++n > 30) throw new EntropyError('corrupt', 'an Exp-Golomb prefix longer than 30 bits');
  }
  return 2 ** n + readBits(dec, n) - 1;
}

/** n raw bits of v, most significant first, in chunks of at most 16. */
function writeBits(enc: RangeEncoder, v: number, n: number): void {
  for (let left = n; left > 0;) {
    const k = Math.min(MAX_RAW_BITS, left);
    left -= k;
    enc.encodeBits(Math.floor(v / 2 ** left) % 2 ** k, k);
  }
}

function readBits(dec: RangeDecoder, n: number): number {
  let v = 0;
  for (let left = n; left > 0;) {
    const k = Math.min(MAX_RAW_BITS, left);
    left -= k;
    v = v * 2 ** k + dec.decodeBits(k);
  }
  return v;
}

/** §2.5: one symbol with a table (escape, side bit and EG of the distance outside it). */
export function encodeSymbol(enc: RangeEncoder, t: CdfTable, s: number): void {
  if (!Number.isSafeInteger(s)) throw new EntropyError('invalid', `symbol ${s} is not an integer`);
  const n = t.freqs.length - 1;
  const i = s - t.offset;
  if (i >= 0 && i < n) {
    enc.encode(t.cum[i], t.freqs[i], TOTAL);
    return;
  }
  enc.encode(t.cum[n], t.freqs[n], TOTAL);
  const above = i >= n;
  enc.encodeBits(above ? 1 : 0, 1);
  encodeExpGolomb(enc, above ? s - (t.offset + n) : t.offset - 1 - s);
}

export function decodeSymbol(dec: RangeDecoder, t: CdfTable): number {
  const n = t.freqs.length - 1;
  const target = dec.decodeTarget(TOTAL);
  // Binary search for the last cum <= target.
  let lo = 0, hi = n;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (t.cum[mid] <= target) lo = mid; else hi = mid - 1;
  }
  dec.consume(t.cum[lo], t.freqs[lo], TOTAL);
  if (lo < n) return t.offset + lo;
  const above = dec.decodeBits(1) === 1;
  const d = decodeExpGolomb(dec);
  return above ? t.offset + n + d : t.offset - 1 - d;
}
