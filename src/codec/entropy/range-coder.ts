/**
 * Byte-oriented range coder with exact integer arithmetic (docs/format.md §2). 32-bit `low` and
 * `range`; a carry out of `low` is propagated into the bytes already written. Every quantity is an
 * integer below 2^33, so JavaScript numbers hold it exactly; no floating point decides anything.
 * The encoder and decoder mirror each other line for line.
 */

/** Renormalise whenever range < 2^24: one byte leaves the top of the 32-bit window. */
export const RANGE_TOP = 2 ** 32;
export const RANGE_BOT = 2 ** 24;
/** Largest totalFreq a caller may use (keeps floor(range / total) >= 2^8). */
export const MAX_TOTAL_FREQ = 2 ** 16;
/** encodeBits / decodeBits move at most this many raw bits per call. */
export const MAX_RAW_BITS = 16;

const INITIAL_RANGE = 0xffffffff;

function checkSymbol(cumFreq: number, freq: number, totalFreq: number): void {
  if (!(Number.isInteger(totalFreq) && totalFreq >= 1 && totalFreq <= MAX_TOTAL_FREQ
    && Number.isInteger(freq) && freq >= 1 && Number.isInteger(cumFreq) && cumFreq >= 0
    && cumFreq + freq <= totalFreq)) {
    throw new RangeError(`bad symbol range cum=${cumFreq} freq=${freq} total=${totalFreq}`);
  }
}

function checkBits(nbits: number): void {
  if (!(Number.isInteger(nbits) && nbits >= 0 && nbits <= MAX_RAW_BITS)) {
    throw new RangeError(`nbits ${nbits} outside [0, ${MAX_RAW_BITS}]`);
  }
}

/**
 * The sub-range a symbol [cum, cum+freq) of total gets (§2.2): r = floor(range / total); the last
 * symbol of the alphabet also takes the remainder, so no code space is lost at the top.
 * floor(range / total) is exact in doubles: range < 2^32 and total <= 2^16 keep the quotient at
 * least 2^-16 away from the next integer, far above double rounding (2^-53 relative).
 */
function subRange(range: number, cumFreq: number, freq: number, totalFreq: number, r: number): number {
  return cumFreq + freq === totalFreq ? range - r * cumFreq : r * freq;
}

export class RangeEncoder {
  private low = 0; // [0, 2^32) between calls
  private range = INITIAL_RANGE; // [2^24, 2^32) between calls
  private buf = new Uint8Array(64);
  private len = 0;
  private finished = false;

  encode(cumFreq: number, freq: number, totalFreq: number): void {
    checkSymbol(cumFreq, freq, totalFreq);
    this.encodeUnchecked(cumFreq, freq, totalFreq);
  }

  /** Raw bits: identical to encode(value, 1, 2^nbits). nbits in [0, 16]. */
  encodeBits(value: number, nbits: number): void {
    checkBits(nbits);
    if (nbits === 0) return;
    const total = 1 << nbits;
    if (!(Number.isInteger(value) && value >= 0 && value < total)) {
      throw new RangeError(`value ${value} does not fit in ${nbits} bits`);
    }
    this.encodeUnchecked(value, 1, total);
  }

  private encodeUnchecked(cumFreq: number, freq: number, totalFreq: number): void {
    if (this.finished) throw new Error('RangeEncoder: encode after finish()');
    const r = Math.floor(this.range / totalFreq);
    this.low += r * cumFreq; // < 2^33
    this.range = subRange(this.range, cumFreq, freq, totalFreq, r);
    if (this.low >= RANGE_TOP) {
      this.low -= RANGE_TOP;
      this.propagateCarry();
    }
    while (this.range < RANGE_BOT) {
      this.push(this.low >>> 24);
      this.low = (this.low % RANGE_BOT) * 256;
      this.range *= 256;
    }
  }

  /**
   * Ends the stream with the fewest bytes (§2.4): picks the value V in [low, low + range) with the
   * most trailing zero bits among the 0..4 byte tails; the decoder reads missing bytes as zeros.
   */
  finish(): Uint8Array {
    if (this.finished) throw new Error('RangeEncoder: finish() called twice');
    this.finished = true;
    for (let nbytes = 0; nbytes <= 4; nbytes++) {
      const unit = 2 ** (32 - 8 * nbytes);
      const v = Math.ceil(this.low / unit) * unit; // exact: unit is a power of two
      if (v < this.low + this.range) {
        let tail = v;
        if (tail >= RANGE_TOP) {
          tail -= RANGE_TOP;
          this.propagateCarry();
        }
        for (let i = 0; i < nbytes; i++) {
          this.push(Math.floor(tail / 2 ** (24 - 8 * i)) & 0xff);
        }
        break;
      }
    }
    return this.buf.slice(0, this.len);
  }

  private push(byte: number): void {
    if (this.len === this.buf.length) {
      const grown = new Uint8Array(this.buf.length * 2);
      grown.set(this.buf);
      this.buf = grown;
    }
    this.buf[this.len++] = byte;
  }

  /** Adds one to the bytes written so far (big-endian). Never runs past the first byte (§2.3). */
  private propagateCarry(): void {
    let i = this.len - 1;
    while (i >= 0 && this.buf[i] === 0xff) this.buf[i--] = 0;
    if (i < 0) throw new Error('RangeEncoder: carry out of the stream (internal error)');
    this.buf[i]++;
  }
}

export class RangeDecoder {
  private readonly bytes: Uint8Array;
  private pos = 0;
  private code = 0; // value - low, in [0, range) for a valid stream; [0, 2^32) always
  private range = INITIAL_RANGE;
  private over = 0;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    for (let i = 0; i < 4; i++) this.code = this.code * 256 + this.nextByte();
  }

  /** Bytes read beyond the end so far (reads past the end yield zeros). A complete valid stream ends with overrun <= 4. */
  get overrun(): number {
    return this.over;
  }

  /** Value in [0, totalFreq) identifying the symbol whose [cum, cum+freq) contains it. */
  decodeTarget(totalFreq: number): number {
    if (!(Number.isInteger(totalFreq) && totalFreq >= 1 && totalFreq <= MAX_TOTAL_FREQ)) {
      throw new RangeError(`totalFreq ${totalFreq} outside [1, ${MAX_TOTAL_FREQ}]`);
    }
    const t = Math.floor(this.code / Math.floor(this.range / totalFreq));
    return t < totalFreq ? t : totalFreq - 1;
  }

  consume(cumFreq: number, freq: number, totalFreq: number): void {
    checkSymbol(cumFreq, freq, totalFreq);
    this.consumeUnchecked(cumFreq, freq, totalFreq);
  }

  decodeBits(nbits: number): number {
    checkBits(nbits);
    if (nbits === 0) return 0;
    const total = 1 << nbits;
    const v = this.decodeTarget(total);
    this.consumeUnchecked(v, 1, total);
    return v;
  }

  private consumeUnchecked(cumFreq: number, freq: number, totalFreq: number): void {
    const r = Math.floor(this.range / totalFreq);
    // Garbage input can leave code >= range; wrapping keeps every value a u32, and the
    // renormalisation loop still ends (range only grows there), so decoding never hangs.
    this.code = (this.code - r * cumFreq) >>> 0;
    this.range = subRange(this.range, cumFreq, freq, totalFreq, r);
    while (this.range < RANGE_BOT) {
      this.code = ((this.code << 8) | this.nextByte()) >>> 0;
      this.range *= 256;
    }
  }

  private nextByte(): number {
    if (this.pos < this.bytes.length) return this.bytes[this.pos++];
    this.over++;
    return 0;
  }
}
