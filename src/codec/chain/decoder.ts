/**
 * The DiffC decoder: regenerates the encoder's chain exactly, step for step (encoder.ts).
 */
import type { DenoiseRequest } from '../model.js';
import { alphaBarBefore, chunkLayout, continueChain, stepCoefficients } from './chain-step.js';
import { PayloadReader } from './payload.js';
import { protocolPlan } from './encoder.js';
import type { ChainConfig } from './chain-config.js';

export class ChainDecoder {
  private state: Float32Array | null = null;
  private stepIndex = 0;
  private readonly reader: PayloadReader;

  constructor(payload: Uint8Array, private readonly cfg: ChainConfig, private readonly dims: number, private readonly stepsCoded: number) {
    if (stepsCoded > cfg.schedule.timesteps.length) throw new RangeError(`${stepsCoded} steps coded but the schedule has ${cfg.schedule.timesteps.length}`);
    this.reader = new PayloadReader(payload, cfg.params, dims);
  }

  get step(): number {
    return this.stepIndex;
  }

  get current(): Float32Array | null {
    return this.state;
  }

  /** alpha-bar of the current state (0 before any step). */
  get alphaBar(): number {
    return alphaBarBefore(this.cfg.schedule, this.stepIndex);
  }

  get done(): boolean {
    return this.stepIndex >= this.stepsCoded;
  }

  request(): DenoiseRequest {
    return { x: this.state ?? new Float32Array(this.dims), alphaBar: this.alphaBar };
  }

  advance(x0hat: Float32Array): void {
    if (this.done) throw new RangeError('all coded steps decoded');
    const { key, protocol } = this.cfg;
    const step = this.stepIndex;
    const plan = this.reader.readPlan(protocol ? protocolPlan(protocol, step) : undefined);
    const indices = this.reader.readIndices(plan);
    const layout = chunkLayout(key, step, this.dims, plan);
    this.state = continueChain(key, step, stepCoefficients(this.cfg.schedule, step), x0hat, this.state, layout, indices);
    this.stepIndex++;
  }

  get overrun(): number {
    return this.reader.overrun;
  }
}
