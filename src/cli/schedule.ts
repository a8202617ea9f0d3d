/**
 * `diffc schedule measure`: a model's mean per-step KL on photos, as a KL matrix file.
 * `diffc schedule optimize`: the minimum-cost coding schedule (Algorithm 3) from a KL matrix
 * file, or from the closed-form analytic source with --analytic SIZE, under the codec's own chunk
 * planner and index cost (src/codec/schedule/optimize.ts).
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { CodingParams, planForKl, type ChunkPlan } from '../codec/chain/chunk-plan.js';
import {
  KlMatrix, optimizeSchedule, codingCost, stepCodingCost, scheduleStepKl, scheduleSteps, stepKl, klMatrixDims, sideInfoBitsFor, sideInfoBitsAlong,
  DEFAULT_SIDE_INFO_BITS, type PlanningParams, type StepContext,
} from '../codec/schedule/optimize.js';
import { GaussianImageModel } from '../codec/analytic/gaussian-image-model.js';
import { alphaBars, SD_SCHEDULE } from '../codec/schedule/ddpm.js';
import { makeCodingSchedule } from '../codec/schedule/timesteps.js';
import { loadModel, type LoadedModel } from '../pipeline/model-context.js';
import { measureKl, modelPlanningParams, DEFAULT_GRID, MeasureError } from '../pipeline/measure-kl.js';
import { GUIDANCE_RANGE } from '../pipeline/conditioning.js';
import { PresetName } from '../pipeline/presets.js';
import { resolveBackend } from '../rcc-backends/index.js';
import { expandInputs, IMAGE_EXTENSIONS } from './inputs.js';
import { assertWritable, writeFileAtomic } from './files.js';
import { Progress } from './progress.js';
import { CliError, UsageError } from './errors.js';
import { parseOrUsage, type Print } from './args.js';

export const SCHEDULE_HELP = `diffc schedule <measure|optimize> [options]

  measure    a model's mean per-step KL on your photos -> a KL matrix file
  optimize   the coding schedule with the fewest expected coded bits, from a KL matrix file
             (or the analytic source); prints a list:... id for diffc compress --schedule

  diffc schedule measure --model M -o kl.json photos/
  diffc schedule optimize --kl kl.json --model M --target 9
  diffc compress photo.png -o photo.dfc --model M --schedule list:...

Run 'diffc schedule measure --help' or 'diffc schedule optimize --help' for the options.
`;

export const MEASURE_HELP = `diffc schedule measure [--model M] -o kl.json <photo|dir|glob>... [options]

Measures the model's mean KL per step on the photos: for each photo its latent x0 (as diffc
compress makes it), for each candidate timestep t_i and sample a forward sample
x_ti = sqrt(ab) x0 + sqrt(1-ab) eps (seeded), one model call for x0-hat, and for every later
candidate t_j the KL of the step t_i -> t_j in closed form, |cX0 (x0 - x0hat)|^2 / (2 sigma^2 ln 2)
bits (the codec's formula); the prior row uses the model's prior mean. KL is per image, averaged
over the photos and samples, so measure on photos of the size you will compress (it scales with
the pixel count). The file also records the model (id, hash), the photos and their sizes, the
samples, seed and grid, and the coding settings diffc compress uses with this model, which
'schedule optimize --kl' then plans with.

Time: candidates x samples x photos model calls (default grid: 100 candidates), each on the whole
latent (large photos go through the model's tiles, so a call costs what one compress step does).

  -o, --output FILE     the KL matrix (JSON); an existing file is refused unless --force
  --model M             model bundle directory, pulled id, or 'default' (embedded; default)
  --grid N              candidates every N timesteps from T-1 down to 0 (default ${DEFAULT_GRID})
  --timesteps LIST      explicit candidates instead, strictly decreasing (e.g. 999,899,...,9)
  --samples S           forward samples per photo and candidate, 1..64 (default 1)
  --seed X              seed of the forward noise, 0..2^53 (default 0)
  --prompt TEXT         text conditioning (models with a text encoder; as diffc compress --prompt)
  --guidance G          the coded chain's guidance, as diffc compress --guidance (default the
                        preset's, else the model's; the file records the value used)
  --preset P            diffc compress's coding choices to record and condition with: default |
                        paper (docs/models.md); optimize plans with them
  --backend B           RCC backend whose chunk bits to record, for models whose chunk bits are
                        'auto': auto | cuda | cpu | ts (default auto: what compress picks here)
  --device D            model inference device: cpu | cuda (default $DIFFC_DEVICE, else cpu)
  --force               overwrite an existing output
  --json                print a JSON summary on stdout
  -q, --quiet           no progress on stderr
`;

export const OPTIMIZE_HELP = `diffc schedule optimize (--kl FILE | --analytic SIZE) [options]

Finds the coding schedule (decreasing timesteps from the prior to --target) that minimises the
expected coded bits, as a shortest path over candidate timesteps (Vonderfecht & Liu, Alg. 3). A
step's cost is the codec's own: planForKl splits its KL into C chunks of 2^k candidates, each
chunk costs the expected code length of its RCC index in the payload's bucket coder, the step
its side information (the plan), and the KL its samples fall short of sending when 2^k
candidates are too few, which the next step codes again. Prints the schedule as a list:... id
for diffc compress --schedule, and with --json the expected bits of every step.

  --kl FILE          a KL matrix: from diffc schedule measure, or JSON {timesteps:[...decreasing],
                     prior:[...], kl:[[...]]} of mean KL bits from the prior / from timesteps[i]
                     to timesteps[j] (i < j)
  --analytic SIZE    use the closed-form KL of the analytic Gaussian source (SIZE x SIZE)
  --grid N           analytic only: candidate timesteps every N (default 10)
  --target T         last timestep of the schedule (default: the last candidate)
  --model M          plan with the coding settings diffc compress uses with this model; with
                     --kl, the file must have been measured with the same model (same hash)
  --preset P         with --model: the settings of diffc compress --preset P (default | paper)
  --backend B        with --model: the RCC backend compress will run (auto | cuda | cpu | ts),
                     for models whose chunk bits are 'auto' (default auto: what it picks here)

Coding settings (each flag overrides --model, which overrides the --kl file's recorded settings,
which override the codec defaults: 16-bit chunks, padding 1, chunk KL = chunk bits, target 35 %):
  --chunk-bits B     largest RCC chunk, 2^B candidates (1..24)
  --padding P        candidate bits over a chunk's KL, in bits, a multiple of 0.25 (-8..8)
  --chunk-kl D       target KL per chunk in bits, a multiple of 0.25 (0: the chunk bits)
  --target-std S     the shaped RCC target's std in percent (5..100; 100 = exact posterior)
  --side-info-bits X charge this many bits of side information per step (default: the plan's
                     deltas in the payload's coder, from the model's protocol plans with --model
                     when it has them, else from the previous step's plan)
  --step-penalty X   extra bits charged per step: fewer, larger steps, faster encodes (default 0)
  --json             print one JSON object instead of text (with the cost of every step)
`;

const Backend = z.enum(['auto', 'cuda', 'cpu', 'ts']);

/** The RCC backend's name diffc compress --backend B would run with here (what decides 'auto' chunk bits). */
async function backendName(b: z.infer<typeof Backend>): Promise<string> {
  if (b !== 'auto') return b;
  const r = await resolveBackend('auto');
  r.close?.();
  return r.name;
}

