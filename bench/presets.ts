/**
 * npm run bench:presets -- [--json] [--models default,parity/sd15,...] [--size 128] [--timestep 99]
 *   [--photos astronaut,coffee] [--backend cpu|ts] [--grid 10]
 *
 * `--preset paper` against measured defaults, side by side (issue 12): for each model, the KL per
 * step is measured on the photos (`diffc schedule measure`), Algorithm 3 picks the schedule to
 * --timestep with the codec's cost model and the model's own coding settings (`diffc schedule
 * optimize --model`), and then each photo is compressed down to --timestep three ways:
 *   measured   the model's coding settings with the measured schedule
 *   model      the model's shipped defaults (its manifest schedule)
 *   paper      --preset paper (the reference implementation's chunking, target and schedule)
 * reporting payload bits, steps, the timestep reached, the coded steps' KL and the overhead
 * (payload bits over KL, minus 1). Models: 'default' (the embedded analytic source) and the tiny
 * real-architecture exports in models/test/parity/ (random weights: their KL is not a real
 * model's, so only the codec's side of the comparison carries over). Everything runs through the
 * CLI's own verbs, in process. Photos: skimage's (scripts/fetch-photos.sh, run first), centre
 * crops of --size px. With --json the last stdout line is one object: size, photos,
 * target_timestep, backend, rows (model, way, bits_per_photo, steps_per_photo, timestep,
 * kl_bits_per_photo, overhead, expected_bits, encode_s, measure_s).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { execFile } from 'node:child_process';
import sharp from 'sharp';
import { main } from '../src/cli/main.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const { values: a } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    models: { type: 'string', default: 'default,parity/sd15,parity/sd21,parity/sdxl,parity/flux-dev' },
    size: { type: 'string', default: '128' },
    timestep: { type: 'string', default: '99' },
    photos: { type: 'string', default: 'astronaut,coffee' },
    backend: { type: 'string', default: 'cpu' },
    grid: { type: 'string', default: '10' },
  },
});
const size = Number(a.size), target = Number(a.timestep);

async function cli(args: string[]): Promise<Record<string, unknown>> {
  const out: string[] = [], err: string[] = [];
  const quiet = args[1] === 'optimize' ? [] : ['-q']; // optimize prints no progress
  const code = await main([...args, '--json', ...quiet], (s) => out.push(s), (s) => err.push(s));
  if (code !== 0) throw new Error(`diffc ${args.join(' ')}: exit ${code}: ${err.join('\n')}`);
  return JSON.parse(out.at(-1)!) as Record<string, unknown>;
}

const modelPath = (m: string) => (m === 'default' ? 'default' : join(REPO, 'models', 'test', m));

async function run(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'diffc-presets-'));
  try {
    await promisify(execFile)('bash', [join(REPO, 'scripts', 'fetch-photos.sh')]); // idempotent: instant once fetched
    const photos: string[] = [];
    for (const name of a.photos!.split(',')) {
      const src = join(REPO, '.cache', 'photos', `${name}.png`);
      if (!existsSync(src)) throw new Error(`${src} is not one of scripts/fetch-photos.sh's photos`);
      const out = join(dir, `${name}-${size}.png`);
      await sharp(src).resize(size, size, { fit: 'cover' }).png().toFile(out);
      photos.push(out);
    }
    const rows: Record<string, unknown>[] = [];
    for (const m of a.models!.split(',')) {
      const model = modelPath(m);
      const kl = join(dir, `${m.replace('/', '-')}-kl.json`);
      const t0 = performance.now();
      await cli(['schedule', 'measure', '--model', model, '--grid', a.grid!, '-o', kl, ...photos]);
      const measureS = (performance.now() - t0) / 1000;
      const opt = await cli(['schedule', 'optimize', '--kl', kl, '--model', model, '--target', String(target)]);
      const ways: [string, string[]][] = [['measured', ['--schedule', String(opt.id)]], ['model', []], ['paper', ['--preset', 'paper']]];
      for (const [way, flags] of ways) {
        const sum = { payload_bits: 0, kl_bits: 0, steps: 0, timestep: 0, encode_s: 0 };
        for (const p of photos) {
          const r = await cli(['compress', p, '-o', join(dir, `${m.replace('/', '-')}-${way}.dfc`), '--force', '--model', model, '--timestep', String(target), '--backend', a.backend!, ...flags]);
          sum.payload_bits += r.payload_bits as number;
          sum.kl_bits += r.kl_bits as number;
          sum.steps += r.steps as number;
          sum.timestep = Math.max(sum.timestep, r.timestep as number);
          sum.encode_s += r.encode_s as number;
        }
        const n = photos.length;
        const row = {
          model: m, way, schedule: way === 'measured' ? `measured (${(opt.timesteps as number[]).length} steps)` : way === 'paper' ? 'paper' : 'manifest',
          bits_per_photo: Math.round(sum.payload_bits / n), steps_per_photo: sum.steps / n, timestep: sum.timestep,
          kl_bits_per_photo: Math.round(sum.kl_bits / n), overhead: +(sum.payload_bits / sum.kl_bits - 1).toFixed(4),
          expected_bits: way === 'measured' ? Math.round(opt.expected_bits as number) : null, encode_s: +sum.encode_s.toFixed(2), measure_s: +measureS.toFixed(1),
        };
        rows.push(row);
        console.error(`${m.padEnd(16)} ${way.padEnd(9)} ${String(row.bits_per_photo).padStart(8)} bits ${String(row.steps_per_photo).padStart(6)} steps  t=${String(row.timestep).padStart(3)}  KL ${String(row.kl_bits_per_photo).padStart(8)}  overhead ${(100 * row.overhead).toFixed(1).padStart(6)} %  ${row.expected_bits !== null ? `expected ${row.expected_bits}` : ''}  ${row.encode_s} s`);
      }
    }
    if (a.json) console.log(JSON.stringify({ size, photos: photos.length, target_timestep: target, backend: a.backend, rows }));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await run();
