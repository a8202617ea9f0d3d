/**
 * `diffc decompress`: .dfc -> image, optionally from a prefix of the chain (progressive).
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { saveImage } from '../image/io.js';
import { cropTo } from '../image/geometry.js';
import { decompressLatents, stepBits } from '../codec/codec.js';
import { readDfc } from '../codec/format/index.js';
import { ReconMethod } from '../codec/diffusion/reconstruct.js';
import { loadModel, decodeContext } from './model-context.js';
import { assertWritable } from './files.js';
import { CliError } from './errors.js';
import { parseOrUsage, type Print } from './args.js';

export const DECOMPRESS_HELP = `diffc decompress <in.dfc> -o <out.png> [options]

Decodes a .dfc to an image (format from the output extension: png, jpg, webp, avif, tif).

  -o, --output FILE     output image (refused if it exists, unless --force)
  --model M             model bundle directory or 'default' (must be the encoder's model)
  --upto-bpp X          decode only the longest chain prefix within X bits per pixel
  --upto-step N         decode only the first N coded steps
  --method M            flow | ancestral | mse (default: as written by the encoder)
  --denoise-steps N     denoising steps for flow/ancestral
  --device D            model inference device: cpu | cuda (default cpu)
  --force               overwrite an existing output
  --json                print one JSON object on stdout
  -q, --quiet           nothing on stderr but errors
`;

const Args = z.object({
  positionals: z.array(z.string()).length(1, 'give exactly one input .dfc'),
  output: z.string({ required_error: '--output is required' }),
  model: z.string().optional(),
  'upto-bpp': z.coerce.number().positive().optional(),
  'upto-step': z.coerce.number().int().nonnegative().optional(),
  method: ReconMethod.optional(),
  'denoise-steps': z.coerce.number().int().min(1).max(1000).optional(),
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
      method: { type: 'string' }, 'denoise-steps': { type: 'string' }, device: { type: 'string' }, force: { type: 'boolean' }, json: { type: 'boolean' },
      quiet: { type: 'boolean', short: 'q' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    out(DECOMPRESS_HELP);
    return 0;
  }
  const a = parseOrUsage(Args, { ...values, positionals });
  const t0 = performance.now();
  await assertWritable(a.output, a.force);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(a.positionals[0]);
  } catch (e) {
    throw new CliError(`cannot read ${a.positionals[0]}: ${(e as Error).message}`);
  }
  const header = readDfc(bytes).header;
  const lm = await loadModel(a.model, { device: a.device });
  const d = lm.model.info.downsample;
  const W = header.latent.width * d, H = header.latent.height * d;
  const ctx = decodeContext(lm, W, H);
  const predictor = await lm.model.predictor(W, H, { prompt: header.prompt });
  let upto = a['upto-step'];
  if (a['upto-bpp'] !== undefined) {
    // Progressive: the longest prefix whose bits (payload + header) stay within the budget.
    const bits = stepBits(bytes, predictor, ctx);
    const headerBits = 8 * (bytes.length) - bits.reduce((s, b) => s + b, 0);
    let total = headerBits;
    upto = 0;
    for (const b of bits) {
      if ((total + b) / (header.image.width * header.image.height) > a['upto-bpp']) break;
      total += b;
      upto++;
    }
  }
  const [dec] = await decompressLatents(predictor, [bytes], ctx, { uptoSteps: upto, method: a.method, denoiseSteps: a['denoise-steps'] });
  const [rgb] = await lm.model.decode([dec.latent], W, H);
  await saveImage(cropTo(rgb, header.image.width, header.image.height), a.output, { force: a.force });
  await lm.model.close();
  const result = { input: a.positionals[0], output: a.output, steps: dec.stepsDecoded, steps_coded: header.stepsCoded, width: header.image.width, height: header.image.height, decode_s: +((performance.now() - t0) / 1000).toFixed(3) };
  if (a.json) out(JSON.stringify(result));
  else if (!a.quiet) err(`${a.output}: ${result.width}x${result.height} from ${result.steps}/${result.steps_coded} steps, ${result.decode_s}s`);
  return 0;
}
