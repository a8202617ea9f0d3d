/**
 * npm run bench:bulk-plan [-- --json] [--objects N] [--manifest-lines M] [--done-every K]
 *
 * The io side of a bulk job at archive scale, without Temporal:
 *  - plan: bulkArchive's planner (activities/bulk-plan.ts: merge-join of the source and output
 *    listings, one HEAD per existing output) over a recorded-style synthetic listing of N
 *    sources of which every K-th already has a matching .dfc, page by page as the workflow
 *    calls it; at N/10 and N, so the JSON shows whether time and memory scale linearly.
 *  - manifest: a JSONL manifest of M lines in a local store read by the byte-offset cursor
 *    (ranged reads), at M/10 and M; peak RSS must not grow with M.
 *  - --minio N (optional): the same planning against a private MinIO holding N sources, each with
 *    a matching .dfc written the way the pipeline writes it (metadata included): a no-op rerun
 *    over real S3 requests (listings and one HEAD per existing output).
 * Each measurement runs in its own process, so peak RSS (getrusage maxrss) is that phase's alone.
 *
 * Last line (JSON): objects, plan_s, peak_rss_mb, manifest_lines, manifest_s, manifest_peak_rss_mb,
 * plus the smaller runs and the ratios (time per object, N vs N/10).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BulkArchiveInput, MAX_PAGE, type BulkCursor } from '../src/orchestration/bulk-types.js';
import { mapLimit, planPage } from '../activities/bulk-plan.js';
import { readManifestPage, writeManifest } from '../src/orchestration/manifest-reader.js';
import { openStore, s3ConfigFromEnv } from '../src/storage/index.js';
import { readDfc, writeDfc } from '../src/codec/format/index.js';
import { outputMetadata } from '../activities/existing-output.js';
import { privateMinio, s3EnvOf } from '../test/helpers/dev-services.js';
import { ListingStore } from './listing-store.js';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean' }, objects: { type: 'string' }, 'manifest-lines': { type: 'string' }, 'done-every': { type: 'string' },
    phase: { type: 'string' }, n: { type: 'string' }, minio: { type: 'string' },
  },
});
const say = (s: string) => process.stderr.write(`${s}\n`);
const MODEL_HASH = '0123456789abcdef';
const peakRssMb = () => process.resourceUsage().maxRSS / 1024;

async function planPhase(n: number, doneEvery: number) {
  const store = new ListingStore({ objects: n, doneEvery, modelHash: MODEL_HASH, seed: 0 });
  const job = BulkArchiveInput.parse({ store: store.url, prefix: 'photos/', outputPrefix: 'dfc/', jobId: 'bench', bpp: 0.05, model: 'bench-model' });
  const t0 = performance.now();
  let cursor: BulkCursor | null = {};
  let run = 0, skipped = 0, failed = 0, pages = 0;
  while (cursor !== null) {
    const p = await planPage(store, store, job, cursor, MAX_PAGE, MODEL_HASH);
    run += p.run.length;
    for (const o of p.known) {
      if (o.status === 'skipped') skipped++;
      else failed++;
    }
    cursor = p.next;
    pages++;
  }
  const s = (performance.now() - t0) / 1000;
  return { objects: n, plan_s: s, peak_rss_mb: peakRssMb(), run, skipped, failed, pages, list_requests: store.requests.list, head_requests: store.requests.head };
}

async function manifestPhase(lines: number) {
  const dir = await mkdtemp(join(tmpdir(), 'diffc-bench-manifest-'));
  try {
    const store = openStore(`file://${dir}`);
    // Written streamed: the generator must not hold the manifest either.
    await writeManifest(store, 'manifest.jsonl', lines, (j) => `{"key":"photos/${String(j).padStart(9, '0')}.jpg"${j % 7 === 0 ? ',"bpp":0.05' : ''}}`);
    const t0 = performance.now();
    let cursor: Parameters<typeof readManifestPage>[2] | null = { offset: 0, line: 1 };
    let read = 0, errors = 0;
    while (cursor !== null) {
      const page = await readManifestPage(store, 'manifest.jsonl', cursor, { maxLines: MAX_PAGE });
      read += page.lines.length;
      errors += page.errors.length;
      cursor = page.next;
    }
    const s = (performance.now() - t0) / 1000;
    if (read !== lines || errors !== 0) throw new Error(`manifest read ${read} lines and ${errors} errors, expected ${lines} and 0`);
    return { manifest_lines: lines, manifest_s: s, manifest_peak_rss_mb: peakRssMb() };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A no-op rerun over a real bucket: every source already has its .dfc. */
