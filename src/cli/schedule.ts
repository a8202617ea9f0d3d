/**
 * `diffc schedule optimize`: the minimum-cost coding schedule (Algorithm 3) from a KL matrix
 * file, or from the closed-form analytic source with --analytic SIZE.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { KlMatrix, optimizeSchedule, chunkedCodingCost } from '../codec/schedule/optimize.js';
import { GaussianImageModel } from '../codec/analytic/gaussian-image-model.js';
import { alphaBars, SD_SCHEDULE } from '../codec/schedule/ddpm.js';
import { UsageError } from './errors.js';

export const SCHEDULE_HELP = `diffc schedule optimize (--kl FILE | --analytic SIZE) [options]

Finds the coding schedule (decreasing timesteps from the prior to --target) that minimises the
expected coded bits, as a shortest path over candidate timesteps (Vonderfecht & Liu, Alg. 3).

  --kl FILE          JSON {timesteps:[...decreasing], prior:[...], kl:[[...]]}: mean KL in bits
                     from the prior / from timesteps[i] to timesteps[j] (i < j), over your images
  --analytic SIZE    use the closed-form KL of the analytic Gaussian source (SIZE x SIZE)
  --grid N           analytic only: candidate timesteps every N (default 10)
  --target T         last timestep of the schedule (default: the last candidate)
  --chunk-bits B     max RCC chunk bits in the cost model (default 16)
  --padding P        padding bits in the cost model (default 1)
  --step-penalty X   extra bits charged per step: fewer, larger steps, faster encodes (default 0)
  --json             print one JSON object instead of text
`;

const Args = z.object({
  kl: z.string().optional(),
  analytic: z.coerce.number().int().min(2).max(256).optional(),
  grid: z.coerce.number().int().min(1).max(500).default(10),
  target: z.coerce.number().int().min(0).optional(),
  'chunk-bits': z.coerce.number().int().min(1).max(24).default(16),
  padding: z.coerce.number().min(-8).max(8).default(1),
  'step-penalty': z.coerce.number().min(0).max(1e6).default(0),
  json: z.boolean().default(false),
}).refine((a) => (a.kl === undefined) !== (a.analytic === undefined), { message: 'give exactly one of --kl FILE or --analytic SIZE' });

export async function scheduleCommand(argv: string[], out: (s: string) => unknown): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb !== 'optimize') throw new UsageError(`unknown schedule command '${verb ?? ''}'\n\n${SCHEDULE_HELP}`);
  const { values } = parseArgs({
    args: rest, strict: true,
    options: {
      kl: { type: 'string' }, analytic: { type: 'string' }, grid: { type: 'string' }, target: { type: 'string' },
      'chunk-bits': { type: 'string' }, padding: { type: 'string' }, 'step-penalty': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' },
    },
  });
  if (values.help) {
    out(SCHEDULE_HELP);
    return 0;
  }
  const parsed = Args.safeParse(values);
  if (!parsed.success) throw new UsageError(parsed.error.issues.map((i) => `${i.path.join('.') || 'arguments'}: ${i.message}`).join('\n'));
  const a = parsed.data;
  let matrix: KlMatrix;
  if (a.kl !== undefined) {
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(a.kl, 'utf8'));
    } catch (e) {
      throw new UsageError(`cannot read KL matrix ${a.kl}: ${(e as Error).message}`);
    }
    const m = KlMatrix.safeParse(raw);
    if (!m.success) throw new UsageError(`${a.kl}: ${m.error.issues[0].message}`);
    matrix = m.data;
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
  }
  const target = a.target ?? matrix.timesteps.at(-1)!;
  if (!matrix.timesteps.includes(target)) throw new UsageError(`--target ${target} is not one of the candidate timesteps`);
  const r = optimizeSchedule(matrix, chunkedCodingCost(a['chunk-bits'], a.padding, 2, a['step-penalty']), target);
  const id = `list:${r.timesteps.join(',')}`;
  if (a.json) out(JSON.stringify({ id, timesteps: r.timesteps, steps: r.timesteps.length, expected_bits: r.cost, kl_bits: r.klBits }));
  else out(`${r.timesteps.length} steps, expected ${r.cost.toFixed(1)} coded bits for ${r.klBits.toFixed(1)} bits of KL\nschedule id: ${id}`);
  return 0;
}
