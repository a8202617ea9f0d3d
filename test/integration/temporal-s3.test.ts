/**
 * The pipeline against real services: a private Temporal dev server and a private MinIO (both
 * through infra/dev-up.sh), with the worker in this process reading S3_* like a deployed one.
 *   - an object in MinIO -> compressImage -> .dfc in MinIO, decoding as the CLI's does
 *   - bulkArchive over 200+ objects, bounded concurrency, continue-as-new, manifest; rerun skips
 *   - bulkArchive with a quality target: the CLI's bytes, every output meets it, reruns judge it
 *   - bad inputs become manifest errors while the rest completes; sources unchanged
 *   - MinIO stopped for seconds mid-job: the job completes, no partial output
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { needsAll, privateMinio, s3EnvOf, setEnv, privateTemporal, testQueues, type Minio, type Temporal } from '../helpers/dev-services.js';
import { recordHistory, testImage, runWorkers } from '../helpers/workflows.js';
import { encodeImage } from '../../src/image/io.js';
import { main } from '../../src/cli/main.js';
import { readDfc } from '../../src/codec/format/index.js';
import { openStore, s3ConfigFromEnv, type ObjectStore } from '../../src/storage/index.js';
import { parseTemporalConfig } from '../../src/orchestration/config.js';
import { connectClient, startBulkArchive, startCompressImage, startDecompressImage } from '../../src/orchestration/client.js';
import { summaryQuery } from '../../workflows/index.js';
import type { BulkSummary, Outcome } from '../../src/orchestration/bulk-types.js';
import { readBulkManifest } from '../../src/orchestration/bulk-manifest.js';
import { compressWorkflowId } from '../../src/orchestration/output-key.js';

const { missing, opts } = await needsAll('temporal', 'minio');

let dir = '';
let temporal: Temporal | undefined;
let minio: Minio | undefined;
let client: Client | undefined;
let workers: { stop(): Promise<void> } | undefined;
const queues = testQueues('s3');
let restoreEnv: (() => void) | undefined;

before(async () => {
  if (missing) {
    if (opts.skip) return;
    throw new Error(missing);
  }
  dir = await mkdtemp(join(tmpdir(), 'diffc-s3wf-'));
  [temporal, minio] = await Promise.all([privateTemporal(), privateMinio()]);
  // The worker's activities read S3_* per call, as a deployed worker does.
  restoreEnv = setEnv(s3EnvOf(minio));
  const cfg = parseTemporalConfig({ address: temporal.address, queues });
  client = await connectClient(cfg);
  workers = await runWorkers(cfg, { maxConcurrentActivities: { gpu: 2, io: 16 } });
});

after(async () => {
  await workers?.stop();
  await client?.connection.close();
  await Promise.all([temporal?.stop(), minio?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
  restoreEnv?.();
});

const bucket = () => `s3://${minio!.env.S3_BUCKET}`;
const store = (): ObjectStore => openStore(bucket(), { s3: s3ConfigFromEnv() });

async function png(width: number, height: number, salt: number): Promise<Uint8Array> {
  return encodeImage(testImage(width, height, salt), 'png');
}

async function snapshot(s: ObjectStore, prefix: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const e of s.list(prefix)) out.set(e.key, createHash('sha256').update(await s.get(e.key)).digest('hex'));
  return out;
}

async function readManifest(s: ObjectStore, key: string): Promise<Outcome[]> {
  const out: Outcome[] = [];
  for await (const o of readBulkManifest(s, key)) out.push(o);
  return out;
}

test('an object in MinIO -> compressImage -> .dfc in MinIO, identical to diffc compress; decompressImage matches diffc decompress', opts, async () => {
  const s = store();
  const bytes = await png(96, 80, 1);
  await s.put('single/photo.png', bytes);
  const h = await startCompressImage(client!, { store: bucket(), source: 'single/photo.png', output: 'out/photo.dfc', bpp: 0.5, seed: 3 }, { queues });
  const r = await h.result();
  await recordHistory('compress-image-s3', h);
  const dfc = await s.get('out/photo.dfc');
  await writeFile(join(dir, 'photo.png'), bytes);
  assert.equal(await main(['compress', join(dir, 'photo.png'), '-o', join(dir, 'cli.dfc'), '--bpp', '0.5', '--seed', '3', '-q'], () => {}, () => {}), 0);
  assert.ok(Buffer.from(dfc).equals(await readFile(join(dir, 'cli.dfc'))), 'the .dfc in MinIO differs from diffc compress');
  assert.equal(r.bytes, dfc.length);
  const d = await startDecompressImage(client!, { store: bucket(), source: 'out/photo.dfc', output: 'out/photo.png' }, { queues });
  await d.result();
  assert.equal(await main(['decompress', join(dir, 'cli.dfc'), '-o', join(dir, 'cli.png'), '-q'], () => {}, () => {}), 0);
  assert.ok(Buffer.from(await s.get('out/photo.png')).equals(await readFile(join(dir, 'cli.png'))), 'decoded image differs from diffc decompress');
  const left: string[] = [];
  for await (const e of s.list('out/')) left.push(e.key);
  assert.deepEqual(left, ['out/photo.dfc', 'out/photo.png'], 'no work objects left behind');
  s.close();
});

test('bulkArchive over 210 objects: bounded concurrency, continue-as-new, complete manifest; a rerun skips everything', opts, async () => {
  const s = store();
  const N = 210;
  const keys: string[] = [];
  for (let i = 0; i < N; i++) {
    const key = `bulk/img-${String(i).padStart(3, '0')}.png`;
    keys.push(key);
    await s.put(key, await png(16, 12, i));
  }
  await s.put('bulk/readme.txt', new TextEncoder().encode('not an image suffix: never listed'));
  const before = await snapshot(s, 'bulk/');
  const job = { store: bucket(), prefix: 'bulk/', outputPrefix: 'bulk-out/', steps: 3, concurrency: 6, objectsPerRun: 50, jobId: 'bulk210' };
  const t0 = performance.now();
  const h = await startBulkArchive(client!, job, { queues, workflowId: `bulk210-${process.pid}` });
  // Watch the summary while it runs: never more children in flight than the limit.
  let maxInFlight = 0;
  let done = false;
  const watcher = (async () => {
    while (!done) {
      try {
        maxInFlight = Math.max(maxInFlight, (await h.query(summaryQuery)).inFlight);
      } catch { /* between runs */ }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  const summary: BulkSummary = await h.result();
  done = true;
  await watcher;
  const secs = (performance.now() - t0) / 1000;
  assert.equal(summary.ok, N);
  assert.equal(summary.failed + summary.skipped, 0);
  assert.equal(summary.runs, Math.ceil(N / 50), 'one run per 50 objects: continue-as-new happened');
  assert.ok(maxInFlight > 1 && maxInFlight <= 6, `in flight at most ${maxInFlight}`);
  // The first run's history is bounded: the chain of runs is there.
  const firstRun = await client!.workflow.getHandle(h.workflowId, h.firstExecutionRunId).fetchHistory();
  assert.ok(firstRun.events!.some((e) => e.workflowExecutionContinuedAsNewEventAttributes), 'the first run continued as new');
  assert.ok(firstRun.events!.length < 50 * 12, `first run history has ${firstRun.events!.length} events`);
  await recordHistory('bulk-archive-run1', client!.workflow.getHandle(h.workflowId, h.firstExecutionRunId));

  const manifest = await readManifest(s, summary.manifest!);
  assert.equal(manifest.length, N);
  assert.deepEqual(manifest.map((o) => o.source).sort(), keys);
  for (const o of manifest) {
    if (o.status !== 'ok') assert.fail(`${o.source}: ${o.status}`);
    const dfc = await s.get(o.output);
    assert.equal(dfc.length, o.bytes);
    assert.equal(readDfc(dfc).header.stepsCoded, 3);
    assert.equal(o.output, `bulk-out/${o.source.slice('bulk/'.length)}.dfc`);
  }
  console.error(`bulkArchive: ${N} objects in ${secs.toFixed(1)} s (${(N / secs * 60).toFixed(0)}/min), ${summary.runs} runs, max ${maxInFlight} in flight`);

  // Rerun the same job: every object is skipped, no child workflow runs.
  const h2 = await startBulkArchive(client!, job, { queues, workflowId: `bulk210-again-${process.pid}` });
  const again = await h2.result();
  assert.equal(again.skipped, N);
  assert.equal(again.ok + again.failed, 0);
  const rerunManifest = await readManifest(s, again.manifest!);
  assert.ok(rerunManifest.every((o) => o.status === 'skipped'));
  const h2Events = (await h2.fetchHistory()).events!;
  assert.ok(!h2Events.some((e) => e.startChildWorkflowExecutionInitiatedEventAttributes), 'the rerun started no child workflow');
  assert.deepEqual(await snapshot(s, 'bulk/'), before, 'the source prefix is byte-for-byte unchanged');
  s.close();
});