async function minioPhase(n: number) {
  const minio = await privateMinio();
  try {
    const url = `s3://${minio.env.S3_BUCKET}`;
    const store = openStore(url, { s3: s3ConfigFromEnv(s3EnvOf(minio)) });
    const header = readDfc(DFC).header;
    const keys = Array.from({ length: n }, (_, i) => String(i).padStart(9, '0'));
    const t0 = performance.now();
    await mapLimit(keys, 32, async (k) => {
      const { etag } = await store.put(`photos/${k}.jpg`, new TextEncoder().encode(k));
      await store.put(`dfc/${k}.jpg.dfc`, DFC, { metadata: outputMetadata(header, etag ? { etag } : undefined) });
    });
    const fill = (performance.now() - t0) / 1000;
    const job = BulkArchiveInput.parse({ store: url, prefix: 'photos/', outputPrefix: 'dfc/', jobId: 'bench', model: 'bench-model' });
    const hash = Buffer.from(header.model.hash).toString('hex');
    const t1 = performance.now();
    let cursor: BulkCursor | null = {};
    let skipped = 0, run = 0;
    while (cursor !== null) {
      const p = await planPage(store, store, job, cursor, MAX_PAGE, hash);
      skipped += p.known.filter((o) => o.status === 'skipped').length;
      run += p.run.length;
      cursor = p.next;
    }
    const s = (performance.now() - t1) / 1000;
    store.close();
    if (skipped !== n) throw new Error(`minio: ${skipped} of ${n} skipped (${run} to run)`);
    return { minio_objects: n, minio_fill_s: fill, minio_plan_s: s, minio_objects_per_s: n / s, minio_peak_rss_mb: peakRssMb() };
  } finally {
    await minio.stop();
  }
}

/** A small real .dfc, as the pipeline would have written it. */
const DFC = writeDfc({
  header: {
    version: 1, model: { id: 'bench-model', hash: Uint8Array.from(Buffer.from(MODEL_HASH, 'hex')) }, image: { width: 4000, height: 3000, channels: 3 },
    latent: { channels: 3, height: 750, width: 1000 }, schedule: { id: 'bench', hash: new Uint8Array(4) }, seed: { lo: 0, hi: 0 },
    recon: { method: 'flow', steps: 0 }, coding: new Uint8Array(8), stepsCoded: 40,
  },
  payload: new Uint8Array(20_000),
});

/** One phase in a fresh process: its peak RSS is its own. */
function child(phase: string, n: number, doneEvery: number): Promise<Record<string, number>> {
  const self = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', self, '--phase', phase, '--n', String(n), '--done-every', String(doneEvery)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!)) : reject(new Error(`phase ${phase} ${n} exited ${code}`))));
  });
}

if (values.phase) {
  const n = Number(values.n);
  const r = values.phase === 'plan' ? await planPhase(n, Number(values['done-every'] ?? 2)) : values.phase === 'minio' ? await minioPhase(n) : await manifestPhase(n);
  process.stdout.write(`${JSON.stringify(r)}\n`);
} else {
  const N = Number(values.objects ?? 1_000_000);
  const M = Number(values['manifest-lines'] ?? 10_000_000);
  const K = Number(values['done-every'] ?? 2);
  say(`bench:bulk-plan: planning ${N / 10} and ${N} sources (every ${K}th already done), reading ${M / 10} and ${M} manifest lines`);
  const small = await child('plan', N / 10, K);
  say(`  plan ${small.objects}: ${small.plan_s.toFixed(2)} s, peak RSS ${small.peak_rss_mb.toFixed(0)} MB`);
  const big = await child('plan', N, K);
  say(`  plan ${big.objects}: ${big.plan_s.toFixed(2)} s, peak RSS ${big.peak_rss_mb.toFixed(0)} MB (${big.head_requests} HEADs, ${big.list_requests} list pages)`);
  const mSmall = await child('manifest', M / 10, K);
  say(`  manifest ${mSmall.manifest_lines}: ${mSmall.manifest_s.toFixed(2)} s, peak RSS ${mSmall.manifest_peak_rss_mb.toFixed(0)} MB`);
  const mBig = await child('manifest', M, K);
  say(`  manifest ${mBig.manifest_lines}: ${mBig.manifest_s.toFixed(2)} s, peak RSS ${mBig.manifest_peak_rss_mb.toFixed(0)} MB`);
  const minioN = Number(values.minio ?? 0);
  const real = minioN > 0 ? await child('minio', minioN, K) : {};
  if (minioN > 0) say(`  no-op rerun over MinIO, ${minioN} objects: ${real.minio_plan_s.toFixed(2)} s (${real.minio_objects_per_s.toFixed(0)} objects/s)`);
  const r = {
    ...real,
    ...big,
    plan_s_small: small.plan_s, peak_rss_mb_small: small.peak_rss_mb,
    /** 1.0 = time per object the same at N as at N/10 (linear). */
    plan_time_per_object_ratio: (big.plan_s / big.objects) / (small.plan_s / small.objects),
    ...mBig,
    manifest_s_small: mSmall.manifest_s, manifest_peak_rss_mb_small: mSmall.manifest_peak_rss_mb,
    manifest_time_per_line_ratio: (mBig.manifest_s / mBig.manifest_lines) / (mSmall.manifest_s / mSmall.manifest_lines),
  };
  const round = (v: number) => (Number.isInteger(v) ? v : Math.round(v * 1000) / 1000);
  process.stdout.write(`${JSON.stringify(Object.fromEntries(Object.entries(r).map(([k, v]) => [k, round(v as number)])))}\n`);
}
