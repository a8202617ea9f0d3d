/**
 * npm run bench:one-step -- [--json] [--size 512] [--bpp 0.1] [--runs 3] [--photo astronaut]
 *   [--models test/stablecodec,test/parity/sd15,default]
 *
 * Decode time of the one-step path (StableCodec: entropy decoding, the latent codec's synthesis,
 * one UNet pass, the VAE) against DiffC chains at the same image size, side by side in one run:
 * each model compresses the same centre crop (`diffc compress`; chains at --bpp, the one-step
 * model at its fixed rate), then the file is decoded --runs times in process exactly as
 * `diffc decompress` decodes it (decodeDfc: header, condition, chain, reconstruction, VAE), after
 * one untimed warm-up, and the median is kept. Models are bundle paths under models/, absolute
 * paths, or 'default'.
 * The bundles here are tiny random-weight exports, so the times measure the structure of each
 * decode (network passes and everything around them), not a real model's cost per pass: the
 * `unet_calls` column says how many denoiser passes each decode makes. Photos: skimage's
 * (scripts/fetch-photos.sh). With --json the last stdout line is one object: size, rows (model,
 * family, bytes, bpp, steps, unet_calls, decode_s), and chain_over_one_step (each chain's decode
 * time over the one-step model's).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { main } from '../src/cli/main.js';
import { loadModel } from '../src/pipeline/model-context.js';
import { decodeDfc } from '../src/pipeline/decompress.js';
import { readDfc } from '../src/codec/format/index.js';
import { oneStepGrid } from '../src/models/stablecodec/tiles.js';
import type { Manifest } from '../src/models/bundle.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const { values: a } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    size: { type: 'string', default: '512' },
    bpp: { type: 'string', default: '0.1' },
    runs: { type: 'string', default: '3' },
    photo: { type: 'string', default: 'astronaut' },
    models: { type: 'string', default: 'test/stablecodec,test/parity/sd15,default' },
  },
});
const size = Number(a.size), runs = Math.max(1, Number(a.runs));
const log = (s: string) => { if (!a.json) console.error(s); };

async function cli(args: string[]): Promise<Record<string, unknown>> {
  const out: string[] = [], err: string[] = [];
  const code = await main([...args, '--json', '-q'], (s) => out.push(s), (s) => err.push(s));
  if (code !== 0) throw new Error(`diffc ${args.join(' ')}: exit ${code}: ${err.join('\n')}`);
  return JSON.parse(out.at(-1)!) as Record<string, unknown>;
}

const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)];

const src = join(REPO, '.cache', 'photos', `${a.photo}.png`);
if (!existsSync(src)) throw new Error(`${src} is missing: run bash scripts/fetch-photos.sh`);
const dir = await mkdtemp(join(tmpdir(), 'diffc-one-step-'));
try {
  const photo = join(dir, 'photo.png');
  const meta = await sharp(src).metadata();
  const side = Math.min(meta.width!, meta.height!);
  await sharp(src).extract({ left: Math.floor((meta.width! - side) / 2), top: Math.floor((meta.height! - side) / 2), width: side, height: side }).resize(size, size).png().toFile(photo);
  const rows: { model: string; family: string; bytes: number; bpp: number; steps: number; unet_calls: number; decode_s: number }[] = [];
  for (const m of a.models.split(',')) {
    const dirOrDefault = m === 'default' ? 'default' : isAbsolute(m) ? m : join(REPO, 'models', m);
    const lm = await loadModel(dirOrDefault);
    try {
      const info = lm.model.info;
      const out = join(dir, `${rows.length}.dfc`);
      await cli(['compress', photo, '-o', out, '--model', dirOrDefault, ...(info.oneStep ? [] : ['--bpp', a.bpp])]);
      const bytes = new Uint8Array(await readFile(out));
      const h = readDfc(bytes).header;
      await decodeDfc(lm, bytes); // warm-up: sessions created, caches filled
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        await decodeDfc(lm, bytes);
        times.push((performance.now() - t0) / 1000);
      }
      const oneStep = info.oneStep ? (JSON.parse(await readFile(join(dirOrDefault, 'manifest.json'), 'utf8')) as Manifest).oneStep : undefined;
      const latentH = h.latent.height, latentW = h.latent.width;
      const unetCalls = oneStep ? (oneStepGrid(latentH, latentW, oneStep.tile, oneStep.overlap)?.tiles.length ?? 1) : h.stepsCoded + h.recon.steps;
      rows.push({ model: info.id, family: info.family, bytes: bytes.length, bpp: +((8 * bytes.length) / (size * size)).toFixed(4), steps: h.stepsCoded, unet_calls: unetCalls, decode_s: +median(times).toFixed(3) });
      log(`${info.id.padEnd(24)} ${info.family.padEnd(12)} ${String(bytes.length).padStart(6)} B  ${rows.at(-1)!.bpp.toFixed(4)} bpp  ${String(h.stepsCoded).padStart(3)} steps  ${String(unetCalls).padStart(3)} denoiser passes  decode ${rows.at(-1)!.decode_s}s`);
    } finally {
      await lm.model.close();
    }
  }
  const one = rows.find((r) => r.family === 'stablecodec');
  const ratios = one ? Object.fromEntries(rows.filter((r) => r !== one).map((r) => [r.model, +(r.decode_s / one.decode_s).toFixed(2)])) : {};
  for (const [k, v] of Object.entries(ratios)) log(`${k} decodes in ${v}x the one-step model's time`);
  if (a.json) console.log(JSON.stringify({ size, photo: a.photo, bpp_chains: Number(a.bpp), runs, rows, chain_over_one_step: ratios }));
} finally {
  await rm(dir, { recursive: true, force: true });
}
