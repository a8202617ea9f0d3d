/**
 * Gaussian-conditional streams (docs/learned-entropy.md §4): symbols coded with the table of
 * their scale's bucket; scales near a bucket boundary listed with the bucket the encoder used, so
 * a decoder whose scales differ by float error (another device) still parses every symbol; a CRC
 * of the symbols turns a larger difference into EntropyError('desync').
 */
import { RangeDecoder, RangeEncoder } from '../range-coder.js';
import { EntropyError } from './errors.js';
import { gaussianTables, scaleIndex } from './gaussian-tables.js';
import { GUARD_DEFAULT, GUARD_MAX, GUARD_MIN, guardedBoundary, nearestBoundary } from './guard.js';
import { decodeExpGolomb, encodeExpGolomb } from './tables.js';
import { decodeSymbols, encodeSymbols } from './symbols.js';

export interface GaussianStats {
  /** Elements listed as guarded (§3). */
  readonly guarded: number;
  readonly bytes: number;
}

function checkGuard(g: number): void {
  if (!(Number.isInteger(g) && g >= GUARD_MIN && g <= GUARD_MAX)) throw new EntropyError('invalid', `guard exponent ${g} is outside ${GUARD_MIN}..${GUARD_MAX}`);
}

/** Codes `symbols[i]` with the bucket of `scales[i]` (float32 values, as the network gave them). */
export function encodeGaussian(symbols: Int32Array, scales: Float32Array, g = GUARD_DEFAULT): { bytes: Uint8Array; stats: GaussianStats } {
  checkGuard(g);
  const n = symbols.length;
  if (scales.length !== n) throw new EntropyError('invalid', `${n} symbols but ${scales.length} scales`);
  const tables = gaussianTables();
  const index = new Uint8Array(n);
  const guarded: number[] = [];
  for (let i = 0; i < n; i++) {
    index[i] = scaleIndex(scales[i]);
    if (guardedBoundary(scales[i], g) !== 0) guarded.push(i);
  }
  const enc = new RangeEncoder();
  enc.encodeBits(g - GUARD_MIN, 4);
  encodeExpGolomb(enc, guarded.length);
  let prev = -1;
  for (const i of guarded) {
    encodeExpGolomb(enc, i - prev - 1);
    prev = i;
    enc.encodeBits(index[i] === guardedBoundary(scales[i], g) ? 1 : 0, 1);
  }
  encodeSymbols(enc, symbols, (i) => tables[index[i]]);
  const bytes = enc.finish();
  return { bytes, stats: { guarded: guarded.length, bytes: bytes.length } };
}

/** Decodes n symbols with the decoder's own scales (which may differ from the encoder's within the stream's tolerance). */
export function decodeGaussian(bytes: Uint8Array, scales: Float32Array, n: number): Int32Array {
  if (scales.length !== n) throw new EntropyError('invalid', `${n} symbols but ${scales.length} scales`);
  const tables = gaussianTables();
  const dec = new RangeDecoder(bytes);
  dec.decodeBits(4); // g: only the encoder's guard test uses it
  const index = new Int16Array(n).fill(-1);
  const m = decodeExpGolomb(dec);
  if (m > n) throw new EntropyError('corrupt', `${m} guarded elements listed for ${n}`);
  let pos = -1;
  for (let j = 0; j < m; j++) {
    pos += decodeExpGolomb(dec) + 1;
    if (pos >= n) throw new EntropyError('corrupt', `guarded element ${pos} is past the ${n} elements`);
    const k = nearestBoundary(scales[pos]);
    index[pos] = dec.decodeBits(1) === 1 ? k : k - 1;
  }
  const { symbols: out, crcMatches } = decodeSymbols(dec, n, (i) => tables[index[i] >= 0 ? index[i] : scaleIndex(scales[i])]);
  if (!crcMatches) {
    throw new EntropyError('desync', "the decoded symbols fail the stream's CRC: the decoder's scales differ from the encoder's by more than the stream's tolerance, or the stream is damaged");
  }
  return out;
}
