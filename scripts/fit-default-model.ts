/**
 * Fits the embedded default model (models/default/) to natural photos: per opponent-colour
 * channel a power-law spectrum A (f^2 + f0^2)^(-alpha/2), by least squares on log power in
 * log-frequency bins of each photo's DCT (f0 shared, by grid search), as the prior of the locally
 * adaptive denoiser whose settings scripts/tune-default-denoiser.ts chose (DENOISER below). Photos
 * come from `bash scripts/fetch-photos.sh`; the evaluation's photos (rocket, camera and the other
 * skimage photos) are never used here.
 * It then measures the model's KL per step on the same photos (measureKl, as `diffc schedule
 * measure`) and writes models/default/manifest.json with the coding schedule 'lw-v2' chosen by
 * the Algorithm 3 optimiser on it (the model's coding settings, 100 bits per-step penalty to keep
 * encodes fast).
 * models/default-dct-v1/ (the stationary model this replaced) was written by the version of this
 * script before December 2026 and is kept as it is, so that its files decode.
 * Usage: npx tsx scripts/fit-default-model.ts [downsample=4]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { imageToLatent } from '../src/models/analytic-dct/colour.js';
import { Dct2 } from '../src/codec/analytic/dct.js';
import { priorVariances, type DctModelParams } from '../src/models/analytic-dct/params.js';
import { DctModel } from '../src/models/analytic-dct/model.js';
import { FAMILY_TILING } from '../src/models/tiling.js';
import { optimizeSchedule, codingCost } from '../src/codec/schedule/optimize.js';
import { measureKl, modelPlanningParams } from '../src/pipeline/measure-kl.js';
import { FIT_PHOTOS, v2Params } from './tune-default-denoiser.js';
import type { RgbImage } from '../src/image/types.js';

const D = Number(process.argv[2] ?? 4);
const photos = FIT_PHOTOS.map((p) => p.split('/').pop()!);
/** The best row of scripts/tune-default-denoiser.ts (docs/models.md §4 has its table). */
const DENOISER = { levels: 3, radius: [2, 3, 4], kappa: 1, beta: 1.5, pilotRadius: [1, 2, 3], mix: 0.25 };
const BACK_PROJECTION = 2;
const BINS = 24;

async function load(name: string): Promise<RgbImage> {
  const { data, info } = await sharp(`.cache/photos/${name}`).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  const W = info.width - (info.width % D), H = info.height - (info.height % D);
  const out = new Float32Array(W * H * 3);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let c = 0; c < 3; c++) out[(y * W + x) * 3 + c] = data[(y * info.width + x) * info.channels + c] / 255;
  return { width: W, height: H, data: out, bitDepth: 8 };
}

// Power per (channel, log-frequency bin), averaged over photos.
const sum = Array.from({ length: 3 }, () => new Float64Array(BINS));
const cnt = Array.from({ length: 3 }, () => new Float64Array(BINS));
const fMin = 1 / 512, fMax = Math.SQRT1_2;
const binOf = (f: number) => Math.min(BINS - 1, Math.floor((Math.log(f / fMin) / Math.log(fMax / fMin)) * BINS));
for (const name of photos) {
  const img = await load(name);
  const h = img.height / D, w = img.width / D, n = h * w;
  const lat = imageToLatent(img, D, 1);
  const dct = new Dct2(h, w);
  for (let c = 0; c < 3; c++) {
    const y = dct.forward(lat, undefined, c * n);
    for (let u = 0; u < h; u++) for (let v = 0; v < w; v++) {
      if (u === 0 && v === 0) continue;
      const f = Math.sqrt((u / (2 * h)) ** 2 + (v / (2 * w)) ** 2);
      if (f < fMin) continue;
      const b = binOf(f);
      sum[c][b] += y[u * w + v] ** 2;
      cnt[c][b]++;
    }
  }
  process.stderr.write(`fitted on ${name} (${img.width}x${img.height})\n`);
}
const centre = (b: number) => fMin * (fMax / fMin) ** ((b + 0.5) / BINS);

