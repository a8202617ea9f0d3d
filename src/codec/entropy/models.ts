/**
 * Frequency models for the range coder (docs/format.md §2.6–§2.8): a static model from integer
 * frequencies, an adaptive model with deterministic integer updates, and an integer coder
 * (Elias-gamma-like bucket under an adaptive model, then raw bits). Encode and decode of each
 * model mirror each other and update state identically.
 */
import { MAX_RAW_BITS, MAX_TOTAL_FREQ, type RangeDecoder, type RangeEncoder } from './range-coder.js';

function checkSym(sym: number, nsym: number): void {
  if (!(Number.isInteger(sym) && sym >= 0 && sym < nsym)) {
    throw new RangeError(`symbol ${sym} outside [0, ${nsym})`);
  }
}

function checkFreqs(freqs: readonly number[], limit: number, what: string): number {
  let total = 0;
  for (const f of freqs) {
    if (!(Number.isInteger(f) && f >= 1)) throw new RangeError(`${what}: frequency ${f} is not an integer >= 1`);
    total += f;
  }
  if (freqs.length === 0 || total > limit) {
    throw new RangeError(`${what}: ${freqs.length} symbols with total ${total} (need 1 or more, total <= ${limit})`);
  }
  return total;
}

/** Fixed model from integer frequencies (each >= 1, total <= 2^16). */
export class StaticModel {
  readonly nsym: number;
  readonly total: number;
  /** cum[s] = sum of freqs below s; cum[nsym] = total. */
  private readonly cum: Uint32Array;

  constructor(freqs: readonly number[]) {
    this.total = checkFreqs(freqs, MAX_TOTAL_FREQ, 'StaticModel');
    this.nsym = freqs.length;
    this.cum = new Uint32Array(this.nsym + 1);
    for (let s = 0; s < this.nsym; s++) this.cum[s + 1] = this.cum[s] + freqs[s];
  }

  encode(enc: RangeEncoder, sym: number): void {
    checkSym(sym, this.nsym);
    enc.encode(this.cum[sym], this.cum[sym + 1] - this.cum[sym], this.total);
  }

  decode(dec: RangeDecoder): number {
    const t = dec.decodeTarget(this.total);
    // Largest s with cum[s] <= t (binary search; cum is strictly increasing).
    let lo = 0, hi = this.nsym - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.cum[mid] <= t) lo = mid;
      else hi = mid - 1;
    }
    dec.consume(this.cum[lo], this.cum[lo + 1] - this.cum[lo], this.total);
    return lo;
  }

  /** Ideal code length of sym in bits. */
  cost(sym: number): number {
    checkSym(sym, this.nsym);
    return Math.log2(this.total / (this.cum[sym + 1] - this.cum[sym]));
  }
}

export interface AdaptiveModelOptions {
  /** Added to a symbol's frequency after it is coded. Default 32. */
  readonly increment?: number;
  /** When the total exceeds this, every frequency f becomes (f + 1) >> 1. Default 2^16. */
  readonly limit?: number;
  /** Starting frequencies (each >= 1). Default all 1. */
  readonly initial?: readonly number[];
}

export const ADAPTIVE_DEFAULT_INCREMENT = 32;
export const ADAPTIVE_DEFAULT_LIMIT = MAX_TOTAL_FREQ;

/**
 * Adaptive frequency model over nsym symbols (§2.7). After coding s: freq[s] += increment; if the
 * total then exceeds limit, all frequencies are halved rounding up (so they stay >= 1).
 * Requires nsym + increment <= limit <= 2^16, which makes one halving always enough.
 */
export class AdaptiveModel {
  readonly nsym: number;
  readonly increment: number;
  readonly limit: number;
  private readonly initial: Uint32Array;
  private readonly freq: Uint32Array;
  private total = 0;

  constructor(nsym: number, opts: AdaptiveModelOptions = {}) {
    const increment = opts.increment ?? ADAPTIVE_DEFAULT_INCREMENT;
    const limit = opts.limit ?? ADAPTIVE_DEFAULT_LIMIT;
    if (!(Number.isInteger(nsym) && nsym >= 1)) throw new RangeError(`AdaptiveModel: nsym ${nsym} must be an integer >= 1`);
    if (!(Number.isInteger(increment) && increment >= 1)) throw new RangeError(`AdaptiveModel: increment ${increment} must be an integer >= 1`);
    if (!(Number.isInteger(limit) && limit <= MAX_TOTAL_FREQ && nsym + increment <= limit)) {
      throw new RangeError(`AdaptiveModel: need nsym + increment <= limit <= ${MAX_TOTAL_FREQ} (nsym ${nsym}, increment ${increment}, limit ${limit})`);
    }
    const initial = opts.initial ?? new Array<number>(nsym).fill(1);
    if (initial.length !== nsym) throw new RangeError(`AdaptiveModel: ${initial.length} initial frequencies for ${nsym} symbols`);
    checkFreqs(initial, limit, 'AdaptiveModel');
    this.nsym = nsym;
    this.increment = increment;
    this.limit = limit;
    this.initial = Uint32Array.from(initial);
    this.freq = new Uint32Array(nsym);
    this.reset();
  }