const quarter = (flag: string) => z.coerce.number().min(-8).max(64).refine((v) => Number.isInteger(4 * v), { message: `${flag} must be a multiple of 0.25` });

const OptimizeArgs = z.object({
  kl: z.string().optional(),
  analytic: z.coerce.number().int().min(2).max(256).optional(),
  grid: z.coerce.number().int().min(1).max(500).default(10),
  target: z.coerce.number().int().min(0).optional(),
  model: z.string().optional(),
  preset: PresetName.optional(),
  backend: Backend.default('auto'),
  'chunk-bits': z.coerce.number().int().min(1).max(24).optional(),
  padding: quarter('--padding').pipe(z.number().min(-8).max(8)).optional(),
  'chunk-kl': quarter('--chunk-kl').pipe(z.number().min(0).max(64)).optional(),
  'target-std': z.coerce.number().int().min(5).max(100).optional(),
  'side-info-bits': z.coerce.number().min(0).max(1000).optional(),
  'step-penalty': z.coerce.number().min(0).max(1e6).default(0),
  json: z.boolean().default(false),
}).refine((a) => (a.kl === undefined) !== (a.analytic === undefined), { message: 'give exactly one of --kl FILE or --analytic SIZE' })
  .refine((a) => a.model !== undefined || a.preset === undefined, { message: '--preset needs --model' });

