/**
 * The coding schedule of the reference implementation (Vonderfecht & Liu 2025, github
 * JeremyIV/diffc, configs/*.yaml `encoding_timesteps`): one list for SD 1.5, SD 2.1 and SDXL
 * (161 steps down to its t = 1) and its first 152 steps for Flux (down to t = 10).
 *
 * Its step t reads alphas_cumprod[t - 1] (its get_timestep_snr), so on a 1000-step DDPM table the
 * same noise levels are our timesteps t - 1: `paper` = the list minus one, ending at 0. Its Flux
 * model puts step t at the unshifted flow sigma (t - 1) / 1000; our Flux table is the shifted
 * sigma schedule, so `paper-flow` takes for each reference sigma the timestep of the model's
 * table nearest in log-SNR, dropping repeats (a few of the last, closely spaced steps merge).
 *
 * One difference stays: the reference starts its chain from pure noise treated as its t = 1000;
 * diffc's chain starts from the prior itself (alpha-bar 0), so the first step codes x_971 given
 * nothing rather than given an unrelated noise sample.
 */
import { alphaBarFromFlowSigma, snrFromAlphaBar } from './noise-level.js';

/** The reference's encoding timesteps, its own (1-based) numbering. */
export const REFERENCE_TIMESTEPS: readonly number[] = [
  972, 949, 929, 897, 869, 834, 805, 780, 751, 726, 704, 688, 670, 648, 627, 608, 591, 578, 561, 546, 530, 520, 510, 498, 491,
  480, 465, 455, 447, 438, 429, 419, 410, 402, 390, 380, 371, 361, 353, 345, 336, 326, 319, 313, 305, 296, 289, 282, 276, 269,
  261, 254, 247, 242, 237, 231, 224, 219, 213, 209, 204, 200, 194, 189, 185, 181, 175, 170, 167, 163, 160, 156, 153, 149, 146,
  143, 139, 135, 132, 129, 125, 121, 118, 116, 113, 110, 107, 104, 101, 99, 96, 94, 92, 90, 87, 85, 82, 80, 78, 76, 74, 72, 70,
  68, 66, 64, 62, 60, 58, 56, 54, 52, 50, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29, 28,
  27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1,
];

/** Flux stops at the reference's t = 10 (152 steps). */
export const REFERENCE_FLUX_LAST = 10;

export const PAPER_SCHEDULE_IDS = ['paper', 'paper-flow'] as const;
export type PaperScheduleId = (typeof PAPER_SCHEDULE_IDS)[number];

export function isPaperSchedule(id: string): id is PaperScheduleId {
  return (PAPER_SCHEDULE_IDS as readonly string[]).includes(id);
}

/** Our timesteps for a paper schedule on a model's alpha-bar table (1000 steps). */
export function paperTimesteps(id: PaperScheduleId, table: Float64Array): number[] {
  if (id === 'paper') return REFERENCE_TIMESTEPS.map((t) => t - 1);
  const out: number[] = [];
  for (const t of REFERENCE_TIMESTEPS) {
    if (t < REFERENCE_FLUX_LAST) break;
    const ts = nearestTimestep(table, alphaBarFromFlowSigma((t - 1) / 1000));
    if (out.length === 0 || ts < out[out.length - 1]) out.push(ts);
  }
  return out;
}

/** The integer timestep whose alpha-bar is nearest `ab` in log-SNR (the table decreases in t). */
function nearestTimestep(table: Float64Array, ab: number): number {
  const target = Math.log(snrFromAlphaBar(ab));
  let best = 0, bestD = Infinity;
  for (let t = 0; t < table.length; t++) {
    const d = Math.abs(Math.log(snrFromAlphaBar(table[t])) - target);
    if (d < bestD) {
      bestD = d;
      best = t;
    }
  }
  return best;
}
