/**
 * Records the chunk-shape mix of real encodes into test/fixtures/rcc-mix/recorded.json (the RCC
 * workload `npm run bench:rcc -- --mix recorded` replays):
 *   - the embedded default model on the skimage photos (`bash scripts/fetch-photos.sh`, fetched
 *     here if missing), each encoded by `diffc compress --bpp 0.2` and read back with `diffc info
 *     --json`, so the plans are the coded ones of a real file (the chain ends near 0.1 bpp);
 *   - SD- and Flux-shaped latents (4x128x128 and 16x128x128, a 1024x1024 image): no weights can be
 *     run here, so their plans are the protocol plans of the analytic Gaussian source at that
 *     shape (closed-form expected KL per step, each channel a 128x128 field), along the Algorithm 3
 *     schedule of bench:codec, with the default coding settings (16-bit chunks), up to 0.2 bpp.
 * Usage: node --import tsx scripts/record-chunk-mix.ts [--out FILE]   (several minutes on 2 cores)
 */
import { mkdtemp, readdir, rm, writeFile, rename, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, parse } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { execFile } from 'node:child_process';
import { main } from '../src/cli/main.js';
import { ChunkMix, type MixSource } from '../src/codec/rcc/chunk-mix.js';
import { GaussianImageModel } from '../src/codec/analytic/gaussian-image-model.js';
import { alphaBars, SD_SCHEDULE } from '../src/codec/schedule/ddpm.js';
import { optimizeSchedule, chunkedCodingCost, type KlMatrix } from '../src/codec/schedule/optimize.js';
import { makeCodingSchedule } from '../src/codec/schedule/timesteps.js';
import { CodingParams, protocolPlans } from '../src/codec/chain/chunk-plan.js';

const { values: a } = parseArgs({ options: { out: { type: 'string', default: 'test/fixtures/rcc-mix/recorded.json' } } });
const log = (s: string) => process.stderr.write(`${s}\n`);
const MAX_BPP = 0.2;

if (!existsSync('.cache/photos/.complete')) await promisify(execFile)('bash', ['scripts/fetch-photos.sh']);
const photos = (await readdir('.cache/photos')).filter((f) => /\.(png|jpe?g)$/.test(f)).sort();
const sources: MixSource[] = [];
const scratch = await mkdtemp(join(tmpdir(), 'diffc-mix-'));
try {
  for (const f of photos) {
    const dfc = join(scratch, `${f}.dfc`);
    const t0 = performance.now();
    const code = await main(['compress', join('.cache/photos', f), '-o', dfc, '--bpp', String(MAX_BPP), '-q'], () => undefined, log);
    if (code !== 0) throw new Error(`diffc compress ${f} exited ${code}`);
    let json = '';
    if (await main(['info', dfc, '--json'], (s) => (json += s), log) !== 0) throw new Error(`diffc info ${f} failed`);
    const info = JSON.parse(json) as {
      model: string; width: number; height: number; latent: { channels: number; height: number; width: number };
      coding: { maxChunkBits: number }; step_bits: { step: number; chunks: number; k: number; cumulative_bpp: number }[];
    };
    sources.push({
      id: `default:${parse(f).name}`, kind: 'encode', model: info.model, width: info.width, height: info.height,
      dims: info.latent.channels * info.latent.height * info.latent.width, max_chunk_bits: info.coding.maxChunkBits,
      steps: info.step_bits.map(({ step, chunks, k, cumulative_bpp }) => ({ step, chunks, k, cumulative_bpp })),
    });
    log(`${f}: ${info.step_bits.length} steps to ${info.step_bits.at(-1)!.cumulative_bpp} bpp in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
} finally {
  await rm(scratch, { recursive: true, force: true });
}

// SD/Flux-shaped latents of a 1024x1024 image from the analytic source.
const field = new GaussianImageModel({ size: 128 });
const table = alphaBars(SD_SCHEDULE);
const params = CodingParams.parse({});
const grid: number[] = [];
for (let t = 990; t >= 20; t -= 10) grid.push(t);
for (const [name, channels] of [['sdxl-1024', 4], ['flux-1024', 16]] as const) {
  const kl = (x: number, y: number) => channels * field.expectedStepKlBits(x, y);
  const m: KlMatrix = {
    timesteps: grid,
    prior: grid.map((t) => kl(0, table[t])),
    kl: grid.map((ti, i) => grid.map((tj, j) => (j > i ? kl(table[ti], table[tj]) : 0))),
  };
  const opt = optimizeSchedule(m, chunkedCodingCost(params.maxChunkBits, params.paddingQuarterBits / 4, 2, 0, params.targetStdPercent / 100), 20);
  const sched = makeCodingSchedule(table, opt.timesteps);
  const dims = channels * field.n;
  const plans = protocolPlans(sched.alphaBars, kl, dims, params);
  const pixels = 1024 * 1024;
  let bits = 0;
  const steps = [];
  for (const [j, p] of plans.entries()) {
    bits += kl(j === 0 ? 0 : sched.alphaBars[j - 1], sched.alphaBars[j]);
    if (bits / pixels > MAX_BPP) break;
    steps.push({ step: j + 1, chunks: p.chunks, k: p.k, cumulative_bpp: +(bits / pixels).toFixed(5) });
  }
  sources.push({ id: `analytic:${name}`, kind: 'protocol', model: field.id, width: 1024, height: 1024, dims, max_chunk_bits: params.maxChunkBits, steps });
  log(`analytic ${name}: ${steps.length} steps to ${steps.at(-1)!.cumulative_bpp} bpp`);
}

const mix = ChunkMix.parse({
  version: 1,
  note: 'Written by scripts/record-chunk-mix.ts: default-model plans read from real .dfc files of the skimage photos; SD/Flux-shaped plans from the analytic source\'s expected KL (no weights run).',
  sources,
});
await mkdir(dirname(a.out), { recursive: true });
await writeFile(`${a.out}.tmp`, `${JSON.stringify(mix, null, 1)}\n`);
await rename(`${a.out}.tmp`, a.out);
log(`wrote ${a.out}: ${sources.length} sources, ${sources.reduce((s, x) => s + x.steps.length, 0)} steps`);
