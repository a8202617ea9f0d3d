/**
 * compressImage / decompressImage on the real Temporal dev server (a private one, through
 * infra/dev-up.sh) with a file:// store: byte-identical to `diffc compress`, retry from a
 * checkpoint, cancellation and failure leave no output and no work objects, reruns skip with no
 * model on the io side, a bad or too-large source fails from its header with nothing staged, a
 * replaced source supersedes the run, decompress equals the CLI, histories replay. Skips when the
 * temporal binary is not built; fails instead with DIFFC_REQUIRE_SERVICES=1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from '@temporalio/worker';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { needs, testQueues, type Temporal } from '../helpers/dev-services.js';
import { temporalSuite } from '../helpers/temporal-suite.js';
import { recordHistory, testImage, keysIn } from '../helpers/workflows.js';
import { saveImage } from '../../src/image/io.js';
import { main } from '../../src/cli/main.js';
import { createWorkers, WORKFLOWS_PATH } from '../../src/orchestration/worker.js';
import { parseTemporalConfig } from '../../src/orchestration/config.js';
import { startCompressImage, startDecompressImage } from '../../src/orchestration/client.js';
import { progressQuery } from '../../workflows/index.js';
import * as activities from '../../activities/index.js';
import { workPrefix, type CompressProgress } from '../../src/orchestration/types.js';
import { loadBundle, resolveModel } from '../../src/models/bundle.js';

const { missing, opts } = await needs('temporal');

let dir = '';
let server: Temporal | undefined;
let client: Client | undefined;
temporalSuite({ missing, opts }, 'diffc-wf-', (t) => ({ dir, server, client } = t));

const cfg = (name: string) => parseTemporalConfig({ address: server!.address, queues: testQueues(name) });

async function storeWithImage(name: string): Promise<string> {
  const storeDir = join(dir, name);
  await mkdir(storeDir, { recursive: true });
  await saveImage(testImage(), join(storeDir, 'in.png'));
  return storeDir;
}

/** The ApplicationFailure type under a failed workflow's activity failure (e.g. 'ImageError:too-large'). */
function failureType(e: unknown): string | undefined {
  return e instanceof WorkflowFailedError ? (e.cause?.cause as { type?: string } | undefined)?.type : undefined;
}

async function cliCompress(input: string, bpp: string, seed: string): Promise<Buffer> {
  const out = join(dir, `cli-${bpp}-${seed}.dfc`);
  await rm(out, { force: true });
  assert.equal(await main(['compress', input, '-o', out, '--bpp', bpp, '--seed', seed, '-q'], () => {}, () => {}), 0);
  return readFile(out);
}

test('compressImage end to end: byte-identical to diffc compress; a rerun skips; decompressImage equals diffc decompress; histories replay', opts, async () => {
  const storeDir = await storeWithImage('e2e');
  const store = pathToFileURL(storeDir).href;
  const c = cfg('e2e');
  const w = await createWorkers(c);
  const t0 = performance.now();
  const wf = await w.runUntil(async () => {
    const h = await startCompressImage(client!, {
      store, source: 'in.png', output: 'out/in.dfc', bpp: 2, seed: 12345, stepsPerActivity: 5, checkpointEvery: 2,
    }, { queues: c.queues, workflowId: `e2e-${process.pid}` });
    const result = await h.result();
    const progress: CompressProgress = await h.query(progressQuery);
    await recordHistory('compress-image', h);
    const history = await h.fetchHistory();
    // Rerun with the output in place: nothing is recomputed.
    const again = await (await startCompressImage(client!, {
      store, source: 'in.png', output: 'out/in.dfc', bpp: 2, seed: 12345,
    }, { queues: c.queues, workflowId: `e2e-again-${process.pid}` })).result();
    const againHistory = await (client!.workflow.getHandle(`e2e-again-${process.pid}`)).fetchHistory();
    const d = await startDecompressImage(client!, { store, source: 'out/in.dfc', output: 'out/in.png' }, { queues: c.queues, workflowId: `d-${process.pid}` });
    const dec = await d.result();
    await recordHistory('decompress-image', d);
    return { result, progress, history, id: h.workflowId, again, againHistory, dec };
  });
  const wfS = (performance.now() - t0) / 1000;

  const t1 = performance.now();
  const b = await cliCompress(join(storeDir, 'in.png'), '2', '12345');
  const cliS = (performance.now() - t1) / 1000;
  const a = await readFile(join(storeDir, 'out', 'in.dfc'));
  assert.ok(a.equals(b), `workflow .dfc (${a.length} bytes) differs from diffc compress (${b.length} bytes)`);
  assert.equal(wf.result.bytes, b.length);
  assert.ok(wf.result.steps > 5, `coded ${wf.result.steps} steps: too few to cross an activity boundary`);
  assert.deepEqual(wf.progress, { phase: 'done', step: wf.result.steps, stepsTarget: wf.progress.stepsTarget });
  // The work objects are gone once the file is written.
  assert.deepEqual(await keysIn(storeDir), ['in.png', 'out/in.dfc', 'out/in.png']);
  console.error(`compressImage: ${wf.result.steps} steps, ${wf.result.bytes} bytes; workflows ${wfS.toFixed(2)} s (worker start included); diffc compress ${cliS.toFixed(2)} s`);

  const scheduled = (wf.history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'encodeSteps');
  const ranges = Math.ceil(wf.result.steps / 5);
  assert.ok(scheduled.length === ranges || scheduled.length === ranges + 1, `${scheduled.length} encodeSteps activities for ${wf.result.steps} steps`);
  // Activities went to the queues the job named.
  const queuesUsed = new Set((wf.history.events ?? []).map((e) => e.activityTaskScheduledEventAttributes?.taskQueue?.name).filter(Boolean));
  assert.deepEqual([...queuesUsed].sort(), [c.queues.gpu, c.queues.io].sort());

  assert.equal(wf.again.skipped, true);
  assert.equal(wf.again.bytes, a.length);
  const againActivities = (wf.againHistory.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes).map((e) => e.activityTaskScheduledEventAttributes!.activityType!.name);
  assert.deepEqual(againActivities, ['resolveModelHash', 'prepareSource'], 'a rerun with a matching output runs nothing but the model hash and the check');

  // decompressImage = diffc decompress, pixel for pixel (PNG bytes).
  const cliPng = join(dir, 'cli-e2e.png');
  assert.equal(await main(['decompress', join(storeDir, 'out', 'in.dfc'), '-o', cliPng, '-q'], () => {}, () => {}), 0);
  assert.ok((await readFile(join(storeDir, 'out', 'in.png'))).equals(await readFile(cliPng)), 'decompressImage PNG differs from diffc decompress');
  assert.equal(wf.dec.steps, wf.result.steps);

  await Worker.runReplayHistory({ workflowsPath: WORKFLOWS_PATH }, wf.history, wf.id);
});

