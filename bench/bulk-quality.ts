/**
 * npm run bench:bulk-quality [-- --json] [--target ssimulacra2=-10] [--bpp 0.1] [--photos DIR] [--concurrency N]
 *
 * Uniform quality across an archive: two bulkArchive jobs over the same photos (the skimage ones,
 * scripts/fetch-photos.sh) on a private Temporal dev server with in-process workers and a file://
 * store, one with a quality target and one at a fixed bpp, with the embedded default model. Every
 * output of both jobs is decoded again here (as diffc decompress decodes it) and scored on its
 * written pixels by the target's metric, so what the manifest says is checked, not trusted.
 *
 * Last line (JSON): target, fixed_bpp, target_job {all_met, bpp_min, bpp_max, quality_min,
 * quality_max, manifest_matches}, fixed_job {bpp_min, bpp_max, quality_min, quality_max}, and
 * per_image rows (source, target_bpp, target_quality, fixed_bpp, fixed_quality).
 */
import { mkdtemp, readdir, readFile, rm, copyFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { missingService, privateTemporal, testQueues } from '../test/helpers/dev-services.js';
import { runWorkers } from '../test/helpers/workflows.js';
import { parseTemporalConfig } from '../src/orchestration/config.js';
import { connectClient, startBulkArchive } from '../src/orchestration/client.js';
import { readBulkManifest } from '../src/orchestration/bulk-manifest.js';
import type { Outcome } from '../src/orchestration/bulk-types.js';
import { openStore } from '../src/storage/index.js';
import { loadImage } from '../src/image/io.js';
import { loadModel } from '../src/pipeline/model-context.js';
import { openDecode } from '../src/pipeline/decompress.js';
import { asWritten, meets, QualityTargetSpec, qualityScorer, requireQualityTool } from '../src/pipeline/target-quality.js';

const { values } = parseArgs({ options: { json: { type: 'boolean' }, target: { type: 'string' }, bpp: { type: 'string' }, photos: { type: 'string' }, concurrency: { type: 'string' } } });
const target = QualityTargetSpec.parse(values.target ?? 'ssimulacra2=-10');
const fixedBpp = Number(values.bpp ?? 0.1);
const photos = values.photos ?? '.cache/photos';
const say = (s: string) => process.stderr.write(`${s}\n`);

const why = await missingService('temporal');
if (why) {
  say(`bench:bulk-quality needs the Temporal dev server: ${why}`);
  process.exit(1);
}
requireQualityTool(target);
const names = (await readdir(photos).catch(() => [])).filter((f) => /\.(png|jpe?g)$/i.test(f)).sort();
if (names.length === 0) {
  say(`bench:bulk-quality: no photos in ${photos} (bash scripts/fetch-photos.sh)`);
  process.exit(1);
}
const dir = await mkdtemp(join(tmpdir(), 'diffc-bq-'));
await mkdir(join(dir, 'src'), { recursive: true });
for (const n of names) await copyFile(join(photos, n), join(dir, 'src', n));
const store = pathToFileURL(dir).href;
const temporal = await privateTemporal();
const queues = testQueues('bq');
const cfg = parseTemporalConfig({ address: temporal.address, queues });
const client = await connectClient(cfg);
const workers = await runWorkers(cfg, { maxConcurrentActivities: { gpu: 2, io: 8 } });
const lm = await loadModel(undefined);
const fs = openStore(store);

/** Runs one bulk job and scores every output's decode against its source. */
async function job(jobId: string, rate: Record<string, unknown>) {
  const t0 = performance.now();
  const h = await startBulkArchive(client, { store, prefix: 'src/', outputPrefix: `${jobId}/`, jobId, concurrency: Number(values.concurrency ?? 2), ...rate }, { queues });
  const summary = await h.result();
  const seconds = (performance.now() - t0) / 1000;
  const outcomes: Outcome[] = [];
  for await (const o of readBulkManifest(fs, summary.manifest!)) outcomes.push(o);
  const rows: { source: string; bpp: number; steps: number; quality: number; reported?: number }[] = [];
  for (const o of outcomes) {
    if ('error' in o) throw new Error(`${jobId}: ${o.source} ${o.status}: ${o.error}`);
    const original = await loadImage(join(dir, o.source));
    const d = await openDecode(lm, new Uint8Array(await readFile(join(dir, o.output))));
    const decoded = await d.finish(await d.steps());
    const quality = await qualityScorer(target.metric, original)(asWritten(decoded.image));
    rows.push({ source: o.source.slice('src/'.length), bpp: +o.bpp.toFixed(4), steps: o.steps, quality: +quality.toFixed(4), reported: o.target_quality?.reached });
    say(`${jobId}: ${o.source} ${o.bpp.toFixed(4)} bpp, ${o.steps} steps, ${target.metric} ${quality.toFixed(3)}${o.target_quality ? ` (manifest: ${o.target_quality.reached})` : ''}`);
  }
  const span = (f: (r: (typeof rows)[number]) => number) => [Math.min(...rows.map(f)), Math.max(...rows.map(f))].map((v) => +v.toFixed(4));
  const [bppMin, bppMax] = span((r) => r.bpp), [qMin, qMax] = span((r) => r.quality);
  return { rows, seconds: +seconds.toFixed(1), bpp_min: bppMin, bpp_max: bppMax, quality_min: qMin, quality_max: qMax };
}

try {
  say(`bench:bulk-quality: ${names.length} photos; target ${target.metric}=${target.value} vs fixed ${fixedBpp} bpp`);
  const t = await job('target', { targetQuality: target });
  const f = await job('fixed', { bpp: fixedBpp });
  const result = {
    target: `${target.metric}=${target.value}`, fixed_bpp: fixedBpp, photos: names.length,
    target_job: {
      all_met: t.rows.every((r) => meets(target, r.quality)),
      manifest_matches: t.rows.every((r) => r.reported !== undefined && Math.abs(r.reported - r.quality) < 1e-3),
      bpp_min: t.bpp_min, bpp_max: t.bpp_max, quality_min: t.quality_min, quality_max: t.quality_max, seconds: t.seconds,
    },
    fixed_job: { bpp_min: f.bpp_min, bpp_max: f.bpp_max, quality_min: f.quality_min, quality_max: f.quality_max, met: f.rows.filter((r) => meets(target, r.quality)).length, seconds: f.seconds },
    per_image: t.rows.map((r) => {
      const g = f.rows.find((x) => x.source === r.source)!;
      return { source: r.source, target_bpp: r.bpp, target_quality: r.quality, fixed_bpp: g.bpp, fixed_quality: g.quality };
    }),
  };
  say(`target job: every output meets ${result.target}: ${result.target_job.all_met}; bpp ${t.bpp_min}-${t.bpp_max}, ${target.metric} ${t.quality_min}-${t.quality_max}`);
  say(`fixed job:  ${fixedBpp} bpp -> bpp ${f.bpp_min}-${f.bpp_max}, ${target.metric} ${f.quality_min}-${f.quality_max} (${result.fixed_job.met}/${names.length} meet the target)`);
  if (values.json) console.log(JSON.stringify(result));
  if (!result.target_job.all_met || !result.target_job.manifest_matches) process.exitCode = 1;
} finally {
  await workers.stop();
  await client.connection.close();
  await temporal.stop();
  await lm.model.close();
  await rm(dir, { recursive: true, force: true });
}
