/**
 * The DiffC encoder as a resumable state machine over one image's latent. A driver asks for the
 * next denoising request, runs the model (batched across images), and calls advance() with x0-hat.
 * The decoder (decoder.ts) mirrors this step for step.
 */
import type { DenoiseRequest } from '../model.js';
import { targetShape, type RccBackend, type ChunkRequest } from '../rcc/select.js';
import { klBits, standardisedOffset } from '../diffusion/step-math.js';
import { planForKl, type ChunkPlan } from './chunk-plan.js';
import { alphaBarBefore, chunkLayout, continueChain, gatherChunk, stepCoefficients } from './chain-step.js';
import type { ChainConfig, StepRecord } from './chain-config.js';

export interface EncoderCheckpoint {
  readonly step: number;
  readonly state: Float32Array | null;
  readonly records: readonly StepRecord[];
}

export class ChainEncoder {
  private state: Float32Array | null;
  private readonly records: StepRecord[];

  constructor(private readonly x0: Float32Array, private readonly cfg: ChainConfig, from?: EncoderCheckpoint) {
    this.state = from?.state ?? null;
    this.records = from ? [...from.records] : [];
    if (from && from.records.length !== from.step) throw new RangeError('checkpoint step and record count disagree');
  }

  get step(): number {
    return this.records.length;
  }

  get stepsTotal(): number {
    return this.cfg.schedule.timesteps.length;
  }

  get done(): boolean {
    return this.step >= this.stepsTotal;
  }

  get steps(): readonly StepRecord[] {
    return this.records;
  }

  /** The noisy latent the chain is at (null before the first step: the prior). */
  get current(): Float32Array | null {
    return this.state;
  }

  checkpoint(): EncoderCheckpoint {
    return { step: this.step, state: this.state ? this.state.slice() : null, records: [...this.records] };
  }

  request(): DenoiseRequest {
    return { x: this.state ?? new Float32Array(this.x0.length), alphaBar: alphaBarBefore(this.cfg.schedule, this.step) };
  }

  async advance(x0hat: Float32Array, backend: RccBackend): Promise<StepRecord> {
    if (this.done) throw new RangeError('chain already complete');
    const { key, params, protocol } = this.cfg;
    const step = this.step;
    const coeffs = stepCoefficients(this.cfg.schedule, step);
    const d = standardisedOffset(coeffs, this.x0, x0hat);
    const kl = klBits(d);
    const plan: ChunkPlan = params.sideInfo === 'protocol' ? protocolPlan(protocol, step) : planForKl(kl, d.length, params);
    const layout = chunkLayout(key, step, d.length, plan);
    const s = params.targetStdPercent / 100;
    const requests: ChunkRequest[] = layout.sizes.map((_, c) => {
      const dc = gatherChunk(d, layout, c);
      return { addr: { key, step, chunk: c }, d: dc, k: plan.k, ...(s < 1 ? { shape: targetShape(dc, s) } : {}) };
    });
    const indices = (await backend.selectBatch(requests)).map((s) => s.index);
    this.state = continueChain(key, step, coeffs, x0hat, this.state, layout, indices);
    const rec: StepRecord = { plan, indices, klBits: kl };
    this.records.push(rec);
    return rec;
  }
}

export function protocolPlan(protocol: readonly ChunkPlan[] | undefined, step: number): ChunkPlan {
  const p = protocol?.[step];
  if (!p) throw new RangeError(`no protocol plan for step ${step}`);
  return p;
}