const MeasureArgs = z.object({
  positionals: z.array(z.string()).min(1, 'give at least one photo or directory'),
  output: z.string({ required_error: '--output is required' }),
  model: z.string().optional(),
  grid: z.coerce.number().int().min(1).max(1000).optional(),
  timesteps: z.string().transform((s, ctx) => {
    const v = s.split(',').map((x) => Number(x.trim()));
    if (v.length === 0 || v.some((x) => !Number.isInteger(x) || x < 0)) ctx.addIssue({ code: 'custom', message: `bad timestep list '${s}' (comma-separated integers)` });
    return v;
  }).optional(),
  samples: z.coerce.number().int().min(1).max(64).default(1),
  seed: z.coerce.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).default(0),
  prompt: z.string().max(4096).optional(),
  guidance: z.coerce.number().min(GUIDANCE_RANGE.min).max(GUIDANCE_RANGE.max).optional(),
  device: z.enum(['cpu', 'cuda']).optional(),
  preset: PresetName.optional(),
  backend: Backend.default('auto'),
  force: z.boolean().default(false),
  json: z.boolean().default(false),
  quiet: z.boolean().default(false),
}).refine((a) => a.grid === undefined || a.timesteps === undefined, { message: 'give at most one of --grid, --timesteps' });

export async function scheduleCommand(argv: string[], out: Print, err: Print = () => {}): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === 'measure') return measureCommand(rest, out, err);
  if (verb === 'optimize') return optimizeCommand(rest, out, err);
  throw new UsageError(`unknown schedule command '${verb ?? ''}'\n\n${SCHEDULE_HELP}`);
}

async function measureCommand(argv: string[], out: Print, err: Print): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      output: { type: 'string', short: 'o' }, model: { type: 'string' }, grid: { type: 'string' }, timesteps: { type: 'string' },
      samples: { type: 'string' }, seed: { type: 'string' }, prompt: { type: 'string' }, guidance: { type: 'string' }, device: { type: 'string' },
      preset: { type: 'string' }, backend: { type: 'string' },
      force: { type: 'boolean' }, json: { type: 'boolean' }, quiet: { type: 'boolean', short: 'q' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    out(MEASURE_HELP);
    return 0;
  }
  const a = parseOrUsage(MeasureArgs, { ...values, positionals });
  const { files } = await expandInputs(a.positionals, IMAGE_EXTENSIONS);
  await assertWritable(a.output, a.force);
  const lm = await loadModel(a.model, a.device ? { device: a.device } : {});
  try {
    const progress = new Progress('measure', 0, a.quiet);
    const m = await measureKl(lm, files, {
      timesteps: a.timesteps, grid: a.grid, samples: a.samples, seed: a.seed,
      prompt: a.prompt, guidance: a.guidance, coding: { preset: a.preset, backend: await backendName(a.backend) },
      onProgress: (e) => progress.update(e.calls, `model calls; photo ${e.image + 1}/${e.images} ${e.file}`, e.totalCalls),
    }).catch((e: unknown) => {
      if (e instanceof MeasureError && e.code === 'timesteps') throw new UsageError(`--timesteps: ${e.message}`);
      if (e instanceof MeasureError) throw new CliError(e.message);
      throw e;
    });
    progress.done();
    await writeFileAtomic(a.output, new TextEncoder().encode(JSON.stringify(m) + '\n'), a.force);
    const summary = {
      output: a.output, model: m.model!.id, model_hash: m.model!.hash, images: m.images!.count, candidates: m.timesteps.length,
      samples: m.samples, model_calls: m.modelCalls, seconds: m.seconds, coding: m.coding,
      prior_kl_bits: +m.prior[0].toFixed(3), total_kl_bits: +totalKl(m).toFixed(3),
    };
    if (a.json) out(JSON.stringify(summary));
    else if (!a.quiet) err(`${a.output}: ${m.timesteps.length} candidates x ${m.images!.count} photos x ${m.samples} samples, ${m.modelCalls} model calls in ${m.seconds}s`);
    return 0;
  } finally {
    await lm.model.close();
  }
}

/** KL of the whole chain of candidates (every step from one candidate to the next), bits. */
function totalKl(m: KlMatrix): number {
  return scheduleStepKl(m, m.timesteps).reduce((s, v) => s + v, 0);
}

