/**
 * Pipeline benchmark (not a test): a 512x512 photo through the embedded default model at a target
 * rate, in-process. Reports encode and decode wall time, and the share of encode time spent
 * outside model inference and RCC (the codec's own bookkeeping: chunk layout, candidate
 * regeneration, entropy coding, I/O).
 *   npm run bench:pipeline -- [--json] [--image PATH] [--bpp 0.1] [--backend auto] [--model default|DIR]
 * Last stdout line: {"overhead_share", "encode_s", "decode_s", "bpp", "psnr", ...}.
 */
import { parseArgs } from 'node:util';
import { loadImage } from '../src/image/io.js';
import { padToMultiple, cropTo, resize } from '../src/image/geometry.js';
import { psnr } from '../src/eval/metrics.js';
import { compressionSettings } from '../src/pipeline/compress-settings.js';
import { compressLatents, decompressLatents } from '../src/codec/codec.js';
import { resolveBackend } from '../src/rcc-backends/index.js';
import { loadModel, resolveSchedule, protocolFor, decodeContext } from '../src/pipeline/model-context.js';
import type { NoisePredictor } from '../src/codec/model.js';
import type { RccBackend } from '../src/codec/rcc/select.js';

const { values: a } = parseArgs({ options: {
  json: { type: 'boolean', default: false }, image: { type: 'string', default: '.cache/photos/astronaut.png' },
  bpp: { type: 'string', default: '0.1' }, backend: { type: 'string', default: 'auto' }, size: { type: 'string', default: '512' },
  model: { type: 'string' }, steps: { type: 'string' },
} });
const log = (s: string) => process.stderr.write(s + '\n');

/** Wraps predict() and selectBatch() with wall-clock accumulators. */
function timed(p: NoisePredictor, b: RccBackend) {
  const t = { inference: 0, rcc: 0 };
  const predictor: NoisePredictor = {
    id: p.id, hash: p.hash, latent: p.latent, prediction: p.prediction, maxBatch: p.maxBatch, priorMean: p.priorMean?.bind(p),
    predict: async (batch) => { const s = performance.now(); try { return await p.predict(batch); } finally { t.inference += performance.now() - s; } },
  };
  const backend: RccBackend = {
    name: b.name,
    selectBatch: async (r) => { const s = performance.now(); try { return await b.selectBatch(r); } finally { t.rcc += performance.now() - s; } },
  };
  return { predictor, backend, t };
}

const size = Number(a.size);
const src = await loadImage(a.image!);
const img = src.width === size && src.height === size ? src : resize(src, size, size);
const lm = await loadModel(a.model);
const info = lm.model.info;
const { image: padded } = padToMultiple(img, info.sizeMultiple);
const schedule = resolveSchedule(lm, info.defaults.schedule);
const rawBackend = await resolveBackend(a.backend as 'auto', { log });
const base = await lm.model.predictor(padded.width, padded.height);
const { predictor, backend, t } = timed(base, rawBackend);
// The same settings and whole-file bpp budget as diffc compress.
const { params, recon, seed, image, stop } = compressionSettings({
  info, schedule, latent: base.latent, width: img.width, height: img.height, seed: 0,
  ...(a.steps ? { steps: Number(a.steps) } : { bpp: Number(a.bpp) }),
});
const protocol = protocolFor(lm, padded.width, padded.height, schedule, params);

const t0 = performance.now();
const [latent] = await lm.model.encode([padded]);
const tSteps = performance.now();
const [c] = await compressLatents(predictor, [{ latent, image, seed, stop }], { schedule, params, recon, backend, protocol });
const stepMs = performance.now() - tSteps;
const encodeMs = performance.now() - t0;
const inferMs = t.inference, rccMs = t.rcc;

const t1 = performance.now();
const [d] = await decompressLatents(base, [c.bytes], decodeContext(lm, padded.width, padded.height));
const [rgb] = await lm.model.decode([d.latent], padded.width, padded.height);
const decodeMs = performance.now() - t1;
const rec = cropTo(rgb, img.width, img.height);

const result = {
  model: info.id, image: a.image, width: img.width, height: img.height, backend: rawBackend.name,
  steps: c.header.stepsCoded, bpp: +((8 * c.bytes.length) / (img.width * img.height)).toFixed(4), psnr: +psnr(img, rec).toFixed(3),
  encode_s: +(encodeMs / 1000).toFixed(3), decode_s: +(decodeMs / 1000).toFixed(3),
  inference_s: +(inferMs / 1000).toFixed(3), rcc_s: +(rccMs / 1000).toFixed(3),
  // Share of the step loop (model calls + RCC + the codec's own work) spent outside inference and RCC.
  overhead_share: +((stepMs - inferMs - rccMs) / stepMs).toFixed(4),
};
log(`encode ${result.encode_s}s (steps: inference ${result.inference_s}s, RCC ${result.rcc_s}s, other ${(result.overhead_share * 100).toFixed(1)}%), decode ${result.decode_s}s, ${result.bpp} bpp, PSNR ${result.psnr} dB, ${result.steps} steps`);
rawBackend.close?.();
console.log(a.json ? JSON.stringify(result) : JSON.stringify(result, null, 2));