test('a failed encodeSteps is retried from its last checkpoint: same bytes as diffc compress', opts, async () => {
  const storeDir = await storeWithImage('retry');
  // The range ending at step 10 fails once, after checkpointing step 7 of it.
  let failed = false;
  let resumedAt = -1;
  const acts: typeof activities = {
    ...activities,
    async encodeSteps(input) {
      if (input.to === 10 && !failed) {
        failed = true;
        const part = await activities.encodeSteps({ ...input, to: 7 });
        assert.equal(part.step, 7);
        throw new Error('injected failure after a checkpoint');
      }
      if (input.to === 10) {
        const { Context } = await import('@temporalio/activity');
        const chain = join(storeDir, workPrefix('r.dfc', Context.current().info.workflowExecution!.runId), 'chain.json');
        resumedAt = (JSON.parse(await readFile(chain, 'utf8')) as { step: number }).step;
      }
      return activities.encodeSteps(input);
    },
  };
  const c = cfg('retry');
  const w = await createWorkers(c, { activities: acts });
  const result = await w.runUntil(async () => (await startCompressImage(client!, {
    store: pathToFileURL(storeDir).href, source: 'in.png', output: 'r.dfc', bpp: 2, seed: 7, stepsPerActivity: 5, checkpointEvery: 3,
  }, { queues: c.queues, workflowId: `retry-${process.pid}` })).result());
  assert.ok(failed);
  assert.equal(resumedAt, 7, 'the retry starts from the checkpoint, not from the range start');
  const a = await readFile(join(storeDir, 'r.dfc'));
  assert.ok(a.equals(await cliCompress(join(storeDir, 'in.png'), '2', '7')), 'the retried workflow wrote different bytes');
  assert.equal(result.bytes, a.length);
});

test('cancelling compressImage mid-chain leaves no output and no work objects', opts, async () => {
  const storeDir = await storeWithImage('cancel');
  const c = cfg('cancel');
  let reached!: () => void;
  const atStep = new Promise<void>((r) => { reached = r; });
  const acts: typeof activities = {
    ...activities,
    async encodeSteps(input) {
      if (input.to > 5) {
        reached();
        // Hold the range open (heartbeating) until the cancellation arrives.
        const { Context } = await import('@temporalio/activity');
        const ctx = Context.current();
        while (!ctx.cancellationSignal.aborted) {
          ctx.heartbeat();
          await new Promise((r) => setTimeout(r, 100));
        }
        throw ctx.cancellationSignal.reason;
      }
      return activities.encodeSteps(input);
    },
  };
  const w = await createWorkers(c, { activities: acts });
  await w.runUntil(async () => {
    const h = await startCompressImage(client!, {
      store: pathToFileURL(storeDir).href, source: 'in.png', output: 'c.dfc', bpp: 2, stepsPerActivity: 5, checkpointEvery: 2,
    }, { queues: c.queues, workflowId: `cancel-${process.pid}` });
    await atStep;
    await h.cancel();
    await assert.rejects(h.result(), (e) => e instanceof WorkflowFailedError);
    assert.equal((await h.query(progressQuery)).phase, 'cancelled');
  });
  assert.deepEqual((await readdir(storeDir)).sort(), ['in.png'], 'no .dfc and no _diffc-work/ after a cancel');
});

