/**
 * `diffc info`: what a .dfc holds. Per-step bits need the file's model (to rebuild the plans);
 * without it, only the header is shown.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { readDfc } from '../codec/format/index.js';
import { decodeCodingBlob, stepCoding } from '../codec/codec.js';
import { loadModel, decodeContext, resolveSchedule } from '../pipeline/model-context.js';
import { fileConditioning, type FileConditioning } from '../pipeline/conditioning.js';
import { CliError } from './errors.js';
import { parseOrUsage, type Print } from './args.js';

export const INFO_HELP = `diffc info <file.dfc> [--model M] [--json]

Prints the header (model, image and latent size, schedule, seed, coding parameters, prompt,
guidance and denoise guidance) and, when the model is available, the bits of every coded step and
the timestep each prefix reaches. A file from before the header held guidance shows its family's
legacy values (SD 1/1, Flux 3.5/3.5), which need the model to tell the family (--model; the
default model is tried).
`;

const Args = z.object({
  positionals: z.array(z.string()).length(1, 'give exactly one .dfc file'),
  model: z.string().optional(),
  json: z.boolean().default(false),
});

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

export async function infoCommand(argv: string[], out: Print): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { model: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    out(INFO_HELP);
    return 0;
  }
  const a = parseOrUsage(Args, { ...values, positionals });
  let bytes: Uint8Array;
  try {
    bytes = await readFile(a.positionals[0]);
  } catch (e) {
    throw new CliError(`cannot read ${a.positionals[0]}: ${(e as Error).message}`);
  }
  const { header: h, payload } = readDfc(bytes);
  const pixels = h.image.width * h.image.height;
  const { params, usesProtocol } = decodeCodingBlob(h.coding);
  let steps: { step: number; timestep: number; bits: number; cumulative_bpp: number; chunks: number; k: number }[] | null = null;
  let note: string | undefined;
  let cond: FileConditioning | undefined = h.conditioning ? { ...h.conditioning, legacy: false } : undefined;
  try {
    const lm = await loadModel(a.model);
    if (hex(lm.model.info.hash) === hex(h.model.hash)) {
      cond = fileConditioning(h, lm.model.info.family);
      const d = lm.model.info.downsample;
      const W = h.latent.width * d, H = h.latent.height * d;
      // Any of the file's predictors would do (stepCoding reads symbols only); the chain's is the one it names.
      const { bits, plans } = stepCoding(bytes, await lm.model.predictor(W, H, { prompt: h.prompt, guidance: cond.guidance }), decodeContext(lm, W, H));
      const sched = resolveSchedule(lm, h.schedule.id);
      const headerBits = 8 * bytes.length - bits.reduce((s, b) => s + b, 0);
      let cum = headerBits;
      steps = bits.map((b, j) => ({
        step: j + 1, timestep: sched.timesteps[j], bits: +b.toFixed(2), cumulative_bpp: +((cum += b) / pixels).toFixed(5),
        chunks: plans[j].chunks, k: plans[j].k,
      }));
    } else {
      note = `per-step bits need model ${h.model.id} (${hex(h.model.hash)}); pass --model`;
    }
  } catch (e) {
    note = `per-step bits unavailable: ${(e as Error).message}`;
  }
  const result = {
    file: a.positionals[0], bytes: bytes.length, bpp: +((8 * bytes.length) / pixels).toFixed(5),
    model: h.model.id, model_hash: hex(h.model.hash), width: h.image.width, height: h.image.height,
    latent: h.latent, schedule: h.schedule.id, steps: h.stepsCoded, seed: h.seed, recon: h.recon,
    coding: { ...params, predicted_by_protocol: usesProtocol }, payload_bytes: payload.length,
    prompt: h.prompt ?? null,
    // The values the file decodes with; null only for a file without the field whose model is not at hand.
    guidance: cond?.guidance ?? null, denoiseGuidance: cond?.denoiseGuidance ?? null,
    legacy_conditioning: h.conditioning === undefined,
    // A conditional model's coded condition, sent before the chain (docs/format.md §3.9).
    condition_bytes: h.condition?.length ?? null,
    step_bits: steps, ...(note ? { note } : {}),
  };
  if (a.json) {
    out(JSON.stringify(result));
    return 0;
  }
  out(`${result.file}: ${result.bytes} bytes, ${result.bpp} bpp, ${h.image.width}x${h.image.height}`);
  out(`model ${h.model.id} (${result.model_hash}); latent ${h.latent.channels}x${h.latent.height}x${h.latent.width}`);
  out(`schedule ${h.schedule.id}; ${h.stepsCoded} steps coded; seed ${h.seed.hi}:${h.seed.lo}; recon ${h.recon.method}/${h.recon.steps}`);
  out(`coding: chunks <= ${params.maxChunkBits} bits, padding ${params.paddingQuarterBits / 4}, side info ${params.sideInfo}${usesProtocol ? ' (protocol-predicted)' : ''}`);
  if (h.prompt !== undefined) out(`prompt: ${JSON.stringify(h.prompt)}`);
  if (h.condition) out(`coded condition: ${h.condition.length} bytes before the chain`);
  if (h.conditioning) out(`guidance ${h.conditioning.guidance} (chain), denoise guidance ${h.conditioning.denoiseGuidance}`);
  else if (cond) out(`guidance ${cond.guidance} (chain), denoise guidance ${cond.denoiseGuidance}: legacy file (no guidance in the header), its model family's legacy values`);
  else out(`guidance: legacy file (no guidance in the header): its model family's legacy values (SD 1/1, Flux 3.5/3.5); pass --model to tell`);
  if (steps) {
    for (const s of steps) {
      out(`  step ${String(s.step).padStart(3)}  t=${String(s.timestep).padStart(4)}  ${s.bits.toFixed(1).padStart(9)} bits  -> ${s.cumulative_bpp.toFixed(4)} bpp  ` +
        `(${s.chunks} chunk${s.chunks === 1 ? '' : 's'} of 2^${s.k})`);
    }
  }
  if (note) out(note);
  return 0;
}