function fitChannel(c: number, f0: number): { A: number; alpha: number; err: number } {
  // log P = log A - (alpha/2) log(f^2 + f0^2): linear in (log A, alpha).
  const xs: number[] = [], ys: number[] = [];
  for (let b = 0; b < BINS; b++) if (cnt[c][b] > 0) {
    xs.push(-0.5 * Math.log(centre(b) ** 2 + f0 * f0));
    ys.push(Math.log(sum[c][b] / cnt[c][b]));
  }
  const m = xs.length, mx = xs.reduce((a, b) => a + b) / m, my = ys.reduce((a, b) => a + b) / m;
  let sxy = 0, sxx = 0;
  for (let i = 0; i < m; i++) { sxy += (xs[i] - mx) * (ys[i] - my); sxx += (xs[i] - mx) ** 2; }
  const alpha = sxy / sxx, logA = my - alpha * mx;
  let err = 0;
  for (let i = 0; i < m; i++) err += (ys[i] - logA - alpha * xs[i]) ** 2;
  return { A: Math.exp(logA), alpha, err };
}

let best = { f0: 0, err: Infinity, ch: [] as { A: number; alpha: number }[] };
for (let f0 = 0.0005; f0 < 0.1; f0 *= 1.1) {
  const ch = [0, 1, 2].map((c) => fitChannel(c, f0));
  const err = ch.reduce((a, b) => a + b.err, 0);
  if (err < best.err) best = { f0, err, ch: ch.map(({ A, alpha }) => ({ A, alpha })) };
}
const raw: DctModelParams = { version: 1, downsample: D, scale: 1, f0: best.f0, channels: best.ch, fittedOn: photos };
// Scale the latent so the mean prior variance on a 128 x 128 latent is 1 (like SD's 0.18215).
const lam = priorVariances(raw, 128, 128);
const scale = 1 / Math.sqrt(lam.reduce((a, b) => a + b, 0) / lam.length);
const round = (x: number) => +x.toPrecision(6);
const spectrum: DctModelParams = {
  ...raw, scale: round(scale), f0: round(raw.f0),
  channels: raw.channels.map(({ A, alpha }) => ({ A: round(A * scale * scale), alpha: round(alpha) })),
};
const params = v2Params(DENOISER, spectrum, BACK_PROJECTION);
const json = JSON.stringify(params, null, 2) + '\n';
writeFileSync('models/default/params.json', json);
process.stderr.write(`f0 ${spectrum.f0} scale ${spectrum.scale} channels ${JSON.stringify(spectrum.channels)}\n`);
const bytes = readFileSync('models/default/params.json');
const sha = createHash('sha256').update(bytes).digest('hex');
process.stderr.write(`params.json sha256 ${sha}\n`);

const defaults = { maxChunkBits: 14, schedule: 'lw-v2', reconMethod: 'mse' as const, reconSteps: 1 };
const model = new DctModel({ id: 'fit', hash: new Uint8Array(8), params, defaults, tiling: FAMILY_TILING['analytic-dct'].predictor });
// compress's settings resolve the default schedule by name: v1's stands in until lw-v2 is chosen.
const v1Schedule = JSON.parse(readFileSync('models/default-dct-v1/manifest.json', 'utf8')).schedules['dct-v1'] as number[];
const lm = { model, namedSchedules: { 'lw-v2': v1Schedule } };
const kl = await measureKl(lm, FIT_PHOTOS, { grid: 10, seed: 0, onProgress: (e) => process.stderr.write(`\rmeasuring KL: ${e.calls}/${e.totalCalls}`) });
process.stderr.write(` (${kl.seconds}s)\n`);
const sched = optimizeSchedule(kl, codingCost({ params: modelPlanningParams(lm), stepPenaltyBits: 100 }), 9);
const manifest = {
  schema: 1, id: 'diffc-default-lw-v2', family: 'analytic-dct', prediction: 'x0',
  files: [{ role: 'params', path: 'params.json', sha256: sha, bytes: bytes.length }],
  schedule: { kind: 'ddpm', config: { kind: 'scaled_linear', steps: 1000, betaStart: 0.00085, betaEnd: 0.012, cosineOffset: 0.008 } },
  latent: { channels: 3, downsample: D, scale: spectrum.scale, shift: 0 },
  defaults,
  schedules: { 'lw-v2': sched.timesteps },
  // Named here, not left to the family default, so the hash covers it (docs/tiling.md §5).
  tiling: { predictor: FAMILY_TILING['analytic-dct'].predictor },
  notes: 'Embedded locally adaptive Gaussian-prior model fitted by scripts/fit-default-model.ts; schedule lw-v2 from the Algorithm 3 optimiser on its KL measured on the fitting photos.',
};
writeFileSync('models/default/manifest.json', JSON.stringify(manifest, null, 2) + '\n');
process.stderr.write(`schedule lw-v2: ${sched.timesteps.length} steps\n`);
