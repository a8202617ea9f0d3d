/**
 * The failure paths of the workflows on a real Temporal dev server (a private one, file://
 * stores), each run once, checked, and recorded for the replay test (test/histories/*.pb with
 * DIFFC_RECORD_HISTORIES set): a drained worker handing a step range to another, a cancel while
 * coding steps, a compressImage failing permanently, a bulk job with one failed child, and a bulk
 * job that continues as new (both runs). Tiny images and the embedded default model keep it to a
 * few minutes. Skips when the temporal binary is not built; fails instead with
 * DIFFC_REQUIRE_SERVICES=1.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { needs, privateTemporal, testQueues, type Temporal } from '../helpers/dev-services.js';
import { WorkerProcess } from '../helpers/worker-process.js';
import { recordHistory, testImage, keysIn, runWorkers } from '../helpers/workflows.js';
import { saveImage } from '../../src/image/io.js';
import { readDfc } from '../../src/codec/format/index.js';
import { parseTemporalConfig } from '../../src/orchestration/config.js';
import { connectClient, startBulkArchive, startCompressImage } from '../../src/orchestration/client.js';
import { compressWorkflowId } from '../../src/orchestration/output-key.js';
import { readBulkManifest } from '../../src/orchestration/bulk-manifest.js';
import type { Outcome } from '../../src/orchestration/bulk-types.js';
import { workPrefix } from '../../src/orchestration/types.js';
import { openStore } from '../../src/storage/index.js';
import { progressQuery } from '../../workflows/index.js';
import * as activities from '../../activities/index.js';

const { missing, opts } = await needs('temporal');

let dir = '';
let server: Temporal | undefined;
let client: Client | undefined;
let workers: { stop(): Promise<void> } | undefined;
const queues = testQueues('failpaths');
/** Set by a test: awaited as each encodeSteps starts on the in-process worker, before the real one runs. */
let beforeEncodeSteps: ((input: Parameters<typeof activities.encodeSteps>[0]) => Promise<void>) | undefined;

before(async () => {
  if (missing) {
    if (opts.skip) return;
    throw new Error(missing);
  }
  dir = await mkdtemp(join(tmpdir(), 'diffc-failpaths-'));
  server = await privateTemporal();
  const cfg = parseTemporalConfig({ address: server.address, queues });
  client = await connectClient(cfg);
  // The real activities; encodeSteps lets a test see a range start, or hold it back.
  const acts: typeof activities = {
    ...activities,
    async encodeSteps(input) {
      await beforeEncodeSteps?.(input);
      return activities.encodeSteps(input);
    },
  };
  // Two gpu activities at once: a slow bulk child does not hold up a fast one.
  workers = await runWorkers(cfg, { activities: acts, maxConcurrentActivities: { gpu: 2 } });
});