test('invalid inputs are refused at the client with the field named', opts, async () => {
  const c = cfg('invalid');
  await assert.rejects(startCompressImage(client!, { store: 'ftp://x', source: 'a.png', output: 'a.dfc' }, { queues: c.queues }), /store/);
  await assert.rejects(startCompressImage(client!, { store: 'file:///tmp', source: 'a.png', output: 'a.dfc', bpp: 1, steps: 3 }, { queues: c.queues }), /at most one of bpp, steps/);
  await assert.rejects(startDecompressImage(client!, { store: 'file:///tmp', source: 'a.dfc', output: 'a.bmp' }, { queues: c.queues }), /output must end/);
});

test('the skip check needs no model on the io side: a job naming its model by hash skips with a model name no worker has', opts, async () => {
  const storeDir = await storeWithImage('nomodel');
  const store = pathToFileURL(storeDir).href;
  const c = cfg('nomodel');
  const hash = Buffer.from((await loadBundle(await resolveModel('default'), { verify: false })).hash).toString('hex');
  const w = await createWorkers(c);
  await w.runUntil(async () => {
    const first = await (await startCompressImage(client!, { store, source: 'in.png', output: 'n.dfc', bpp: 2, seed: 5 }, { queues: c.queues })).result();
    assert.ok(!first.skipped && first.bytes > 0);
    // The model name resolves nowhere: only the hash is used, by the io-side check.
    const again = await (await startCompressImage(client!, {
      store, source: 'in.png', output: 'n.dfc', bpp: 2, seed: 5, model: 'no-such-model', modelHash: hash,
    }, { queues: c.queues })).result();
    assert.equal(again.skipped, true);
    assert.equal(again.bytes, first.bytes);
  });
});

test('a failure after prepareSource discards the run\'s work: no output, no _diffc-work/', opts, async () => {
  const storeDir = await storeWithImage('fail');
  const c = cfg('fail');
  const w = await createWorkers(c);
  await w.runUntil(async () => {
    // prepareSource passes (it uses the hash only); encodeLatent fails permanently on the gpu side.
    const h = await startCompressImage(client!, {
      store: pathToFileURL(storeDir).href, source: 'in.png', output: 'f.dfc', bpp: 2, model: 'no-such-model', modelHash: '0123456789abcdef',
    }, { queues: c.queues });
    await assert.rejects(h.result(), (e) => failureType(e) === 'ModelError:not-found');
    const names = (await h.fetchHistory()).events!.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => e.activityTaskScheduledEventAttributes!.activityType!.name);
    assert.deepEqual(names, ['prepareSource', 'encodeLatent', 'discardWork']);
  });
  assert.deepEqual((await readdir(storeDir)).sort(), ['in.png'], 'no output and no work folder after a failure');
});

test('the source is checked from its header on io: too large / not an image fail with ImageError and nothing is staged', opts, async () => {
  const storeDir = await storeWithImage('bad');
  await writeFile(join(storeDir, 'junk.png'), Buffer.from('this is not a PNG at all'));
  const c = cfg('bad');
  const w = await createWorkers(c);
  await w.runUntil(async () => {
    const store = pathToFileURL(storeDir).href;
    for (const [source, maxPixels, type] of [['in.png', 1000, 'ImageError:too-large'], ['junk.png', undefined, 'ImageError:unreadable']] as const) {
      const h = await startCompressImage(client!, { store, source, output: `${source}.dfc`, maxPixels }, { queues: c.queues });
      await assert.rejects(h.result(), (e) => failureType(e) === type);
      const names = (await h.fetchHistory()).events!.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => e.activityTaskScheduledEventAttributes!.activityType!.name);
      assert.deepEqual(names, ['resolveModelHash', 'prepareSource', 'discardWork'], `${source}: refused by prepareSource`);
    }
  });
  assert.deepEqual((await readdir(storeDir)).sort(), ['in.png', 'junk.png']);
});

test('a job for a source version that is no longer current ends superseded: nothing written', opts, async () => {
  const storeDir = await storeWithImage('stale');
  const c = cfg('stale');
  const w = await createWorkers(c);
  const r = await w.runUntil(async () => (await startCompressImage(client!, {
    store: pathToFileURL(storeDir).href, source: 'in.png', output: 's.dfc', sourceVersion: { etag: 'not-the-current-etag' },
  }, { queues: c.queues })).result());
  assert.equal(r.superseded, true);
  assert.match(r.reason ?? '', /replaced/);
  assert.equal(r.bytes, 0);
  assert.deepEqual((await readdir(storeDir)).sort(), ['in.png']);
});