async function optimizeCommand(argv: string[], out: Print, err: Print): Promise<number> {
  const { values } = parseArgs({
    args: argv, strict: true,
    options: {
      kl: { type: 'string' }, analytic: { type: 'string' }, grid: { type: 'string' }, target: { type: 'string' }, model: { type: 'string' },
      preset: { type: 'string' }, backend: { type: 'string' },
      'chunk-bits': { type: 'string' }, padding: { type: 'string' }, 'chunk-kl': { type: 'string' }, 'target-std': { type: 'string' },
      'side-info-bits': { type: 'string' }, 'step-penalty': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    out(OPTIMIZE_HELP);
    return 0;
  }
  const a = parseOrUsage(OptimizeArgs, values);
  let matrix: KlMatrix;
  let dims: number | undefined;
  if (a.kl !== undefined) {
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(a.kl, 'utf8'));
    } catch (e) {
      throw new UsageError(`cannot read KL matrix ${a.kl}: ${(e as Error).message}`);
    }
    const m = KlMatrix.safeParse(raw);
    if (!m.success) throw new UsageError(`${a.kl}: ${m.error.issues[0].path.join('.')}${m.error.issues[0].path.length ? ': ' : ''}${m.error.issues[0].message}`);
    matrix = m.data;
    dims = klMatrixDims(matrix);
  } else {
    const model = new GaussianImageModel({ size: a.analytic! });
    const table = alphaBars(SD_SCHEDULE);
    const ts: number[] = [];
    for (let t = table.length - 1; t >= 0; t -= a.grid) ts.push(t);
    if (a.target !== undefined && a.target < table.length && !ts.includes(a.target)) {
      ts.push(a.target);
      ts.sort((x, y) => y - x);
    }
    matrix = {
      timesteps: ts,
      prior: ts.map((t) => model.expectedStepKlBits(0, table[t])),
      kl: ts.map((ti, i) => ts.map((tj, j) => (j > i ? model.expectedStepKlBits(table[ti], table[tj]) : 0))),
    };
    dims = a.analytic! * a.analytic!;
  }
  const target = a.target ?? matrix.timesteps.at(-1)!;
  if (!matrix.timesteps.includes(target)) throw new UsageError(`--target ${target} is not one of the candidate timesteps`);

  const lm: LoadedModel | undefined = a.model !== undefined ? await loadModel(a.model) : undefined;
  try {
    return await optimizeWith(a, matrix, dims, target, lm, out, err);
  } finally {
    await lm?.model.close();
  }
}