test('bulkArchive with a quality target: each output is diffc compress --target-quality\'s file and meets it; manifest lines carry target_quality; a rerun skips, another target redoes', opts, async () => {
  const s = store();
  const keys = ['tq/a.png', 'tq/b.png', 'tq/c.png'];
  for (const [i, key] of keys.entries()) await s.put(key, await png(48, 40, 7 * i));
  const job = { store: bucket(), prefix: 'tq/', outputPrefix: 'tq-out/', targetQuality: 'psnr=22', seed: 5, concurrency: 3, jobId: 'tq' };
  const summary = await (await startBulkArchive(client!, job, { queues, workflowId: `tq-${process.pid}` })).result();
  assert.equal(summary.ok, keys.length);
  const manifest = await readManifest(s, summary.manifest!);
  for (const o of manifest) {
    if (o.status !== 'ok') assert.fail(`${o.source}: ${o.status}`);
    const q = o.target_quality!;
    assert.ok(q && q.target_met && q.reached >= 22 && q.metric === 'psnr', JSON.stringify(o));
    assert.ok(o.steps < q.steps_coded!, `${o.source}: ${o.steps} of ${q.steps_coded} steps kept`);
    // The same bytes as the CLI's, from the same source.
    const local = join(dir, `tq-${o.source.slice(3)}`);
    await writeFile(local, await s.get(o.source));
    const cli = join(dir, `tq-${o.source.slice(3)}.dfc`);
    assert.equal(await main(['compress', local, '-o', cli, '--target-quality', 'psnr=22', '--seed', '5', '-q', '--force'], () => {}, () => {}), 0);
    assert.ok(Buffer.from(await s.get(o.output)).equals(await readFile(cli)), `${o.output} differs from diffc compress --target-quality`);
    assert.equal((await s.head(o.output))!.metadata?.['diffc-target-quality'], 'psnr=22');
  }
  const again = await (await startBulkArchive(client!, job, { queues, workflowId: `tq-again-${process.pid}` })).result();
  assert.equal(again.skipped, keys.length);
  const rerun = await readManifest(s, again.manifest!);
  assert.ok(rerun.every((o) => o.status === 'skipped' && o.target_quality?.target_met === true && o.target_quality.reached >= 22), JSON.stringify(rerun));
  // Another target is another rate: redone, and the stricter target keeps more of the chain.
  const stricter = await (await startBulkArchive(client!, { ...job, targetQuality: 'psnr=24', jobId: 'tq24' }, { queues, workflowId: `tq24-${process.pid}` })).result();
  assert.equal(stricter.ok, keys.length);
  const m24 = await readManifest(s, stricter.manifest!);
  for (const o of m24) {
    if (o.status !== 'ok') assert.fail(`${o.source}: ${o.status}`);
    const before = manifest.find((m) => m.source === o.source)!;
    assert.ok(o.target_quality!.reached >= 24 && o.steps >= (before as { steps: number }).steps, JSON.stringify([before, o]));
  }
  s.close();
});

