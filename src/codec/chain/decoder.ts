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

  /**
   * `from`: resume at that step with that state (an earlier decode of the same file reached it);
   * the symbols before it are read again (no model call) to put the reader at its step.
   */
  constructor(
    payload: Uint8Array, private readonly cfg: ChainConfig, private readonly dims: number, private readonly stepsCoded: number,
    from?: { readonly step: number; readonly state: Float32Array | null },
  ) {
    if (stepsCoded > cfg.schedule.timesteps.length) throw new RangeError(`${stepsCoded} steps coded but the schedule has ${cfg.schedule.timesteps.length}`);
    this.reader = new PayloadReader(payload, cfg.params, dims);
    if (!from || from.step === 0) return;
    if (from.step > stepsCoded) throw new RangeError(`cannot resume at step ${from.step}: only ${stepsCoded} steps to decode`);
    if (!from.state || from.state.length !== dims) throw new RangeError(`a resume state at step ${from.step} must hold ${dims} values`);
    for (let j = 0; j < from.step; j++) this.reader.readIndices(this.reader.readPlan(cfg.protocol ? protocolPlan(cfg.protocol, j) : undefined));
    this.stepIndex = from.step;
    this.state = from.state.slice();
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