  reset(): void {
    this.freq.set(this.initial);
    this.total = 0;
    for (let s = 0; s < this.nsym; s++) this.total += this.freq[s];
  }

  encode(enc: RangeEncoder, sym: number): void {
    checkSym(sym, this.nsym);
    let cum = 0;
    for (let s = 0; s < sym; s++) cum += this.freq[s];
    enc.encode(cum, this.freq[sym], this.total);
    this.update(sym);
  }

  decode(dec: RangeDecoder): number {
    const t = dec.decodeTarget(this.total);
    let cum = 0, s = 0;
    while (cum + this.freq[s] <= t) cum += this.freq[s++]; // ends: t < total
    dec.consume(cum, this.freq[s], this.total);
    this.update(s);
    return s;
  }

  /** Ideal code length of sym under the current state, in bits. */
  cost(sym: number): number {
    checkSym(sym, this.nsym);
    return Math.log2(this.total / this.freq[sym]);
  }

  /** Current frequencies (a copy), for tests and diagnostics. */
  frequencies(): number[] {
    return Array.from(this.freq);
  }

  private update(sym: number): void {
    this.freq[sym] += this.increment;
    this.total += this.increment;
    if (this.total > this.limit) {
      this.total = 0;
      for (let s = 0; s < this.nsym; s++) {
        this.freq[s] = (this.freq[s] + 1) >>> 1;
        this.total += this.freq[s];
      }
    }
  }
}

/** Bucket of a value (§2.8): 0 for 0, else its bit length (1..32). */
export function intBucket(value: number): number {
  return value === 0 ? 0 : 32 - Math.clz32(value);
}

/**
 * Unsigned integers in [0, 2^(maxBuckets-1)) (maxBuckets <= 33, so < 2^32): the bucket b = bit
 * length of the value under an AdaptiveModel(maxBuckets), then for b >= 2 the b - 1 bits below the
 * leading one as raw bits, most significant 16-bit group first.
 */
export class AdaptiveIntCoder {
  readonly maxBuckets: number;
  private readonly buckets: AdaptiveModel;

  constructor(maxBuckets = 33, opts: AdaptiveModelOptions = {}) {
    if (!(Number.isInteger(maxBuckets) && maxBuckets >= 1 && maxBuckets <= 33)) {
      throw new RangeError(`AdaptiveIntCoder: maxBuckets ${maxBuckets} outside [1, 33]`);
    }
    this.maxBuckets = maxBuckets;
    this.buckets = new AdaptiveModel(maxBuckets, opts);
  }

  /** Values this coder accepts are below this bound. */
  get bound(): number {
    return 2 ** (this.maxBuckets - 1);
  }

  encode(enc: RangeEncoder, value: number): void {
    if (!(Number.isInteger(value) && value >= 0 && value < this.bound)) {
      throw new RangeError(`AdaptiveIntCoder: value ${value} outside [0, ${this.bound})`);
    }
    const b = intBucket(value);
    this.buckets.encode(enc, b);
    let n = b - 1; // raw bits below the leading one
    while (n > MAX_RAW_BITS) {
      n -= MAX_RAW_BITS;
      enc.encodeBits(Math.floor(value / 2 ** n) & 0xffff, MAX_RAW_BITS);
    }
    if (n > 0) enc.encodeBits(value & ((1 << n) - 1), n);
  }

  decode(dec: RangeDecoder): number {
    const b = this.buckets.decode(dec);
    if (b === 0) return 0;
    let value = 1;
    let n = b - 1;
    while (n > MAX_RAW_BITS) {
      n -= MAX_RAW_BITS;
      value = value * 2 ** MAX_RAW_BITS + dec.decodeBits(MAX_RAW_BITS);
    }
    if (n > 0) value = value * 2 ** n + dec.decodeBits(n);
    return value;
  }

  /** Ideal code length of value under the current state, in bits. */
  cost(value: number): number {
    if (!(Number.isInteger(value) && value >= 0 && value < this.bound)) {
      throw new RangeError(`AdaptiveIntCoder: value ${value} outside [0, ${this.bound})`);
    }
    const b = intBucket(value);
    return this.buckets.cost(b) + Math.max(0, b - 1);
  }

  reset(): void {
    this.buckets.reset();
  }
}