test('bulkArchive is a sliding window: a slow child started in one run is still running while later runs start theirs', opts, async () => {
  const s = store();
  // One slow object (large, coded to a high rate) among fast ones, 3 in flight, 4 starts per run:
  // the slow one outlives its run.
  const lines = [JSON.stringify({ key: 'window/000-big.png', bpp: 1.5 })];
  await s.put('window/000-big.png', await png(320, 240, 99));
  for (let i = 1; i <= 11; i++) {
    const key = `window/${String(i).padStart(3, '0')}.png`;
    await s.put(key, await png(16, 12, i));
    lines.push(JSON.stringify({ key }));
  }
  await s.put('window/list.jsonl', new TextEncoder().encode(`${lines.join('\n')}\n`));
  const job = { store: bucket(), manifest: 'window/list.jsonl', outputPrefix: 'window-out/', steps: 2, concurrency: 3, objectsPerRun: 4, jobId: 'window' };
  const h = await startBulkArchive(client!, job, { queues, workflowId: `window-${process.pid}` });
  const summary = await h.result();
  assert.equal(summary.ok, 12, JSON.stringify(summary));
  assert.ok(summary.runs >= 3, `${summary.runs} runs`);
  const outcomes = await readManifest(s, summary.manifest!);
  assert.equal(outcomes.length, 12);
  const times = new Map<string, { start: number; close: number }>();
  for (const o of outcomes) {
    const d = await client!.workflow.getHandle(o.workflowId!).describe();
    times.set(o.source, { start: d.startTime.getTime(), close: d.closeTime!.getTime() });
  }
  const big = times.get('window/000-big.png')!;
  const startedWhileBigRan = [...times.entries()].filter(([k, t]) => k !== 'window/000-big.png' && t.start > big.start && t.start < big.close).length;
  console.error(`sliding window: ${startedWhileBigRan} of 11 children started while the slow one ran (${summary.runs} runs)`);
  // With barrier batches at most objectsPerRun - 1 = 3 others could start during the big one's run.
  assert.ok(startedWhileBigRan > 3, `${startedWhileBigRan} children started while the big one ran`);
  s.close();
});

