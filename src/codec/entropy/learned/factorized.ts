/**
 * Factorized streams (docs/learned-entropy.md §2.4, §5): one fixed integer table per channel,
 * shipped by the model's exporter, so no float decides anything at coding time.
 */
import { RangeDecoder, RangeEncoder } from '../range-coder.js';
import { EntropyError } from './errors.js';
import { symbolsCrc } from './gaussian.js';
import { cdfTable, decodeSymbol, encodeSymbol, type CdfTable } from './tables.js';

/** A factorized prior's tables as a bundle ships them: per channel {offset, freqs (escape last)}. */
export interface FactorizedSpec {
  readonly channels: readonly { readonly offset: number; readonly freqs: readonly number[] }[];
}

export function factorizedTables(spec: FactorizedSpec): readonly CdfTable[] {
  if (spec.channels.length === 0) throw new EntropyError('invalid', 'a factorized prior needs at least one channel');
  return spec.channels.map((c, i) => {
    try {
      return cdfTable(c.offset, c.freqs);
    } catch (e) {
      throw new EntropyError('invalid', `channel ${i}: ${(e as Error).message}`);
    }
  });
}

/** Symbols in order, symbol i with the table of channel channelOf(i); then their CRC. */
export function encodeFactorized(symbols: Int32Array, channelOf: (i: number) => number, tables: readonly CdfTable[]): Uint8Array {
  const enc = new RangeEncoder();
  for (let i = 0; i < symbols.length; i++) encodeSymbol(enc, tableOf(tables, channelOf(i)), symbols[i]);
  const crc = symbolsCrc(symbols);
  enc.encodeBits(crc >>> 16, 16);
  enc.encodeBits(crc & 0xffff, 16);
  return enc.finish();
}

export function decodeFactorized(bytes: Uint8Array, n: number, channelOf: (i: number) => number, tables: readonly CdfTable[]): Int32Array {
  const dec = new RangeDecoder(bytes);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = decodeSymbol(dec, tableOf(tables, channelOf(i)));
    if (dec.overrun > 4) throw new EntropyError('corrupt', `the stream ends after ${i} of ${n} symbols`);
  }
  const crc = ((dec.decodeBits(16) << 16) | dec.decodeBits(16)) >>> 0;
  if (dec.overrun > 4) throw new EntropyError('corrupt', 'the stream ends before its CRC');
  if (crc !== symbolsCrc(out)) throw new EntropyError('corrupt', "the decoded symbols fail the stream's CRC: the stream is damaged or was coded with other tables");
  return out;
}

function tableOf(tables: readonly CdfTable[], c: number): CdfTable {
  const t = tables[c];
  if (!t) throw new EntropyError('invalid', `channel ${c} has no table (${tables.length} channels)`);
  return t;
}

