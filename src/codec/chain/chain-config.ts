import type { StreamKey } from '../rcc/candidates.js';
import type { CodingSchedule } from '../schedule/timesteps.js';
import type { ChunkPlan, CodingParams } from './chunk-plan.js';

/** Everything encoder and decoder must share, besides the model, to walk the same chain. */
export interface ChainConfig {
  readonly schedule: CodingSchedule;
  readonly params: CodingParams;
  readonly key: StreamKey;
  /** Per-step plans for sideInfo = 'protocol' (from the model bundle's KL table). */
  readonly protocol?: readonly ChunkPlan[];
}

/** One coded step: the plan and each chunk's winning index, plus the encoder's true KL. */
export interface StepRecord {
  readonly plan: ChunkPlan;
  readonly indices: readonly number[];
  readonly klBits: number;
}