test('a bulk child terminated by an operator is recorded as failed and the job finishes', opts, async () => {
  const s = store();
  await s.put('term/a.png', await png(256, 192, 1));
  await s.put('term/b.png', await png(16, 12, 2));
  const job = { store: bucket(), prefix: 'term/', outputPrefix: 'term-out/', steps: 40, concurrency: 2, stallCheckSeconds: 5, jobId: 'term' };
  const h = await startBulkArchive(client!, job, { queues, workflowId: `term-${process.pid}` });
  const childId = compressWorkflowId(bucket(), 'term-out/a.png.dfc');
  for (let i = 0; ; i++) {
    try {
      await client!.workflow.getHandle(childId).terminate('operator');
      break;
    } catch (e) {
      if (i > 200) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const summary = await h.result();
  assert.equal(summary.ok, 1, JSON.stringify(summary));
  assert.equal(summary.failed, 1);
  const outcomes = await readManifest(s, summary.manifest!);
  const a = outcomes.find((o) => o.source === 'term/a.png');
  assert.equal(a?.status, 'failed');
  assert.match((a as { error: string }).error, /TERMINATED/);
  s.close();
});

test('bad inputs: not an image, missing, oversized, invalid parameters -> manifest errors; the rest completes; sources unchanged', opts, async () => {
  const s = store();
  await s.put('bad/good-1.png', await png(24, 20, 1));
  await s.put('bad/good-2.png', await png(24, 20, 2));
  await s.put('bad/not-an-image.png', new TextEncoder().encode('this is text, not a PNG'));
  await s.put('bad/huge.png', await png(300, 200, 3));
  const lines = [
    { key: 'bad/good-1.png' }, { key: 'bad/not-an-image.png' }, { key: 'bad/missing.png' }, { key: 'bad/huge.png' },
    { key: 'bad/good-2.png', bpp: -1 }, { key: 'bad/good-2.png', steps: 2 },
  ];
  await s.put('bad/list.jsonl', new TextEncoder().encode(lines.map((l) => JSON.stringify(l)).join('\n') + '\n{not json\n'));
  const before = await snapshot(s, 'bad/');
  const h = await startBulkArchive(client!, {
    store: bucket(), manifest: 'bad/list.jsonl', outputPrefix: 'bad-out/', steps: 3, maxPixels: 50_000, concurrency: 3, jobId: 'bad',
  }, { queues });
  const summary = await h.result();
  const manifest = await readManifest(s, summary.manifest!);
  const by = (source: string) => manifest.filter((o) => o.source === source);
  const err = (o: Outcome | undefined) => (o && o.status === 'failed' ? o.error : '');
  assert.equal(by('bad/good-1.png')[0].status, 'ok');
  assert.match(err(by('bad/not-an-image.png')[0]), /not an image|unsupported|unreadable|cannot/i);
  assert.match(err(by('bad/missing.png')[0]), /not.found|no such|does not exist/i);
  assert.match(err(by('bad/huge.png')[0]), /60000 pixels exceeds the limit of 50000/);
  const good2 = by('bad/good-2.png');
  assert.equal(good2.length, 2);
  assert.match(err(good2.find((o) => o.status === 'failed')), /bpp/);
  assert.equal(good2.filter((o) => o.status === 'ok').length, 1);
  assert.match(err(manifest.find((o) => o.source.includes('#line'))), /not JSON/);
  assert.equal(summary.ok, 2);
  assert.equal(summary.failed, 5);
  assert.equal(manifest.length, 7);
  // The failures were not retried to exhaustion: each failed child ran its first activity once.
  assert.deepEqual(await snapshot(s, 'bad/'), before, 'the source objects are byte-for-byte unchanged');
  const outs: string[] = [];
  for await (const e of s.list('bad-out/')) if (!e.key.startsWith('bad-out/_jobs/')) outs.push(e.key);
  assert.deepEqual(outs.sort(), ['bad-out/bad/good-1.png.dfc', 'bad-out/bad/good-2.png.dfc'], 'only complete outputs, for the good objects');
  s.close();
});

test('MinIO stopped for a few seconds mid-job: activities retry, the job completes, no partial output', opts, async () => {
  const s = store();
  const N = 24;
  for (let i = 0; i < N; i++) await s.put(`outage/img-${i}.png`, await png(64, 48, i));
  const h = await startBulkArchive(client!, {
    store: bucket(), prefix: 'outage/', outputPrefix: 'outage-out/', bpp: 1, concurrency: 4, checkpointEvery: 1, jobId: 'outage',
  }, { queues });
  // Wait until some objects are done, then take MinIO away for 5 s.
  for (let i = 0; i < 300; i++) {
    const q = await h.query(summaryQuery).catch(() => undefined);
    if (q && q.ok >= 3) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const mid = await h.query(summaryQuery);
  assert.ok(mid.ok < N, 'MinIO went down before the job finished');
  await minio!.kill();
  await new Promise((r) => setTimeout(r, 5000));
  await minio!.restart();
  const summary = await h.result();
  assert.equal(summary.ok, N, `ok ${summary.ok}, failed ${summary.failed}`);
  const s2 = store();
  const keys: string[] = [];
  for await (const e of s2.list('outage-out/')) if (!e.key.startsWith('outage-out/_jobs/')) keys.push(e.key);
  assert.equal(keys.length, N, `outputs: ${keys.join(', ')}`);
  for (const k of keys) {
    assert.ok(k.endsWith('.dfc'), `a work object was left behind: ${k}`);
    readDfc(await s2.get(k)); // every output complete: the CRC checks
  }
  console.error(`MinIO outage: ${mid.ok}/${N} done when it stopped for 5 s; job completed with ${summary.ok} ok`);
  s.close();
  s2.close();
});