async function optimizeWith(
  a: z.infer<typeof OptimizeArgs>, matrix: KlMatrix, dims: number | undefined, target: number, lm: LoadedModel | undefined, out: Print, err: Print,
): Promise<number> {
  let fromModel: PlanningParams | undefined;
  if (lm) {
    const info = lm.model.info, hash = Buffer.from(info.hash).toString('hex');
    if (matrix.model && matrix.model.hash !== hash) {
      throw new CliError(`${a.kl} was measured with model ${matrix.model.id} (${matrix.model.hash}), not ${info.id} (${hash}): measure again with this model, or drop --model`);
    }
    if (matrix.timesteps[0] >= lm.model.table.length) throw new CliError(`timestep ${matrix.timesteps[0]} is outside model ${info.id}'s 0..${lm.model.table.length - 1}`);
    fromModel = modelPlanningParams(lm, { preset: a.preset, backend: await backendName(a.backend) });
  }
  const override: Partial<PlanningParams> = {
    ...(a['chunk-bits'] !== undefined ? { maxChunkBits: a['chunk-bits'] } : {}),
    ...(a.padding !== undefined ? { paddingQuarterBits: Math.round(4 * a.padding) } : {}),
    ...(a['chunk-kl'] !== undefined ? { chunkKlQuarterBits: Math.round(4 * a['chunk-kl']) } : {}),
    ...(a['target-std'] !== undefined ? { targetStdPercent: a['target-std'] } : {}),
  };
  const source = Object.keys(override).length ? 'flags' : fromModel ? 'model' : matrix.coding ? 'kl-file' : 'defaults';
  const full = CodingParams.parse({ ...matrix.coding, ...fromModel, ...override });
  const params: PlanningParams = { maxChunkBits: full.maxChunkBits, paddingQuarterBits: full.paddingQuarterBits, chunkKlQuarterBits: full.chunkKlQuarterBits, targetStdPercent: full.targetStdPercent };
  const planDims = dims ?? Number.MAX_SAFE_INTEGER;
  // Side information: the plan's deltas from the plan it is coded against, in the payload's own
  // coder: the model's protocol plan (models with an expected KL per step, as diffc compress uses
  // them), else the previous step's plan.
  const protocolKl = protocolKlOf(lm, matrix);
  const sideInfo = a['side-info-bits'] !== undefined ? undefined : (plan: ChunkPlan, st: StepContext | undefined) => {
    if (!st) return DEFAULT_SIDE_INFO_BITS;
    const ref = protocolKl ? planForKl(protocolKl(st.from, st.to), planDims, full)
      : st.from < 0 ? { chunks: 1, k: 0 } : planForKl(stepKl(matrix, st.before ?? -1, st.from), planDims, full);
    return sideInfoBitsFor(plan, ref, full, planDims);
  };
  const costOpts = { params, dims, sideInfoBits: a['side-info-bits'], sideInfo };
  const r = optimizeSchedule(matrix, codingCost({ ...costOpts, stepPenaltyBits: a['step-penalty'] }), target);
  if (lm) {
    try {
      makeCodingSchedule(lm.model.table, r.timesteps);
    } catch (e) {
      throw new CliError(`the schedule does not fit model ${lm.model.info.id}: ${(e as Error).message}`);
    }
  }
  const id = `list:${r.timesteps.join(',')}`;
  if (source === 'kl-file' && !a.json) err(`note: planning with the coding settings recorded in ${a.kl}${matrix.model ? ` (model ${matrix.model.id})` : ''}`);
  // The path again, as the encoder will meet it: each step's KL plus what the step before it fell
  // short of sending, and the plans' side information coded in order (the delta coders adapt).
  const steps = scheduleSteps(matrix, r.timesteps);
  let carried = 0;
  const costs = steps.map((st) => {
    const kl = stepKl(matrix, st.from, st.to);
    const c = stepCodingCost(kl + carried, { params, dims, sideInfoBits: 0 }, st);
    carried = c.carriedKlBits;
    return { kl, c };
  });
  const side = a['side-info-bits'] !== undefined ? costs.map(() => a['side-info-bits']!)
    : sideInfoBitsAlong(costs.map((x) => x.c.plan), full, planDims, protocolKl ? steps.map((st) => planForKl(protocolKl(st.from, st.to), planDims, full)) : undefined);
  const perStep = costs.map(({ kl, c }, s) => ({
    timestep: r.timesteps[s], kl_bits: +kl.toFixed(3), chunks: c.plan.chunks, k: c.plan.k,
    expected_bits: +(c.codedBits + side[s]).toFixed(3), side_info_bits: +side[s].toFixed(3), carried_kl_bits: +c.carriedKlBits.toFixed(3),
  }));
  const expected = perStep.reduce((s, p) => s + p.expected_bits, 0);
  if (a.json) {
    out(JSON.stringify({
      id, timesteps: r.timesteps, steps: r.timesteps.length, expected_bits: +expected.toFixed(3), kl_bits: +r.klBits.toFixed(3),
      ...(a['step-penalty'] > 0 ? { objective: +r.cost.toFixed(3) } : {}),
      coding: params, coding_from: source, side_info: a['side-info-bits'] !== undefined ? 'fixed' : protocolKl ? 'protocol-plans' : 'previous-plan', dims: dims ?? null, ...(matrix.model ? { model: matrix.model } : {}), per_step: perStep,
    }));
  } else {
    out(`${r.timesteps.length} steps, expected ${expected.toFixed(1)} coded bits for ${r.klBits.toFixed(1)} bits of KL\nschedule id: ${id}`);
  }
  return 0;
}

/**
 * The model's expected KL of a step between candidates (-1: the prior) at the measured photos'
 * padded size, when it has one: what its protocol plans come from (pipeline/model-context.ts).
 */
function protocolKlOf(lm: LoadedModel | undefined, m: KlMatrix): ((from: number, to: number) => number) | undefined {
  const model = lm?.model, size = m.images?.sizes[0];
  if (!model?.expectedStepKlBits || !size) return undefined;
  const d = model.info.downsample, W = size.latent.width * d, H = size.latent.height * d, table = model.table;
  const cache = new Map<number, number>();
  return (from, to) => {
    const key = (from + 1) * m.timesteps.length + to;
    let v = cache.get(key);
    if (v === undefined) {
      v = model.expectedStepKlBits!(W, H, from < 0 ? 0 : table[m.timesteps[from]], table[m.timesteps[to]]);
      cache.set(key, v);
    }
    return v;
  };
}
