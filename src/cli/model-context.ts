/**
 * Resolving --model to a loaded DiffusionModel plus what the codec needs around it: named
 * coding schedules, protocol plans, and a DecodeContext for .dfc files.
 */
import { loadDctBundle, DctBundleError, DEFAULT_MODEL_DIR } from '../models/analytic-dct/bundle.js';
import type { DiffusionModel } from '../models/types.js';
import { makeCodingSchedule, scheduleFromId, type CodingSchedule } from '../codec/schedule/timesteps.js';
import { protocolPlans, type ChunkPlan, type CodingParams } from '../codec/chain/chunk-plan.js';
import type { DecodeContext } from '../codec/codec.js';
import { CliError } from './errors.js';

export interface LoadedModel {
  readonly model: DiffusionModel;
  readonly namedSchedules: Readonly<Record<string, readonly number[]>>;
}

export const DEFAULT_MODEL = 'default';

export async function loadModel(spec: string | undefined): Promise<LoadedModel> {
  const dir = spec === undefined || spec === DEFAULT_MODEL ? DEFAULT_MODEL_DIR : spec;
  try {
    const { model, schedules } = await loadDctBundle(dir);
    return { model, namedSchedules: schedules };
  } catch (e) {
    if (e instanceof DctBundleError) throw new CliError(`cannot load model '${spec ?? DEFAULT_MODEL}': ${e.message}`);
    throw e;
  }
}

export function resolveSchedule(lm: LoadedModel, id: string): CodingSchedule {
  const named = lm.namedSchedules[id];
  return named ? makeCodingSchedule(lm.model.table, named, id) : scheduleFromId(lm.model.table, id);
}

export function protocolFor(lm: LoadedModel, width: number, height: number, schedule: CodingSchedule, params: CodingParams): ChunkPlan[] | undefined {
  const m = lm.model;
  if (!m.expectedStepKlBits) return undefined;
  const s = m.latentShape(width, height);
  return protocolPlans(schedule.alphaBars, (a, b) => m.expectedStepKlBits!(width, height, a, b), s.channels * s.height * s.width, params);
}

/** Decoding context for files of a given padded size. */
export function decodeContext(lm: LoadedModel, width: number, height: number): DecodeContext {
  return {
    schedule: (id) => resolveSchedule(lm, id),
    protocol: lm.model.expectedStepKlBits ? (s, p) => protocolFor(lm, width, height, s, p)! : undefined,
    table: lm.model.table,
  };
}
