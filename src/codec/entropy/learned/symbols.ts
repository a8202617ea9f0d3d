/**
 * The part both learned streams share (docs/learned-entropy.md §4 steps 3–4, §5): the symbols in
 * order, each with its table, then the CRC-32 of the symbols as int32 little-endian in two 16-bit
 * halves. The callers say what a CRC that differs means for their stream.
 */
import { crc32 } from '../../format/crc32.js';
import type { RangeDecoder, RangeEncoder } from '../range-coder.js';
import { EntropyError } from './errors.js';
import { decodeSymbol, encodeSymbol, type CdfTable } from './tables.js';

/** The CRC-32 of symbols as int32 little-endian. */
export function symbolsCrc(symbols: Int32Array): number {
  return crc32(new Uint8Array(symbols.buffer, symbols.byteOffset, symbols.byteLength));
}

export function encodeSymbols(enc: RangeEncoder, symbols: Int32Array, tableAt: (i: number) => CdfTable): void {
  for (let i = 0; i < symbols.length; i++) encodeSymbol(enc, tableAt(i), symbols[i]);
  const crc = symbolsCrc(symbols);
  enc.encodeBits(crc >>> 16, 16);
  enc.encodeBits(crc & 0xffff, 16);
}

/** n symbols and whether their CRC matches the stored one; EntropyError('corrupt') when the stream ends first. */
export function decodeSymbols(dec: RangeDecoder, n: number, tableAt: (i: number) => CdfTable): { symbols: Int32Array; crcMatches: boolean } {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = decodeSymbol(dec, tableAt(i));
    if (dec.overrun > 4) throw new EntropyError('corrupt', `the stream ends after ${i} of ${n} symbols`);
  }
  const crc = ((dec.decodeBits(16) << 16) | dec.decodeBits(16)) >>> 0;
  if (dec.overrun > 4) throw new EntropyError('corrupt', 'the stream ends before its CRC');
  return { symbols: out, crcMatches: crc === symbolsCrc(out) };
}
