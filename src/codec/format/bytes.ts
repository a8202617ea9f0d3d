/**
 * Byte-level reading and writing for the .dfc container (docs/format.md §3.2): unsigned LEB128
 * varints of at most 5 bytes (values < 2^32, minimal encoding only), fixed-width little-endian
 * words, raw byte strings. The reader checks every length against the bytes actually present
 * before it copies anything, and reports problems only as DfcError.
 */
import { DfcError } from './errors.js';

export const MAX_VARINT = 0xffffffff;

const F32 = new DataView(new ArrayBuffer(4));

export class ByteWriter {
  private buf = new Uint8Array(256);
  private len = 0;

  get length(): number {
    return this.len;
  }

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buf.subarray(0, this.len));
    this.buf = grown;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.len++] = v & 0xff;
  }

  /** Unsigned LEB128, minimal length. v is an integer in [0, 2^32). */
  varint(v: number): void {
    let x = v;
    while (x >= 0x80) {
      this.u8((x % 0x80) | 0x80);
      x = Math.floor(x / 0x80);
    }
    this.u8(x);
  }

  u32le(v: number): void {
    for (let i = 0; i < 4; i++) this.u8((v >>> (8 * i)) & 0xff);
  }

  /** IEEE-754 binary32, little-endian; v must be exactly representable (the caller checks). */
  f32le(v: number): void {
    F32.setFloat32(0, v, true);
    this.u32le(F32.getUint32(0, true));
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  /** varint length, then the bytes. */
  lengthPrefixed(b: Uint8Array): void {
    this.varint(b.length);
    this.bytes(b);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

export class ByteReader {
  private readonly buf: Uint8Array;
  private readonly end: number;
  pos = 0;

  /** Reads bytes[0, end). */
  constructor(buf: Uint8Array, end = buf.length) {
    this.buf = buf;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number, what: string): void {
    if (n > this.end - this.pos) {
      throw new DfcError('truncated', `${what}: needs ${n} bytes at offset ${this.pos}, ${this.end - this.pos} left`);
    }
  }

  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.pos++];
  }

  /** Unsigned LEB128 of at most 5 bytes, value < 2^32, no redundant trailing zero groups. */
  varint(what: string): number {
    const start = this.pos;
    let value = 0;
    for (let i = 0; i < 5; i++) {
      const b = this.u8(what);
      value += (b & 0x7f) * 2 ** (7 * i);
      if ((b & 0x80) === 0) {
        if (i > 0 && b === 0) throw new DfcError('corrupt', `${what}: non-minimal varint at offset ${start}`);
        if (value > MAX_VARINT) throw new DfcError('corrupt', `${what}: varint exceeds 2^32 - 1 at offset ${start}`);
        return value;
      }
    }
    throw new DfcError('corrupt', `${what}: varint longer than 5 bytes at offset ${start}`);
  }

  /** A varint checked against [min, max] (→ 'corrupt'). */
  boundedVarint(what: string, min: number, max: number): number {
    const start = this.pos;
    const v = this.varint(what);
    if (v < min || v > max) throw new DfcError('corrupt', `${what} = ${v} at offset ${start} outside [${min}, ${max}]`);
    return v;
  }

  u32le(what: string): number {
    this.need(4, what);
    const b = this.buf, p = this.pos;
    this.pos += 4;
    return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
  }

  /** The four bytes of an IEEE-754 binary32, little-endian, as their bit pattern (u32) and value. */
  f32le(what: string): { bits: number; value: number } {
    const bits = this.u32le(what);
    F32.setUint32(0, bits, true);
    return { bits, value: F32.getFloat32(0, true) };
  }

  /** n raw bytes, copied (n is checked against what is present before anything is allocated). */
  bytes(n: number, what: string): Uint8Array {
    this.need(n, what);
    const out = new Uint8Array(n); // a plain copy, also when the input is a Node Buffer
    out.set(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return out;
  }

  /** varint length in [0, maxLen] (→ 'corrupt' if larger), then that many bytes. */
  lengthPrefixed(maxLen: number, what: string): Uint8Array {
    const n = this.boundedVarint(`${what} length`, 0, maxLen);
    return this.bytes(n, what);
  }
}
