/**
 * Coding schedules: the decreasing list of DDPM timesteps the chain visits, starting from the
 * prior (alpha-bar 0, nothing sent). Identified in .dfc headers by an id and a 4-byte hash so a
 * decoder can refuse a schedule it does not have.
 *   even:N[:tmax]      N timesteps evenly spaced from tmax (default T-1) to 0 (exclusive of 0)
 *   list:t1,t2,...     explicit, e.g. from the optimiser (diffc schedule optimize)
 *   paper, paper-flow  the reference implementation's schedule (paper.ts; -flow for Flux)
 */
import { z } from 'zod';
import { isPaperSchedule, paperTimesteps } from './paper.js';

export interface CodingSchedule {
  readonly id: string;
  readonly hash: Uint8Array;
  readonly timesteps: readonly number[];
  readonly alphaBars: readonly number[];
}

export class ScheduleError extends Error {
  override readonly name = 'ScheduleError';
}

const Timesteps = z.array(z.number().int().nonnegative()).min(1);

export function makeCodingSchedule(table: Float64Array, timesteps: readonly number[], id?: string): CodingSchedule {
  const ts = Timesteps.parse(timesteps);
  for (let i = 0; i < ts.length; i++) {
    if (ts[i] >= table.length) throw new ScheduleError(`timestep ${ts[i]} outside the model's ${table.length} steps`);
    if (i > 0 && ts[i] >= ts[i - 1]) throw new ScheduleError('timesteps must strictly decrease');
  }
  const canonical = `list:${ts.join(',')}`;
  return {
    id: id ?? canonical,
    hash: fnv32Bytes(canonical),
    timesteps: ts,
    alphaBars: ts.map((t) => table[t]),
  };
}

export function evenTimesteps(count: number, tMax: number): number[] {
  if (!Number.isInteger(count) || count < 1 || count > tMax + 1) throw new ScheduleError(`cannot place ${count} steps in [0, ${tMax}]`);
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(Math.round(tMax * (1 - i / count)));
  return out;
}

export function scheduleFromId(table: Float64Array, id: string): CodingSchedule {
  const even = /^even:(\d+)(?::(\d+))?$/.exec(id);
  if (even) {
    const tMax = even[2] === undefined ? table.length - 1 : Number(even[2]);
    if (tMax >= table.length) throw new ScheduleError(`tmax ${tMax} outside the model's schedule`);
    return makeCodingSchedule(table, evenTimesteps(Number(even[1]), tMax), id);
  }
  const list = /^list:(\d+(?:,\d+)*)$/.exec(id);
  if (list) return makeCodingSchedule(table, list[1].split(',').map(Number), id);
  if (isPaperSchedule(id)) {
    if (table.length !== 1000) throw new ScheduleError(`the '${id}' schedule is defined on 1000-step tables, this model has ${table.length}`);
    return makeCodingSchedule(table, paperTimesteps(id, table), id);
  }
  throw new ScheduleError(`unknown schedule id '${id}' (expected even:N[:tmax], list:t1,t2,..., paper or paper-flow)`);
}

function fnv32Bytes(s: string): Uint8Array {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return new Uint8Array([h >>> 24, (h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff]);
}
