/**
 * `diffc decompress`: .dfc -> image, optionally from a prefix of the chain (progressive).
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { saveImage } from '../image/io.js';
import { decodeDfc } from '../pipeline/decompress.js';
import { runBatch } from './batch.js';
import { mkdir } from 'node:fs/promises';
import { expandInputs, outputIn, DFC_EXTENSIONS } from './inputs.js';
import { ReconMethod } from '../codec/diffusion/reconstruct.js';
import { DEFAULT_MODEL, loadModel, modelSpecForFile, type LoadedModel } from '../pipeline/model-context.js';
import { assertWritable } from './files.js';
import { CliError } from './errors.js';
import { parseOrUsage, type Print } from './args.js';
import { GUIDANCE_RANGE } from '../pipeline/conditioning.js';

export const DECOMPRESS_HELP = `diffc decompress <in.dfc|dir|glob>... -o <out.png|dir> [options]

Decodes .dfc files to images (format from the output extension: png, jpg, webp, avif, tif). With
several inputs (or a directory or glob) -o names a directory and each file becomes <name>.png.

  -o, --output PATH     output image, or directory for several inputs (existing files refused
                        unless --force)
  --model M             model bundle directory, pulled id, or 'default' (must be the encoder's
                        model; 'default' also decodes files of earlier embedded defaults)
  --upto-bpp X          decode only the longest chain prefix within X bits per pixel
  --upto-step N         decode only the first N coded steps
  --method M            flow | ancestral | mse (default: as written by the encoder)
  --denoise-steps N     denoising steps for flow/ancestral
  --denoise-guidance G  guidance of the final denoising instead of the file's (0..100; the
                        chain always runs with the file's guidance; files from before the header
                        held guidance decode with the family's legacy values: SD 1, Flux 3.5)
  --device D            model inference device: cpu | cuda (default cpu)
  --force               overwrite an existing output
  --json                print one JSON object on stdout
  -q, --quiet           nothing on stderr but errors
`;

const Args = z.object({
  positionals: z.array(z.string()).min(1, 'give at least one input .dfc'),
  output: z.string({ required_error: '--output is required' }),
  model: z.string().optional(),
  'upto-bpp': z.coerce.number().positive().optional(),
  'upto-step': z.coerce.number().int().nonnegative().optional(),
  method: ReconMethod.optional(),
  'denoise-steps': z.coerce.number().int().min(1).max(1000).optional(),
  'denoise-guidance': z.coerce.number().min(GUIDANCE_RANGE.min).max(GUIDANCE_RANGE.max).optional(),
  device: z.enum(['cpu', 'cuda']).default('cpu'),
  force: z.boolean().default(false),
  json: z.boolean().default(false),
  quiet: z.boolean().default(false),
}).refine((a) => a['upto-bpp'] === undefined || a['upto-step'] === undefined, { message: 'give at most one of --upto-bpp, --upto-step' });

export async function decompressCommand(argv: string[], out: Print, err: Print): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      output: { type: 'string', short: 'o' }, model: { type: 'string' }, 'upto-bpp': { type: 'string' }, 'upto-step': { type: 'string' },
      method: { type: 'string' }, 'denoise-steps': { type: 'string' }, 'denoise-guidance': { type: 'string' }, device: { type: 'string' }, force: { type: 'boolean' }, json: { type: 'boolean' },
      quiet: { type: 'boolean', short: 'q' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    out(DECOMPRESS_HELP);
    return 0;
  }
  const a = parseOrUsage(Args, { ...values, positionals });
  const { files, many } = await expandInputs(a.positionals, DFC_EXTENSIONS);
  const jobs = files.map((f) => ({ input: f, output: many ? outputIn(a.output, f, '.png') : a.output }));
  if (many) await mkdir(a.output, { recursive: true });
  for (const j of jobs) await assertWritable(j.output, a.force);
  // Loaded once per model: 'default' follows each file to the embedded model that wrote it.
  const models = new Map<string | undefined, Promise<LoadedModel>>();
  const modelFor = async (bytes: Uint8Array): Promise<LoadedModel> => {
    const spec = await modelSpecForFile(a.model, bytes);
    let lm = models.get(spec);
    if (!lm) models.set(spec, lm = loadModel(spec, { device: a.device }));
    return lm;
  };
  if (a.model !== undefined && a.model !== DEFAULT_MODEL) await modelFor(new Uint8Array(0)); // a bad --model fails before any file
  try {
    return await runBatch(jobs, many, a.json, out, err, (j) => decompressOne(modelFor, j, a), (j, r) => {
      if (!a.json && !a.quiet) err(`${j.output}: ${r.width}x${r.height} from ${r.steps}/${r.steps_coded} steps, ${r.decode_s}s`);
    });
  } finally {
    for (const lm of models.values()) await lm.then((m) => m.model.close(), () => undefined);
  }
}

async function decompressOne(modelFor: (bytes: Uint8Array) => Promise<LoadedModel>, j: { input: string; output: string }, a: z.infer<typeof Args>): Promise<Record<string, number | string | boolean>> {
  const t0 = performance.now();
  let bytes: Uint8Array;
  try {
    bytes = await readFile(j.input);
  } catch (e) {
    throw new CliError(`cannot read ${j.input}: ${(e as Error).message}`);
  }
  const lm = await modelFor(bytes);
  const dec = await decodeDfc(lm, bytes, {
    uptoStep: a['upto-step'], uptoBpp: a['upto-bpp'], method: a.method, denoiseSteps: a['denoise-steps'], denoiseGuidance: a['denoise-guidance'],
  });
  await saveImage(dec.image, j.output, { force: a.force });
  const c = dec.conditioning;
  return {
    input: j.input, output: j.output, steps: dec.steps, steps_coded: dec.stepsCoded, width: dec.image.width, height: dec.image.height,
    guidance: c.guidance, denoiseGuidance: c.denoiseGuidance, legacy_conditioning: c.legacy, decode_s: +((performance.now() - t0) / 1000).toFixed(3),
  };
}
