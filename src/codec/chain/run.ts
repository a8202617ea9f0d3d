/**
 * Drivers that run many chains together: one batched model call per step across images, RCC
 * chunks of all images in flight at once. Rate control stops each chain at a step count, a
 * timestep, or a bit budget (the longest prefix whose payload fits).
 */
import type { NoisePredictor } from '../model.js';
import { predictX0 } from '../model.js';
import type { RccBackend } from '../rcc/select.js';
import { coalescingBackend } from '../rcc/coalesce.js';
import { ChainEncoder, type EncoderCheckpoint } from './encoder.js';
import { ChainDecoder } from './decoder.js';
import { PayloadWriter, assemblePayload } from './payload.js';
import type { ChainConfig, StepRecord } from './chain-config.js';

export interface StopRule {
  /** Code at most this many steps. */
  readonly steps?: number;
  /** Stop once the chain reaches this timestep or below. */
  readonly timestep?: number;
  /** Keep the longest prefix of at most this many payload bits. */
  readonly maxBits?: number;
  /** Asked between steps: true pauses the chain where it is (a checkpoint, a drain, a cancel).
   *  The result is a valid prefix; resuming from it continues the same chain. */
  readonly pause?: () => boolean;
}

export interface StepEvent {
  readonly image: number;
  readonly step: number;
  readonly timestep: number;
  readonly klBits: number;
  readonly bits: number;
  readonly totalBits: number;
}

export interface EncodedChain {
  readonly records: readonly StepRecord[];
  readonly payload: Uint8Array;
  readonly bitsPerStep: readonly number[];
  /** The latent at the last coded step (what the decoder will hold), null if none. */
  readonly state: Float32Array | null;
  readonly alphaBar: number;
  /** The next step did not fit the bit budget: the chain is over at `records`. */
  readonly budgetSpent: boolean;
}

export interface EncodeJob {
  readonly x0: Float32Array;
  readonly cfg: ChainConfig;
  readonly stop?: StopRule;
  readonly resume?: EncoderCheckpoint;
}

export async function encodeChains(
  model: NoisePredictor, jobs: readonly EncodeJob[], backend: RccBackend,
  onStep?: (e: StepEvent) => void,
): Promise<EncodedChain[]> {
  // Every live image's chunks of a step in one backend pass.
  const rcc = jobs.length > 1 ? coalescingBackend(backend) : backend;
  const encs = jobs.map((j) => new ChainEncoder(j.x0, j.cfg, j.resume));
  const writers = jobs.map((j) => new PayloadWriter(j.cfg.params, j.x0.length));
  const bits = jobs.map(() => 0);
  const finished = jobs.map(() => false);
  const kept = jobs.map(() => 0);
  const overBudget = jobs.map(() => false);
  const states: (Float32Array | null)[] = jobs.map(() => null);
  // Replay resumed records through the cost tracker so budgets count them.
  encs.forEach((e, i) => {
    e.steps.forEach((r, j) => { bits[i] += writers[i].writeStep(r.plan, r.indices, jobs[i].cfg.protocol?.[j]); });
    kept[i] = e.steps.length;
    states[i] = e.current;
  });
  const shouldStop = (i: number): boolean => {
    const e = encs[i], stop = jobs[i].stop ?? {};
    if (e.done) return true;
    if (stop.steps !== undefined && e.step >= stop.steps) return true;
    if (stop.timestep !== undefined && e.step > 0 && jobs[i].cfg.schedule.timesteps[e.step - 1] <= stop.timestep) return true;
    return stop.pause?.() ?? false;
  };
  for (;;) {
    const live = encs.map((_, i) => i).filter((i) => !finished[i] && !shouldStop(i));
    encs.forEach((_, i) => { if (!live.includes(i)) finished[i] = true; });
    if (live.length === 0) break;
    const x0hats = await predictX0(model, live.map((i) => encs[i].request()));
    await Promise.all(live.map(async (i, j) => {
      const rec = await encs[i].advance(x0hats[j], rcc);
      const b = writers[i].writeStep(rec.plan, rec.indices, jobs[i].cfg.protocol?.[encs[i].step - 1]);
      const budget = jobs[i].stop?.maxBits;
      if (budget !== undefined && bits[i] + b > budget) {
        finished[i] = true; // this step does not fit: the payload keeps the prefix before it
        overBudget[i] = true;
        return;
      }
      bits[i] += b;
      kept[i] = encs[i].step;
      states[i] = encs[i].current;
      onStep?.({ image: i, step: encs[i].step - 1, timestep: jobs[i].cfg.schedule.timesteps[encs[i].step - 1], klBits: rec.klBits, bits: b, totalBits: bits[i] });
    }));
  }
  return encs.map((e, i) => {
    const records = e.steps.slice(0, kept[i]);
    const { bytes, bitsPerStep } = assemblePayload(jobs[i].cfg.params, jobs[i].x0.length, records, jobs[i].cfg.protocol);
    const n = records.length;
    return { records, payload: bytes, bitsPerStep, state: states[i], alphaBar: n === 0 ? 0 : jobs[i].cfg.schedule.alphaBars[n - 1], budgetSpent: overBudget[i] };
  });
}

export interface DecodeJob {
  readonly payload: Uint8Array;
  readonly cfg: ChainConfig;
  readonly dims: number;
  readonly stepsCoded: number;
  /** Decode only this many steps (progressive prefix). */
  readonly upto?: number;
  /** Continue from this point of the chain (an earlier decode's result), not from the prior. */
  readonly resume?: { readonly step: number; readonly state: Float32Array | null };
  /** Decode no further than this step index in this call. */
  readonly to?: number;
  /** Asked between steps: true pauses the chain where it is (resumable from the result). */
  readonly pause?: () => boolean;
}

export interface DecodedChain {
  readonly state: Float32Array | null;
  readonly alphaBar: number;
  readonly steps: number;
  readonly overrun: number;
}

export async function decodeChains(model: NoisePredictor, jobs: readonly DecodeJob[]): Promise<DecodedChain[]> {
  const decs = jobs.map((j) => new ChainDecoder(j.payload, j.cfg, j.dims, Math.min(j.stepsCoded, j.upto ?? j.stepsCoded), j.resume));
  const stopped = (i: number) => decs[i].done || (jobs[i].to !== undefined && decs[i].step >= jobs[i].to!) || (jobs[i].pause?.() ?? false);
  for (;;) {
    const live = decs.map((_, i) => i).filter((i) => !stopped(i));
    if (live.length === 0) break;
    const x0hats = await predictX0(model, live.map((i) => decs[i].request()));
    live.forEach((i, j) => decs[i].advance(x0hats[j]));
  }
  return decs.map((d) => ({ state: d.current, alphaBar: d.alphaBar, steps: d.step, overrun: d.overrun }));
}
