/**
 * `diffc compress`: image -> .dfc with the embedded default model or a model bundle.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { loadImage, saveImage } from '../image/io.js';
import { cropTo } from '../image/geometry.js';
import { imageLatent } from '../pipeline/image-latent.js';
import { compressLatents } from '../codec/codec.js';
import { reconstruct, ReconMethod } from '../codec/diffusion/reconstruct.js';
import { resolveBackend } from '../rcc-backends/index.js';
import { loadModel, resolveSchedule, protocolFor, decodeContext, type LoadedModel } from '../pipeline/model-context.js';
import { expandInputs, outputIn, IMAGE_EXTENSIONS } from './inputs.js';
import { mkdir } from 'node:fs/promises';
import type { RccBackend } from '../codec/rcc/select.js';
import { assertWritable, writeFileAtomic } from './files.js';
import { Progress } from './progress.js';
import { UsageError } from './errors.js';
import { runBatch } from './batch.js';
import { compressionSettings } from '../pipeline/compress-settings.js';
import { conditionedPredictors, GUIDANCE_RANGE } from '../pipeline/conditioning.js';
import { parseOrUsage, type Print } from './args.js';
import { codingScheduleId, PresetName } from '../pipeline/presets.js';
import { QualityTargetSpec, rateCapBpp, requireQualityTool, shortestPrefixFile } from '../pipeline/target-quality.js';
import { prefixDecoder } from '../pipeline/decode-prefix.js';

export const COMPRESS_HELP = `diffc compress <image|dir|glob>... -o <out.dfc|dir> [options]

Compresses images (PNG, JPEG, WebP, AVIF, TIFF) with DiffC. One rate control applies; without
one, --bpp 0.1. Any prefix of the result decodes (see diffc decompress --upto-*). A one-step
model (family stablecodec) codes at its checkpoint's fixed rate and takes no rate control,
--method or --denoise-steps (docs/models.md). With several
inputs (or a directory or glob) -o names a directory and each image becomes <name>.dfc there; a
failing image is reported and the others still run (exit 1 if any failed).

  -o, --output PATH     output .dfc, or directory for several inputs (existing files refused
                        unless --force)
  --model M             model bundle directory or 'default' (embedded, no download; default)
  --bpp X               stop at the longest chain prefix whose whole file fits X bits per pixel
  --timestep T          stop once the chain reaches timestep T (0..T-1 of the model)
  --steps N             code N steps of the schedule
  --target-quality M=V  keep the shortest prefix whose decoded image reaches V on metric M:
                        psnr (dB), ms-ssim, ssimulacra2 (at least V) or butteraugli (at most
                        V; these two need their tools: scripts/fetch-eval-tools.sh). The chain
                        is coded up to the rate control given (default --bpp 1), and prefixes
                        are decoded exactly as diffc decompress will; if the whole chain stays
                        below V it is kept whole and the output says target_met: false
  --schedule ID         coding schedule (default: the preset's, else the model's; even:N[:tmax],
                        list:t1,t2,..., paper or paper-flow)
  --chunk-bits B        max RCC chunk bits (default: the preset's, else the model's; a model's
                        'auto' is by RCC backend: ts 10, cpu 14, cuda 16)
  --preset P            named coding choices, below the flags here: default (the model's) |
                        paper (the reference implementation's: 16-bit chunks of 14 bits of KL
                        + 2 bits padding, exact posterior target, its 161-step schedule (Flux:
                        152), no CFG (SD) / guidance 0 (Flux))
  --prompt TEXT         text conditioning (models with a text encoder), stored in the .dfc
  --guidance G          guidance of the coded chain's denoiser, stored in the .dfc (0..100;
                        default: the model's: SD 1.5/2.1/SDXL 1 = no CFG (CFG runs when G > 1),
                        Flux 3.5 (its distilled guidance); the default model ignores it)
  --denoise-guidance G  guidance of the final denoising from the last coded step, stored in
                        the .dfc (0..100; default: SD 1, or 5 with a non-empty --prompt; Flux 3.5)
  --seed N              shared-randomness seed, 0..2^53 (default 0)
  --backend B           RCC backend: auto | cuda | cpu | ts (default auto)
  --device D            model inference device: cpu | cuda (default cpu)
  --recon PATH          also write the encoder's reconstruction, identical to decompress
                        (a PNG path, or a directory for several inputs)
  --method M            reconstruction written to the header: flow | ancestral | mse
  --denoise-steps N     denoising steps for flow/ancestral reconstruction
  --force               overwrite existing outputs
  --json                print one JSON object on stdout
  -q, --quiet           no progress on stderr
`;

const Args = z.object({
  positionals: z.array(z.string()).min(1, 'give at least one input image'),
  output: z.string({ required_error: '--output is required' }),
  model: z.string().optional(),
  bpp: z.coerce.number().positive().max(64).optional(),
  timestep: z.coerce.number().int().nonnegative().optional(),
  steps: z.coerce.number().int().positive().optional(),
  'target-quality': QualityTargetSpec.optional(),
  schedule: z.string().optional(),
  'chunk-bits': z.coerce.number().int().min(1).max(24).optional(),
  preset: PresetName.optional(),
  prompt: z.string().refine((p) => Buffer.byteLength(p, 'utf8') <= 4096, 'at most 4096 bytes of UTF-8').optional(),
  guidance: z.coerce.number().min(GUIDANCE_RANGE.min).max(GUIDANCE_RANGE.max).optional(),
  'denoise-guidance': z.coerce.number().min(GUIDANCE_RANGE.min).max(GUIDANCE_RANGE.max).optional(),
  seed: z.coerce.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).default(0),
  backend: z.enum(['auto', 'cuda', 'cpu', 'ts']).default('auto'),
  device: z.enum(['cpu', 'cuda']).default('cpu'),
  recon: z.string().optional(),
  method: ReconMethod.optional(),
  'denoise-steps': z.coerce.number().int().min(1).max(1000).optional(),
  force: z.boolean().default(false),
  json: z.boolean().default(false),
  quiet: z.boolean().default(false),
}).refine((a) => [a.bpp, a.timestep, a.steps].filter((v) => v !== undefined).length <= 1, { message: 'give at most one of --bpp, --timestep, --steps' });

export async function compressCommand(argv: string[], out: Print, err: Print): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      output: { type: 'string', short: 'o' }, model: { type: 'string' }, bpp: { type: 'string' }, timestep: { type: 'string' },
      steps: { type: 'string' }, 'target-quality': { type: 'string' }, schedule: { type: 'string' }, 'chunk-bits': { type: 'string' }, preset: { type: 'string' }, prompt: { type: 'string' },
      guidance: { type: 'string' }, 'denoise-guidance': { type: 'string' },
      seed: { type: 'string' }, backend: { type: 'string' }, device: { type: 'string' }, recon: { type: 'string' },
      method: { type: 'string' }, 'denoise-steps': { type: 'string' }, force: { type: 'boolean' }, json: { type: 'boolean' },
      quiet: { type: 'boolean', short: 'q' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    out(COMPRESS_HELP);
    return 0;
  }
  const a = parseOrUsage(Args, { ...values, positionals });
  // A perceptual target's tool is looked up now, not after the first encode.
  requireQualityTool(a['target-quality']);
  const { files, many } = await expandInputs(a.positionals, IMAGE_EXTENSIONS);
  const jobs = files.map((f) => ({
    input: f,
    output: many ? outputIn(a.output, f, '.dfc') : a.output,
    recon: a.recon ? (many ? outputIn(a.recon, f, '.png') : a.recon) : undefined,
  }));
  if (many) {
    await mkdir(a.output, { recursive: true });
    if (a.recon) await mkdir(a.recon, { recursive: true });
  }
  for (const j of jobs) {
    await assertWritable(j.output, a.force);
    if (j.recon) await assertWritable(j.recon, a.force);
  }
  const lm = await loadModel(a.model, { device: a.device });
  const tMax = lm.model.table.length - 1;
  if (a.timestep !== undefined && a.timestep > tMax) throw new UsageError(`--timestep ${a.timestep} is outside the model's 0..${tMax}`);
  const log = (s: string) => { if (!a.quiet) err(s); };
  const backend = await resolveBackend(a.backend, { log: (s) => log(s) });
  try {
    return await runBatch(jobs, many, a.json, out, err,
      (j, i) => compressOne(lm, backend, j, a, log, many ? `[${i + 1}/${jobs.length}] ` : ''),
      (j, r) => { if (!a.json) log(`${j.output}: ${r.bytes} bytes, ${(r.bpp as number).toFixed(4)} bpp, ${r.steps} steps (t=${r.timestep}), ${r.total_s}s`); });
  } finally {
    backend.close?.();
    await lm.model.close();
  }
}

type Args = z.infer<typeof Args>;

async function compressOne(
  lm: LoadedModel, backend: RccBackend, j: { input: string; output: string; recon?: string }, a: Args,
  log: (s: string) => void, label: string,
): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  const info = lm.model.info;
  const target = a['target-quality'];
  // The original's pixels are kept only when a quality target must be scored against them.
  const original = target ? loadImage(j.input) : undefined;
  const { latent, image: img, padded, condition } = await imageLatent(lm, original ?? loadImage(j.input));
  const schedule = resolveSchedule(lm, codingScheduleId(info, a.preset, a.schedule));
  if (a.timestep !== undefined && a.timestep < schedule.timesteps.at(-1)!) {
    log(`note: the schedule ends at timestep ${schedule.timesteps.at(-1)}; coding all of it`);
  }
  const { params, recon, conditioning, prompt, seed, image, stop } = compressionSettings({
    info, schedule, latent: lm.model.latentShape(padded.width, padded.height), width: img.width, height: img.height, seed: a.seed,
    prompt: a.prompt, guidance: a.guidance, denoiseGuidance: a['denoise-guidance'], condition: condition?.bytes,
    chunkBits: a['chunk-bits'], backend: backend.name, preset: a.preset, method: a.method, denoiseSteps: a['denoise-steps'], bpp: rateCapBpp(a, target), targetQuality: target, steps: a.steps, timestep: a.timestep,
  });
  const { chain: predictor, denoiser } = await conditionedPredictors(lm.model, padded.width, padded.height, prompt, conditioning, condition?.features);
  const protocol = protocolFor(lm, padded.width, padded.height, schedule, params);
  const progress = new Progress(`${label}compress ${j.input}`, schedule.timesteps.length, a.quiet);
  const tEnc = performance.now();
  const [c] = await compressLatents(predictor, [{ latent, image, seed, stop, prompt, condition: condition?.bytes }], {
    schedule, params, recon, conditioning, backend, protocol,
    onStep: (e) => progress.update(e.step + 1, `t=${e.timestep} ${(e.totalBits / (img.width * img.height)).toFixed(4)} bpp`),
  });
  progress.done();
  const encodeS = (performance.now() - tEnc) / 1000;
  // With a quality target, the shortest prefix reaching it, judged on the decoder's own pixels.
  const chosen = target && c.header.stepsCoded > 0 && original
    ? await shortestPrefixFile(target, c.header.stepsCoded, await original,
      prefixDecoder(lm.model, predictor, denoiser, c.bytes, decodeContext(lm, padded.width, padded.height), padded, img))
    : undefined;
  if (chosen && !chosen.report.target_met) log(`${label}${j.input}: ${target!.metric} ${chosen.report.reached} with all ${chosen.steps} coded steps, short of ${target!.value}: kept whole`);
  const file = chosen?.bytes ?? c.bytes, steps = chosen?.steps ?? c.header.stepsCoded;
  await writeFileAtomic(j.output, file, a.force);
  if (j.recon) {
    // The decoder regenerates exactly this state, so this is the decompressed image byte for byte.
    let rec = chosen?.image;
    if (!rec) {
      const x0 = await reconstruct(denoiser, c.chain.state, c.chain.alphaBar, latent.length, { ...recon, table: lm.model.table, key: { seedLo: seed.lo, seedHi: seed.hi } });
      const [rgb] = await lm.model.decode([x0], padded.width, padded.height);
      rec = cropTo(rgb, img.width, img.height);
    }
    await saveImage(rec, j.recon, { force: a.force });
  }
  return {
    input: j.input, output: j.output, bytes: file.length, bpp: (8 * file.length) / (img.width * img.height),
    width: img.width, height: img.height, model: info.id, steps, schedule: schedule.id,
    timestep: steps > 0 ? schedule.timesteps[steps - 1] : null,
    guidance: conditioning.guidance, denoiseGuidance: conditioning.denoiseGuidance,
    ...(chosen
      ? { target_quality: chosen.report, kl_bits: +c.chain.records.slice(0, steps).reduce((t, r) => t + r.klBits, 0).toFixed(1) }
      : klSummary(c.chain.records.map((r) => r.klBits), c.chain.payload.length)),
    backend: backend.name, encode_s: +encodeS.toFixed(3), total_s: +((performance.now() - t0) / 1000).toFixed(3),
  };
}

/**
 * The coded steps' KL (what an ideal channel simulator would spend) and the payload's bits over
 * it: the coding overhead of chunking, indices and side information.
 */
function klSummary(kl: readonly number[], payloadBytes: number): { kl_bits: number; payload_bits: number; overhead: number | null } {
  const total = kl.reduce((s, v) => s + v, 0);
  return { kl_bits: +total.toFixed(1), payload_bits: 8 * payloadBytes, overhead: total > 0 ? +((8 * payloadBytes) / total - 1).toFixed(4) : null };
}