after(async () => {
  await workers?.stop();
  await client?.connection.close();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function storeDir(name: string, files: Record<string, Buffer | { w: number; h: number; salt: number }>): Promise<string> {
  const d = join(dir, name);
  await mkdir(d, { recursive: true });
  for (const [key, f] of Object.entries(files)) {
    await mkdir(join(d, key, '..'), { recursive: true });
    if (Buffer.isBuffer(f)) await writeFile(join(d, key), f);
    else await saveImage(testImage(f.w, f.h, f.salt), join(d, key));
  }
  return d;
}

const events = async (h: WorkflowHandle) => (await h.fetchHistory()).events ?? [];
const activityNames = async (h: WorkflowHandle) =>
  (await events(h)).filter((e) => e.activityTaskScheduledEventAttributes).map((e) => e.activityTaskScheduledEventAttributes!.activityType!.name!);

/** The ApplicationFailure type under a failed workflow's activity failure (e.g. 'ImageError:unreadable'). */
function failureType(e: unknown): string | undefined {
  return e instanceof WorkflowFailedError ? (e.cause?.cause as { type?: string } | undefined)?.type : undefined;
}

async function manifestOf(storeDirPath: string, key: string): Promise<Outcome[]> {
  const s = openStore(pathToFileURL(storeDirPath).href);
  const out: Outcome[] = [];
  for await (const o of readBulkManifest(s, key)) out.push(o);
  s.close();
  return out;
}

test('drain hand-off: a SIGTERMed worker checkpoints mid-range and hands it back; another worker finishes the .dfc', opts, async () => {
  const d = await storeDir('drain', { 'in.png': { w: 64, h: 46, salt: 1 } });
  // Worker processes of their own: the drain flag is per process, and SIGTERM is what a deploy sends.
  const q = testQueues('drain');
  const env = { TEMPORAL_ADDRESS: server!.address, DIFFC_RCC_THREADS: '1' };
  const a = new WorkerProcess(q, env);
  let b: WorkerProcess | undefined;
  try {
    await a.waitFor((l) => l.msg === 'worker-ready', 'worker-ready');
    const STEPS = 10;
    const h = await startCompressImage(client!, {
      store: pathToFileURL(d).href, source: 'in.png', output: 'in.dfc', steps: STEPS, seed: 4,
      stepsPerActivity: 100, checkpointEvery: 1, heartbeatTimeoutSeconds: 10,
    }, { queues: q, workflowId: `drain-${process.pid}` });
    await a.waitFor((l) => l.msg === 'checkpoint' && l.step! >= 3, 'checkpoint 3');
    a.proc.kill('SIGTERM');
    const exit = await a.exited;
    assert.equal(exit.code, 0, 'a drained worker exits 0');
    const handoff = a.lines.find((l) => l.msg === 'drain-handoff');
    assert.ok(handoff, 'the worker logged its hand-off');
    assert.ok(handoff.step! < STEPS, `handed off at step ${handoff.step}, with steps left to code`);
    b = new WorkerProcess(q, env);
    const r = await h.result();
    assert.equal(r.steps, STEPS);
    assert.equal(b.lines.find((l) => l.msg === 'encode-steps')?.from, handoff.step, 'the next worker starts at the drained checkpoint');
    // Two encodeSteps ranges, completed (not timed out or failed), by two workers.
    const evs = await events(h);
    const ranges = evs.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'encodeSteps').map((e) => e.eventId!.toString());
    assert.equal(ranges.length, 2, `${ranges.length} encodeSteps ranges`);
    const completed = evs.filter((e) => e.activityTaskCompletedEventAttributes && ranges.includes(e.activityTaskCompletedEventAttributes.scheduledEventId!.toString()));
    assert.equal(completed.length, 2, 'both ranges completed: the hand-off is a result, not a failure');
    assert.equal(new Set(completed.map((e) => e.activityTaskCompletedEventAttributes!.identity)).size, 2, 'the ranges were completed by two workers');
    assert.equal(readDfc(await readFile(join(d, 'in.dfc'))).header.stepsCoded, STEPS);
    assert.deepEqual(await keysIn(d), ['in.dfc', 'in.png'], 'no work objects left');
    await recordHistory('compress-image-drained', h);
  } finally {
    await a.stop();
    if (b) {
      b.proc.kill('SIGTERM');
      await b.exited;
    }
  }
});

test('cancel while coding steps: the range stops, the work is discarded, the cancellation is rethrown', opts, async () => {
  const d = await storeDir('cancel', { 'in.png': { w: 64, h: 46, salt: 2 } });
  let started!: () => void;
  const rangeStarted = new Promise<void>((r) => { started = r; });
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  // The range is held at its start until the workflow has asked for its cancellation, so the
  // cancel reaches a running range (through its first heartbeat) however fast the steps are: a
  // 64x46 chain codes all its steps within the SDK's 3 s heartbeat flush on the native RCC.
  beforeEncodeSteps = async () => {
    started();
    await gate;
  };
  try {
    const STEPS = 24;
    const h = await startCompressImage(client!, {
      store: pathToFileURL(d).href, source: 'in.png', output: 'c.dfc', steps: STEPS, seed: 5, stepsPerActivity: 100, checkpointEvery: 1,
    }, { queues, workflowId: `cancel-${process.pid}` });
    await rangeStarted;
    // There is work to discard: encodeLatent's latent, job info and first checkpoint.
    const chain = join(d, workPrefix('c.dfc', h.firstExecutionRunId), 'chain.json');
    await readFile(chain);
    await h.cancel();
    for (let i = 0; ; i++) {
      if ((await events(h)).some((e) => e.activityTaskCancelRequestedEventAttributes)) break;
      assert.ok(i < 600, 'the workflow did not ask for the range\'s cancellation within 60 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    release();
    await assert.rejects(h.result(), (e) => e instanceof WorkflowFailedError && (e.cause as { name?: string } | undefined)?.name === 'CancelledFailure');
    assert.equal((await h.query(progressQuery)).phase, 'cancelled');
    const evs = await events(h);
    assert.ok(evs.some((e) => e.activityTaskCanceledEventAttributes), 'the running encodeSteps was cancelled, not left to finish');
    assert.ok(evs.at(-1)?.workflowExecutionCanceledEventAttributes, 'the workflow ended cancelled');
    assert.deepEqual(await activityNames(h), ['resolveModelHash', 'prepareSource', 'encodeLatent', 'encodeSteps', 'discardWork']);
    assert.deepEqual(await keysIn(d), ['in.png'], 'no .dfc and no work objects after a cancel');
    await recordHistory('compress-image-cancelled', h);
  } finally {
    release();
    beforeEncodeSteps = undefined;
  }
});

test('a source that is not an image fails the run permanently: no retries, nothing written', opts, async () => {
  const d = await storeDir('junk', { 'junk.png': Buffer.from('this is text, not a PNG') });
  const h = await startCompressImage(client!, { store: pathToFileURL(d).href, source: 'junk.png', output: 'junk.dfc', steps: 3 }, { queues, workflowId: `junk-${process.pid}` });
  await assert.rejects(h.result(), (e) => failureType(e) === 'ImageError:unreadable');
  const evs = await events(h);
  assert.ok(evs.at(-1)?.workflowExecutionFailedEventAttributes, 'the workflow ended failed');
  assert.equal(evs.filter((e) => e.activityTaskFailedEventAttributes).length, 1, 'a permanent failure is not retried');
  assert.deepEqual(await activityNames(h), ['resolveModelHash', 'prepareSource', 'discardWork']);
  assert.deepEqual(await keysIn(d), ['junk.png']);
  await recordHistory('compress-image-failed', h);
});

test('bulkArchive with one failing child: the job completes, the failure is a manifest line, the others are written', opts, async () => {
  const d = await storeDir('bulkfail', {
    'src/a.png': { w: 16, h: 12, salt: 1 }, 'src/b.png': { w: 16, h: 12, salt: 2 }, 'src/junk.png': Buffer.from('not a PNG either'),
  });
  const store = pathToFileURL(d).href;
  const h = await startBulkArchive(client!, {
    store, prefix: 'src/', outputPrefix: 'out/', steps: 2, concurrency: 3, jobId: 'bulkfail',
  }, { queues, workflowId: `bulkfail-${process.pid}` });
  const summary = await h.result();
  assert.equal(summary.phase, 'done');
  assert.deepEqual({ ok: summary.ok, failed: summary.failed, runs: summary.runs }, { ok: 2, failed: 1, runs: 1 }, JSON.stringify(summary));
  const manifest = await manifestOf(d, summary.manifest!);
  assert.equal(manifest.length, 3);
  const junk = manifest.find((o) => o.source === 'src/junk.png');
  assert.equal(junk?.status, 'failed');
  assert.match((junk as { error: string }).error, /not an image|unsupported|unreadable|cannot/i);
  const child = client!.workflow.getHandle(compressWorkflowId(store, 'out/junk.png.dfc'));
  assert.equal((await child.describe()).status.name, 'FAILED');
  const keys = await keysIn(d);
  assert.deepEqual(keys.filter((k) => !k.startsWith('out/_jobs/')), ['out/a.png.dfc', 'out/b.png.dfc', 'src/a.png', 'src/b.png', 'src/junk.png'],
    'outputs for the good sources only, and no work objects');
  await recordHistory('bulk-archive-child-failed', h);
  // The child's own history: its failure reported to the parent, then rethrown.
  await recordHistory('compress-image-child-failed', child);
});

test('bulkArchive continues as new with a child in flight: run 2 takes the carried window and finishes the job', opts, async () => {
  const d = await storeDir('bulkcan', {
    'src/a.png': { w: 16, h: 12, salt: 3 }, 'src/b.png': { w: 16, h: 12, salt: 4 }, 'src/c.png': { w: 16, h: 12, salt: 5 },
  });
  const store = pathToFileURL(d).href;
  const workflowId = `bulkcan-${process.pid}`;
  let firstRun = '';
  // Two starts per run with a window of two: run 1 continues as new once b reports. a's steps wait
  // until run 2 has begun (heartbeating), so a is carried in the window and reports to run 2.
  beforeEncodeSteps = async (input) => {
    if (input.job.output !== 'out/a.png.dfc') return;
    const { Context } = await import('@temporalio/activity');
    for (let i = 0; (await client!.workflow.getHandle(workflowId).describe()).runId === firstRun; i++) {
      assert.ok(i < 600, 'run 2 did not begin within 60 s');
      Context.current().heartbeat();
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  try {
    const h = await startBulkArchive(client!, {
      store, prefix: 'src/', outputPrefix: 'out/', steps: 2, concurrency: 2, objectsPerRun: 2, jobId: 'bulkcan',
    }, { queues, workflowId });
    firstRun = h.firstExecutionRunId;
    const summary = await h.result();
    assert.deepEqual({ ok: summary.ok, failed: summary.failed, runs: summary.runs, phase: summary.phase }, { ok: 3, failed: 0, runs: 2, phase: 'done' });
    const run1 = client!.workflow.getHandle(workflowId, firstRun);
    const e1 = await events(run1);
    const can = e1.at(-1)?.workflowExecutionContinuedAsNewEventAttributes;
    assert.ok(can?.newExecutionRunId, 'run 1 ended by continuing as new');
    assert.equal(e1.filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes).length, 2);
    assert.equal(e1.filter((e) => e.workflowExecutionSignaledEventAttributes).length, 1, 'run 1 heard from b only');
    const run2 = client!.workflow.getHandle(workflowId, can.newExecutionRunId);
    const e2 = await events(run2);
    assert.equal(e2[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId, firstRun);
    assert.ok(e2.at(-1)?.workflowExecutionCompletedEventAttributes, 'run 2 completed the job');
    assert.equal(e2.filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes).length, 1, 'run 2 started c only');
    // a, started by run 1, reported to run 2 (its parent's workflow id reaches the current run).
    assert.equal(e2.filter((e) => e.workflowExecutionSignaledEventAttributes).length, 2, 'run 2 heard from a and c');
    const aChild = await client!.workflow.getHandle(compressWorkflowId(store, 'out/a.png.dfc')).describe();
    assert.equal(aChild.parentExecution?.runId, firstRun, 'a was started by run 1');
    const manifest = await manifestOf(d, summary.manifest!);
    assert.deepEqual(manifest.map((o) => `${o.source}:${o.status}`).sort(), ['src/a.png:ok', 'src/b.png:ok', 'src/c.png:ok']);
    const keys = await keysIn(d);
    assert.deepEqual(keys.filter((k) => !k.startsWith('out/_jobs/')), ['out/a.png.dfc', 'out/b.png.dfc', 'out/c.png.dfc', 'src/a.png', 'src/b.png', 'src/c.png']);
    console.error(`continue-as-new: run 1 ${e1.length} events, run 2 ${e2.length} events`);
    await recordHistory('bulk-archive-continued-run1', run1);
    await recordHistory('bulk-archive-continued-run2', run2);
  } finally {
    beforeEncodeSteps = undefined;
  }
});
