/**
 * Tile size vs rate, quality and speed for the embedded default model (docs/tiling.md §6): one
 * photo coded at one target rate with the bundle's prior under several predictor tilings,
 * side by side in one run (machines are noisy; compare within a run).
 *   npm run bench:tiling -- [--json] [--image PATH] [--width 1024 --height 640] [--bpp 0.05]
 *                           [--tilings whole,128/32,64/16,64/8,32/8] [--chunk-bits 10]
 * Last stdout line (--json): {"rows": [{tiling, steps, bpp, psnr, encode_s, predict_ms_per_mp, seam_ratio}]}.
 */
import { parseArgs, promisify } from 'node:util';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadImage } from '../src/image/io.js';
import { padToMultiple, cropTo, resize } from '../src/image/geometry.js';
import { psnr } from '../src/eval/metrics.js';
import { compressionSettings } from '../src/pipeline/compress-settings.js';
import { compressLatents } from '../src/codec/codec.js';
import { reconstruct } from '../src/codec/diffusion/reconstruct.js';
import { resolveBackend } from '../src/rcc-backends/index.js';
import { loadModel, resolveSchedule, protocolFor } from '../src/pipeline/model-context.js';
import { DctModel } from '../src/models/analytic-dct/model.js';
import { TiledPredictor } from '../src/codec/tiling/index.js';
import { seamEdgesOf, seamRatio } from '../src/eval/seams.js';

const DEFAULT_IMAGE = '.cache/photos/large/Kite.jpg';
const { values: a } = parseArgs({ options: {
  json: { type: 'boolean', default: false }, image: { type: 'string', default: DEFAULT_IMAGE },
  width: { type: 'string', default: '1024' }, height: { type: 'string', default: '640' }, bpp: { type: 'string', default: '0.05' },
  tilings: { type: 'string', default: 'whole,128/32,64/16,64/8,32/8' }, 'chunk-bits': { type: 'string', default: '10' },
} });
const log = (s: string) => process.stderr.write(s + '\n');

// The default photo is a real 2560x1600 one from Debian's KDE wallpapers, fetched on first use.
if (a.image === DEFAULT_IMAGE && !existsSync(DEFAULT_IMAGE)) await promisify(execFile)('bash', ['scripts/fetch-large-photos.sh']);
const src = await loadImage(a.image!);
const W = Number(a.width), H = Number(a.height);
const img = src.width === W && src.height === H ? src : resize(src, W, H);
const lm = await loadModel('default');
const info = lm.model.info;
const params = (lm.model as DctModel).params;
const { image: padded } = padToMultiple(img, info.sizeMultiple);
const schedule = resolveSchedule(lm, info.defaults.schedule);
const backend = await resolveBackend('auto', { log });
const d = info.downsample;
const rows: Record<string, unknown>[] = [];
for (const t of a.tilings!.split(',')) {
  const [tile, overlap] = t === 'whole' ? [4096, 0] : t.split('/').map(Number);
  const model = new DctModel({ id: info.id, hash: info.hash, params, defaults: info.defaults, tiling: { tile, overlap } });
  const [latent] = await model.encode([padded]);
  const predictor = await model.predictor(padded.width, padded.height);
  const timed = { ms: 0, calls: 0 };
  const wrapped = {
    ...predictor, id: predictor.id, hash: predictor.hash, latent: predictor.latent, prediction: predictor.prediction, maxBatch: predictor.maxBatch,
    predict: async (b: Parameters<typeof predictor.predict>[0]) => {
      const s = performance.now();
      try { return await predictor.predict(b); } finally { timed.ms += performance.now() - s; timed.calls += b.length; }
    },
  };
  const s = compressionSettings({ info, schedule, latent: predictor.latent, width: img.width, height: img.height, seed: 0, bpp: Number(a.bpp), chunkBits: Number(a['chunk-bits']) });
  const protocol = protocolFor(lm, padded.width, padded.height, schedule, s.params);
  const t0 = performance.now();
  const [c] = await compressLatents(wrapped, [{ latent, image: s.image, seed: s.seed, stop: s.stop }], { schedule, params: s.params, recon: s.recon, backend, protocol });
  const encodeS = (performance.now() - t0) / 1000;
  const x0 = await reconstruct(predictor, c.chain.state, c.chain.alphaBar, latent.length, { ...s.recon, table: model.table, key: { seedLo: s.seed.lo, seedHi: s.seed.hi } });
  const [rgb] = await model.decode([x0], padded.width, padded.height);
  const rec = cropTo(rgb, img.width, img.height);
  const grid = predictor instanceof TiledPredictor ? predictor.grid : undefined;
  const seam = grid ? seamRatio(img, rec, seamEdgesOf(grid, d)) : null;
  const row = {
    tiling: t, tiles: grid?.tiles.length ?? 1, steps: c.header.stepsCoded, bpp: +((8 * c.bytes.length) / (img.width * img.height)).toFixed(5),
    psnr: +psnr(img, rec).toFixed(3), encode_s: +encodeS.toFixed(2),
    predict_ms_per_mp: +(timed.ms / timed.calls / ((img.width * img.height) / 1e6)).toFixed(1),
    seam_ratio: seam === null ? null : +seam.ratio.toFixed(4),
  };
  rows.push(row);
  log(JSON.stringify(row));
}
backend.close?.();
console.log(JSON.stringify(a.json ? { image: a.image, width: W, height: H, bpp_target: Number(a.bpp), rows } : { rows }, null, a.json ? 0 : 2));
