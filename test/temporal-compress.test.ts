/**
 * compressImage on the real Temporal dev server (started here through infra/dev-up.sh in a
 * temporary state dir) with a file:// store: the .dfc is byte-identical to `diffc compress`, and
 * the recorded history replays deterministically. Skips when the temporal binary is not built,
 * fails instead with DIFFC_REQUIRE_SERVICES=1.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { Worker } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { needs, parseEnvFile } from './helpers/dev-services.js';
import { saveImage } from '../src/image/io.js';
import { openStore } from '../src/storage/index.js';
import { main } from '../src/cli/main.js';
import { createWorker, WORKFLOWS_PATH } from '../src/orchestration/worker.js';
import { connectClient, startCompressImage } from '../src/orchestration/client.js';
import { progressQuery } from '../workflows/index.js';
import * as activities from '../activities/index.js';
import type { CompressProgress } from '../src/orchestration/types.js';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('..', import.meta.url));
const { missing, opts } = await needs('temporal');

let dir = '';
let address = '';
let client: Client | undefined;
let stopServer: (() => Promise<void>) | undefined;

before(async () => {
  if (missing) {
    if (opts.skip) return;
    throw new Error(missing);
  }
  dir = await mkdtemp(join(tmpdir(), 'diffc-temporal-'));
  const state = join(dir, 'state');
  const env = { ...process.env, DIFFC_SERVICES_STATE: state, DIFFC_NO_BUILD: '1' };
  const script = (name: string) => run('bash', [join(REPO, 'infra', name), 'temporal'], { env, timeout: 120_000 });
  try {
    await script('dev-up.sh');
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`infra/dev-up.sh temporal failed: ${err.stderr || err.message}`);
  }
  stopServer = async () => { await script('dev-down.sh'); };
  address = parseEnvFile(await readFile(`${state}.env`, 'utf8')).TEMPORAL_ADDRESS;
  client = await connectClient({ address, namespace: 'default', taskQueue: 'unused' });
});

after(async () => {
  await client?.connection.close();
  await stopServer?.();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A smooth synthetic 64x46 image: no photo needed, and odd sizes exercise padding. */
function testImage() {
  const width = 64, height = 46, data = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    const i = 3 * (y * width + x);
    data[i] = x / width; data[i + 1] = y / height; data[i + 2] = 0.5 + 0.4 * Math.sin((x + y) / 5);
  }
  return { width, height, data, bitDepth: 8 as const };
}

test('compressImage end to end on the dev server: byte-identical to diffc compress; history replays', opts, async () => {
  assert.ok(client);
  const storeDir = join(dir, 'store');
  await mkdir(storeDir, { recursive: true });
  await saveImage(testImage(), join(storeDir, 'in.png'));
  const taskQueue = `diffc-test-${process.pid}`;
  const { worker, connection } = await createWorker({ address, namespace: 'default', taskQueue });
  const t0 = performance.now();
  let progress: CompressProgress | undefined;
  let wf;
  try {
    wf = await worker.runUntil(async () => {
      const h = await startCompressImage(client!, {
        store: pathToFileURL(storeDir).href, source: 'in.png', output: 'out/in.dfc', bpp: 2, seed: 12345,
        stepsPerActivity: 5, checkpointEvery: 2,
      }, { taskQueue, workflowId: `compress-test-${process.pid}` });
      const result = await h.result();
      progress = await h.query(progressQuery);
      return { result, history: await h.fetchHistory(), id: h.workflowId };
    });
  } finally {
    await connection.close();
  }
  const wfS = (performance.now() - t0) / 1000;

  // The same compression with the CLI, in-process.
  const cliOut = join(dir, 'cli.dfc');
  const t1 = performance.now();
  const c = await main(['compress', join(storeDir, 'in.png'), '-o', cliOut, '--bpp', '2', '--seed', '12345', '-q'], () => {}, () => {});
  const cliS = (performance.now() - t1) / 1000;
  assert.equal(c, 0);
  const a = await readFile(join(storeDir, 'out', 'in.dfc'));
  const b = await readFile(cliOut);
  assert.ok(a.equals(b), `workflow .dfc (${a.length} bytes) differs from diffc compress (${b.length} bytes)`);
  assert.equal(wf.result.bytes, b.length);
  assert.ok(wf.result.steps > 5, `coded ${wf.result.steps} steps: too few to cross an activity boundary`);
  assert.deepEqual(progress, { phase: 'done', step: wf.result.steps, stepsTarget: progress!.stepsTarget });
  // The checkpoints are gone once the file is written.
  const store = openStore(pathToFileURL(storeDir).href);
  const left: string[] = [];
  for await (const e of store.list('out/')) left.push(e.key);
  store.close();
  assert.deepEqual(left, ['out/in.dfc']);
  console.error(`compressImage: ${wf.result.steps} steps, ${wf.result.bytes} bytes in ${wfS.toFixed(2)} s (worker start included); diffc compress ${cliS.toFixed(2)} s`);

  const scheduled = (wf.history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'encodeSteps');
  // One encodeSteps per 5-step range, plus possibly one that finds the budget spent at once.
  const ranges = Math.ceil(wf.result.steps / 5);
  assert.ok(scheduled.length === ranges || scheduled.length === ranges + 1, `${scheduled.length} encodeSteps activities for ${wf.result.steps} steps`);

  // Determinism: the recorded history replays against the current workflow code.
  await Worker.runReplayHistory({ workflowsPath: WORKFLOWS_PATH }, wf.history, wf.id);
});

test('a failed encodeSteps is retried from its last checkpoint: same bytes as diffc compress', opts, async () => {
  assert.ok(client);
  const storeDir = join(dir, 'store-retry');
  await mkdir(storeDir, { recursive: true });
  await saveImage(testImage(), join(storeDir, 'in.png'));
  const taskQueue = `diffc-test-retry-${process.pid}`;
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
      if (input.to === 10) resumedAt = (JSON.parse(await readFile(join(storeDir, 'r.dfc.work', 'chain.json'), 'utf8')) as { step: number }).step;
      return activities.encodeSteps(input);
    },
  };
  const { worker, connection } = await createWorker({ address, namespace: 'default', taskQueue }, { activities: acts });
  let result;
  try {
    result = await worker.runUntil(async () => {
      const h = await startCompressImage(client!, {
        store: pathToFileURL(storeDir).href, source: 'in.png', output: 'r.dfc', bpp: 2, seed: 7, stepsPerActivity: 5, checkpointEvery: 3,
      }, { taskQueue, workflowId: `compress-retry-${process.pid}` });
      return h.result();
    });
  } finally {
    await connection.close();
  }
  assert.ok(failed);
  assert.equal(resumedAt, 7, 'the retry starts from the checkpoint, not from the range start');
  const cliOut = join(dir, 'cli-retry.dfc');
  assert.equal(await main(['compress', join(storeDir, 'in.png'), '-o', cliOut, '--bpp', '2', '--seed', '7', '-q'], () => {}, () => {}), 0);
  const a = await readFile(join(storeDir, 'r.dfc'));
  assert.ok(a.equals(await readFile(cliOut)), 'the retried workflow wrote different bytes');
  assert.equal(result.bytes, a.length);
});
