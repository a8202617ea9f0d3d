/**
 * npm run bench:default-model -- [--json] [--bpp 0.03,0.06,0.12] [--models default,diffc-default-dct-v1]
 *   [--photos DIR] [--baselines] [--speed-runs 2]
 *
 * The embedded default against the model it replaced, side by side in one run, on the held-out
 * photos (`bash scripts/fetch-photos.sh --heldout`, fetched here if missing; never used to fit or
 * tune the model): `diffc eval` in process for each model (with --baselines, JPEG/WebP/AVIF at
 * the default's matched bpp too), then the encode time of camera.png (512x512) at 0.1 bpp,
 * alternating the models --speed-runs times (machines are noisy: compare the ratio, not the
 * seconds). With --json the last stdout line is one object: bpp, photos, summary (per model and
 * codec: target_bpp, bpp, psnr, msssim, grain per rate), encode_s (median per model) and
 * encode_ratio (each model over the last one listed).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { execFile } from 'node:child_process';
import { main } from '../src/cli/main.js';

const { values: a } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    bpp: { type: 'string', default: '0.03,0.06,0.12' },
    models: { type: 'string', default: 'default,diffc-default-dct-v1' },
    photos: { type: 'string', default: '.cache/heldout' },
    baselines: { type: 'boolean', default: false },
    'speed-runs': { type: 'string', default: '2' },
  },
});
const log = (s: string) => process.stderr.write(`${s}\n`);
const quiet = () => undefined;

if (a.photos === '.cache/heldout' && !existsSync('.cache/heldout/.complete')) {
  await promisify(execFile)('bash', ['scripts/fetch-photos.sh', '--heldout']);
}
const models = a.models.split(',');
const scratch = await mkdtemp(join(tmpdir(), 'diffc-bench-default-'));
try {
  const summary: Record<string, unknown> = {};
  for (const [i, model] of models.entries()) {
    const out = join(scratch, `eval-${i}`);
    const codecs = a.baselines && i === 0 ? 'diffc,jpeg,webp,avif' : 'diffc';
    log(`eval ${model} (${codecs}) on ${a.photos} ...`);
    const code = await main(['eval', a.photos, '--model', model, '--bpp', a.bpp, '--codecs', codecs, '--out', out, '-q'], quiet, quiet);
    if (code !== 0) throw new Error(`diffc eval --model ${model} exited ${code}`);
    const r = JSON.parse(await readFile(join(out, 'results.json'), 'utf8')) as { model: string; summary: Record<string, { target_bpp: number; bpp: number; psnr: number; msssim: number; grain: number | null }[]> };
    summary[model] = { id: r.model, ...r.summary };
    for (const [codec, rows] of Object.entries(r.summary)) {
      for (const p of rows) log(`  ${(codec === 'diffc' ? model : codec).padEnd(22)} ${p.target_bpp}: ${p.bpp.toFixed(4)} bpp  PSNR ${p.psnr.toFixed(2)}  MS-SSIM ${p.msssim.toFixed(4)}  grain ${p.grain ?? '-'}`);
    }
  }
  const camera = join(a.photos, 'camera.png');
  const times: Record<string, number[]> = Object.fromEntries(models.map((m) => [m, []]));
  if (existsSync(camera)) {
    for (let run = 0; run < Number(a['speed-runs']); run++) {
      for (const model of models) {
        const t0 = performance.now();
        const code = await main(['compress', camera, '-o', join(scratch, 'speed.dfc'), '--model', model, '--bpp', '0.1', '--force', '-q'], quiet, quiet);
        if (code !== 0) throw new Error(`diffc compress --model ${model} exited ${code}`);
        times[model].push((performance.now() - t0) / 1000);
      }
    }
  }
  const median = (v: number[]) => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)];
  const encode = Object.fromEntries(models.map((m) => [m, times[m].length ? +median(times[m]).toFixed(2) : null]));
  const ref = encode[models.at(-1)!];
  const ratio = Object.fromEntries(models.map((m) => [m, ref && encode[m] ? +(encode[m]! / ref).toFixed(2) : null]));
  log(`encode camera.png 512x512 at 0.1 bpp (median of ${a['speed-runs']}): ${models.map((m) => `${m} ${encode[m]} s (x${ratio[m]})`).join(', ')}`);
  if (a.json) console.log(JSON.stringify({ bpp: a.bpp.split(',').map(Number), photos: a.photos, summary, encode_s: encode, encode_ratio: ratio }));
} finally {
  await rm(scratch, { recursive: true, force: true });
}
