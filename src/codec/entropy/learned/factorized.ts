/**
 * Factorized streams (docs/learned-entropy.md §2.4, §5): one fixed integer table per channel,
 * shipped by the model's exporter, so no float decides anything at coding time.
 */
import { RangeDecoder, RangeEncoder } from '../range-coder.js';
import { EntropyError } from './errors.js';
import { decodeSymbols, encodeSymbols } from './symbols.js';
import { cdfTable, type CdfTable } from './tables.js';

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
  encodeSymbols(enc, symbols, (i) => tableOf(tables, channelOf(i)));
  return enc.finish();
}

export function decodeFactorized(bytes: Uint8Array, n: number, channelOf: (i: number) => number, tables: readonly CdfTable[]): Int32Array {
  const { symbols: out, crcMatches } = decodeSymbols(new RangeDecoder(bytes), n, (i) => tableOf(tables, channelOf(i)));
  if (!crcMatches) throw new EntropyError('corrupt', "the decoded symbols fail the stream's CRC: the stream is damaged or was coded with other tables");
  return out;
}

function tableOf(tables: readonly CdfTable[], c: number): CdfTable {
  const t = tables[c];
  if (!t) throw new EntropyError('invalid', `channel ${c} has no table (${tables.length} channels)`);
  return t;
}

