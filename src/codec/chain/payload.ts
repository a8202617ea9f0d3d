/**
 * The payload: one range-coded stream of steps (docs/format.md, "Payload"). Each step is
 *   [plan: zigzag(k - k_prev), zigzag(C - C_prev)]   (only with sideInfo = 'coded')
 *   C chunk indices, each as bucket b = floor(log2(i + 1)) under an adaptive model for its k,
 *   then the b low bits of i + 1 raw (none when b = k, the bucket's only member).
 * Writer and reader share SymbolModels so their adaptive states evolve identically; any prefix
 * of steps is a valid payload once re-encoded (see assemblePayload).
 */
import { AdaptiveIntCoder, AdaptiveModel, RangeDecoder, RangeEncoder } from '../entropy/index.js';
import { validatePlan, type ChunkPlan, type CodingParams } from './chunk-plan.js';

import { bucketPrior } from './bucket-priors.js';

/** Side-information deltas are mostly 0 or +1 (zigzag 0 or 2): int-coder buckets 0, 1, 2, 3+. */
const DELTA_PRIOR = [48, 6, 10, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1];
/** Wide deltas (coding blob version 2): the same prior, then fifteen more buckets of 1, values up to 2^32. */
const WIDE_DELTA_PRIOR = [...DELTA_PRIOR, ...new Array<number>(33 - DELTA_PRIOR.length).fill(1)];

class SymbolModels {
  private readonly buckets = new Map<number, AdaptiveModel>();
  readonly kDelta: AdaptiveIntCoder;
  readonly cDelta: AdaptiveIntCoder;
  prev: ChunkPlan = { chunks: 1, k: 0 };

  constructor(wide: boolean) {
    const prior = wide ? WIDE_DELTA_PRIOR : DELTA_PRIOR;
    this.kDelta = new AdaptiveIntCoder(prior.length, { initial: prior, increment: 8, limit: 1 << 10 });
    this.cDelta = new AdaptiveIntCoder(prior.length, { initial: prior, increment: 8, limit: 1 << 10 });
  }

  bucketModel(k: number): AdaptiveModel {
    let m = this.buckets.get(k);
    if (!m) {
      m = new AdaptiveModel(k + 1, { initial: bucketPrior(k), increment: 24, limit: 1 << 13 });
      this.buckets.set(k, m);
    }
    return m;
  }
}

const zigzag = (v: number) => (v >= 0 ? 2 * v : -2 * v - 1);
const unzigzag = (u: number) => (u & 1 ? -(u + 1) / 2 : u / 2);

function bucketOf(index: number): number {
  return 31 - Math.clz32(index + 1);
}

export class PayloadWriter {
  private readonly enc = new RangeEncoder();
  private readonly models: SymbolModels;

  constructor(private readonly params: CodingParams, private readonly dims: number) {
    this.models = new SymbolModels(params.wideDeltas);
  }

  /** Codes one step; returns its ideal code length in bits. `predicted` is the protocol plan, if any. */
  writeStep(plan: ChunkPlan, indices: readonly number[], predicted?: ChunkPlan): number {
    validatePlan(plan, this.dims, this.params);
    if (indices.length !== plan.chunks) throw new RangeError(`${indices.length} indices for ${plan.chunks} chunks`);
    const m = this.models;
    let bits = 0;
    if (this.params.sideInfo === 'coded') {
      const ref = predicted ?? m.prev;
      const dk = zigzag(plan.k - ref.k), dc = zigzag(plan.chunks - ref.chunks);
      if (dc >= m.cDelta.bound) {
        throw new RangeError(`the chunk count changes by ${plan.chunks - ref.chunks}, beyond narrow plan deltas: code latents of ${this.dims} values with wideDeltas (wideDeltasFor)`);
      }
      bits += m.kDelta.cost(dk) + m.cDelta.cost(dc);
      m.kDelta.encode(this.enc, dk);
      m.cDelta.encode(this.enc, dc);
      m.prev = plan;
    }
    const model = m.bucketModel(plan.k);
    for (const index of indices) {
      if (!Number.isInteger(index) || index < 0 || index >= 2 ** plan.k) throw new RangeError(`index ${index} outside 2^${plan.k}`);
      const b = bucketOf(index);
      bits += model.cost(b);
      model.encode(this.enc, b);
      if (b < plan.k) {
        writeRawBits(this.enc, index + 1 - 2 ** b, b);
        bits += b;
      }
    }
    return bits;
  }

  finish(): Uint8Array {
    return this.enc.finish();
  }
}

export class PayloadReader {
  private readonly dec: RangeDecoder;
  private readonly models: SymbolModels;

  constructor(bytes: Uint8Array, private readonly params: CodingParams, private readonly dims: number) {
    this.dec = new RangeDecoder(bytes);
    this.models = new SymbolModels(params.wideDeltas);
  }

  /** The step's plan: decoded (coded side info, predicted by the protocol plan if any) or given (protocol). */
  readPlan(protocolPlan?: ChunkPlan): ChunkPlan {
    const m = this.models;
    if (this.params.sideInfo === 'protocol') {
      if (!protocolPlan) throw new RangeError('protocol side info needs the protocol plan table');
      validatePlan(protocolPlan, this.dims, this.params);
      return protocolPlan;
    }
    const ref = protocolPlan ?? m.prev;
    const k = ref.k + unzigzag(m.kDelta.decode(this.dec));
    const chunks = ref.chunks + unzigzag(m.cDelta.decode(this.dec));
    const plan = { chunks, k };
    validatePlan(plan, this.dims, this.params); // garbage in a corrupt stream surfaces here
    m.prev = plan;
    return plan;
  }

  readIndices(plan: ChunkPlan): number[] {
    const model = this.models.bucketModel(plan.k);
    const out: number[] = [];
    for (let c = 0; c < plan.chunks; c++) {
      const b = model.decode(this.dec);
      out.push(b < plan.k ? 2 ** b + readRawBits(this.dec, b) - 1 : 2 ** plan.k - 1);
    }
    return out;
  }

  /** Bytes read past the end of the payload: up to 4 is normal (shortest flush), more means truncated or corrupt input. */
  get overrun(): number {
    return this.dec.overrun;
  }
}

function writeRawBits(enc: RangeEncoder, value: number, bits: number): void {
  let rest = bits;
  while (rest > 0) {
    const take = Math.min(16, rest);
    rest -= take;
    enc.encodeBits(Math.floor(value / 2 ** rest) % 2 ** take, take);
  }
}

function readRawBits(dec: RangeDecoder, bits: number): number {
  let v = 0;
  let rest = bits;
  while (rest > 0) {
    const take = Math.min(16, rest);
    rest -= take;
    v = v * 2 ** take + dec.decodeBits(take);
  }
  return v;
}

/** Range-codes a sequence of steps (a whole chain or any prefix of it). */
export function assemblePayload(
  params: CodingParams, dims: number, steps: readonly { plan: ChunkPlan; indices: readonly number[] }[],
  protocol?: readonly ChunkPlan[],
): { bytes: Uint8Array; bitsPerStep: number[] } {
  const w = new PayloadWriter(params, dims);
  const bitsPerStep = steps.map((s, j) => w.writeStep(s.plan, s.indices, protocol?.[j]));
  return { bytes: w.finish(), bitsPerStep };
}
