/**
 * Resolving --model to a loaded DiffusionModel plus what the codec needs around it: named
 * coding schedules, protocol plans, and a DecodeContext for .dfc files.
 */
import { resolve } from 'node:path';
import { embeddedModelForHash, modelCacheDir, resolveModel } from '../models/bundle.js';
import { readDfcHeader } from '../codec/format/index.js';
import { DEFAULT_MODEL_ID } from '../models/analytic-dct/bundle.js';
import { loadDiffusionModel } from '../models/load.js';
import { ModelError } from '../models/errors.js';
import type { Device } from '../models/onnx/session.js';
import type { DiffusionModel } from '../models/types.js';
import { makeCodingSchedule, scheduleFromId, type CodingSchedule } from '../codec/schedule/timesteps.js';
import { protocolPlans, type ChunkPlan, type CodingParams } from '../codec/chain/chunk-plan.js';
import type { DecodeContext } from '../codec/codec.js';

export interface LoadedModel {
  readonly model: DiffusionModel;
  readonly namedSchedules: Readonly<Record<string, readonly number[]>>;
}

export const DEFAULT_MODEL = 'default';

export interface LoadModelCliOptions {
  /** Model inference device for ONNX families (default: $DIFFC_DEVICE, else cpu). */
  readonly device?: Device;
  /** Largest batch per model call. */
  readonly maxBatch?: number;
}

/**
 * --model: 'default' (the embedded analytic model), a bundle directory, or the id of a pulled
 * model under the cache directory. Files are size-checked on every load and sha256-checked
 * unless unchanged since the last full check (bundles in the cache keep a stamp).
 */
export async function loadModel(spec: string | undefined, opts: LoadModelCliOptions = {}): Promise<LoadedModel> {
  try {
    const dir = await resolveModel(spec);
    const inCache = resolve(dir).startsWith(resolve(modelCacheDir()) + '/');
    const envDevice = process.env.DIFFC_DEVICE === 'cuda' ? 'cuda' : undefined;
    const { model, schedules } = await loadDiffusionModel(dir, { verify: true, stamp: inCache, device: opts.device ?? envDevice ?? 'cpu', maxBatch: opts.maxBatch });
    return { model, namedSchedules: schedules };
  } catch (e) {
    if (e instanceof ModelError) throw new ModelError(e.code, `cannot load model '${spec ?? DEFAULT_MODEL}': ${e.message}`, { cause: e });
    throw e;
  }
}

/**
 * The --model to decode a .dfc with: 'default' (or none) means the embedded model whose hash the
 * file carries when it is one (a file of an earlier default), else the default; any other value
 * stands. A file too short or corrupt for its header is left to the decoder to report.
 */
export async function modelSpecForFile<S extends string | undefined>(spec: S, bytes: Uint8Array): Promise<S | string> {
  if (spec !== undefined && spec !== DEFAULT_MODEL) return spec;
  let hash: Uint8Array;
  try {
    hash = readDfcHeader(bytes).model.hash;
  } catch {
    return spec;
  }
  const id = await embeddedModelForHash(hash);
  return id === undefined || id === DEFAULT_MODEL_ID ? spec : id;
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
