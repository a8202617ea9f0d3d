/**
 * Chooses the embedded default's denoiser settings by measurement on the fitting photos (never
 * the evaluation's): for each candidate, `measureKl` (what `diffc schedule measure` runs) gives
 * the x0-hat error e(t) at 100 noise levels, and from it the ideal DiffC rate-distortion curve:
 * coding every 10th timestep from the prior, the rate after reaching t is the sum of the step
 * KLs so far and the distortion e(t). The score is the mean latent PSNR at the rates the issue
 * cares about (0.03, 0.06, 0.12 bpp of the image), interpolated on that curve; the stationary
 * Wiener denoiser (version 1) is the reference row.
 * Usage: npx tsx scripts/tune-default-denoiser.ts [--json]    (photos: bash scripts/fetch-photos.sh)
 */
import { readFileSync } from 'node:fs';
import { DctModel } from '../src/models/analytic-dct/model.js';
import { DctModelParams, type LocalWienerParams } from '../src/models/analytic-dct/params.js';
import { FAMILY_TILING } from '../src/models/tiling.js';
import { measureKl } from '../src/pipeline/measure-kl.js';
import type { LoadedModel } from '../src/pipeline/model-context.js';
import type { KlMatrix } from '../src/codec/schedule/optimize.js';
import { posteriorCoefficients } from '../src/codec/diffusion/step-math.js';

export const FIT_PHOTOS = ['astronaut.png', 'coffee.png', 'chelsea.png', 'motorcycle_left.png'].map((p) => `.cache/photos/${p}`);
export const TARGET_BPP = [0.03, 0.06, 0.12];

type Candidate = Omit<LocalWienerParams, 'kind'>;
export const CANDIDATES: Candidate[] = [
  // One pass, all local; then a second (empirical Wiener) pass; then high-noise bands shared
  // with the stationary filter (mix), and the prior weight and over-subtraction around the best.
  { levels: 3, radius: [2, 3, 4], kappa: 16, beta: 2, mix: 0 },
  { levels: 3, radius: [2, 3, 4], kappa: 16, beta: 1.5, pilotRadius: [1, 2, 3], mix: 0 },
  { levels: 3, radius: [2, 3, 4], kappa: 16, beta: 1.5, pilotRadius: [1, 2, 3], mix: 0.25 },
  { levels: 3, radius: [2, 3, 4], kappa: 16, beta: 1.5, pilotRadius: [1, 2, 3], mix: 1 },
  { levels: 3, radius: [2, 3, 4], kappa: 1, beta: 1.5, pilotRadius: [1, 2, 3], mix: 0.25 },
  { levels: 4, radius: [2, 3, 4, 6], kappa: 1, beta: 1.5, pilotRadius: [1, 2, 3, 4], mix: 0.25 },
];

const v1 = DctModelParams.parse(JSON.parse(readFileSync('models/default-dct-v1/params.json', 'utf8')));

function loaded(params: DctModelParams): LoadedModel {
  const defaults = { maxChunkBits: 14, schedule: 'even:25', reconMethod: 'mse' as const, reconSteps: 1 };
  return { model: new DctModel({ id: 'tune', hash: new Uint8Array(8), params, defaults, tiling: FAMILY_TILING['analytic-dct'].predictor }), namedSchedules: {} };
}

export function v2Params(c: Candidate, base: DctModelParams = v1, backProjection = 2): DctModelParams {
  const { version: _v, ...spectrum } = base;
  return { ...spectrum, version: 2, denoiser: { kind: 'local-wiener', ...c }, backProjection, tunedOn: FIT_PHOTOS.map((p) => p.split('/').pop()!) };
}

/** The ideal RD curve of a KL matrix: (bits per image pixel, latent PSNR) after each candidate. */
export function idealCurve(m: KlMatrix, table: Float64Array, pixels: number, dims: number, scale: number): { bpp: number; psnr: number }[] {
  const ts = m.timesteps, out: { bpp: number; psnr: number }[] = [];
  let bits = m.prior[0];
  for (let i = 0; i < ts.length - 1; i++) {
    // e(t_i) from the step t_i -> t_(i+1): KL = g e / (2 ln 2) with g = (cX0 / sigma)^2.
    const c = posteriorCoefficients(table[ts[i]], table[ts[i + 1]]);
    const e = (m.kl[i][i + 1] * 2 * Math.LN2) / (c.cX0 / c.sigma) ** 2;
    out.push({ bpp: bits / pixels, psnr: 10 * Math.log10((scale * scale) / (e / dims)) });
    bits += m.kl[i][i + 1];
  }
  return out;
}

function psnrAt(curve: { bpp: number; psnr: number }[], bpp: number): number {
  for (let i = 1; i < curve.length; i++) {
    if (curve[i].bpp >= bpp) {
      const a = curve[i - 1], b = curve[i], f = (bpp - a.bpp) / (b.bpp - a.bpp);
      return a.psnr + f * (b.psnr - a.psnr);
    }
  }
  return curve.at(-1)!.psnr;
}

export async function score(params: DctModelParams): Promise<{ psnr: number[]; mean: number; seconds: number }> {
  const lm = loaded(params);
  const m = await measureKl(lm, FIT_PHOTOS, { grid: 10, seed: 7 });
  // Mean pixels and latent values per photo (the matrix is per image, averaged over photos).
  const sizes = m.images!.sizes;
  const pixels = sizes.reduce((s, z) => s + z.width * z.height, 0) / sizes.length;
  const dims = sizes.reduce((s, z) => s + z.latent.channels * z.latent.height * z.latent.width, 0) / sizes.length;
  const curve = idealCurve(m, lm.model.table, pixels, dims, params.scale);
  const psnr = TARGET_BPP.map((b) => psnrAt(curve, b));
  return { psnr, mean: psnr.reduce((a, b) => a + b) / psnr.length, seconds: m.seconds ?? 0 };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows: { denoiser: string; psnr: number[]; mean: number }[] = [];
  const ref = await score(v1);
  rows.push({ denoiser: 'stationary Wiener (v1)', psnr: ref.psnr, mean: ref.mean });
  process.stderr.write(`v1: ${ref.psnr.map((p) => p.toFixed(2)).join(' ')} (${ref.seconds}s)\n`);
  for (const c of CANDIDATES) {
    const s = await score(v2Params(c));
    rows.push({ denoiser: JSON.stringify(c), psnr: s.psnr, mean: s.mean });
    process.stderr.write(`${JSON.stringify(c)}: ${s.psnr.map((p) => p.toFixed(2)).join(' ')} mean ${s.mean.toFixed(3)} (${s.seconds}s)\n`);
  }
  const best = rows.slice(1).reduce((a, b) => (b.mean > a.mean ? b : a));
  if (process.argv.includes('--json')) console.log(JSON.stringify({ bpp: TARGET_BPP, rows, best: best.denoiser }));
  else process.stderr.write(`best: ${best.denoiser}\n`);
}
