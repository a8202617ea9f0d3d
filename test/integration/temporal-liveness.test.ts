/**
 * Liveness of the gpu activities other than encodeSteps, on the real Temporal dev server with
 * `diffc worker` processes: a worker killed with SIGKILL during encodeLatent, or during a long
 * decode, is noticed within the heartbeat timeout (every gpu activity heartbeats from a timer),
 * not after a start-to-close timeout of 30 minutes; the surviving worker takes the retry, and a
 * decode resumes from its checkpoint and writes the pixels of an uninterrupted `diffc decompress`.
 *
 * Two workers poll from the start; whichever logs the watched line is killed, so the retry is
 * timed from the kill to the other worker's first log line of the retried activity.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, mkdir, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Client } from '@temporalio/client';
import { needs, testQueues, type Temporal } from '../helpers/dev-services.js';
import { temporalSuite } from '../helpers/temporal-suite.js';
import { WorkerProcess, type LogLine } from '../helpers/worker-process.js';
import { testImage, keysIn } from '../helpers/workflows.js';
import { saveImage } from '../../src/image/io.js';
import { main } from '../../src/cli/main.js';
import { startCompressImage, startDecompressImage } from '../../src/orchestration/client.js';

const { missing, opts } = await needs('temporal');
const HEARTBEAT_S = 5;

let dir = '';
let server: Temporal | undefined;
let client: Client | undefined;
temporalSuite({ missing, opts }, 'diffc-liveness-', (t) => ({ dir, server, client } = t));

const when = (l: LogLine) => Date.parse((l as unknown as { t: string }).t);

/** Two workers; resolves with the first line matching `pred` and the worker that logged it. */
async function firstOf(ws: readonly WorkerProcess[], pred: (l: LogLine) => boolean, what: string) {
  return Promise.race(ws.map((w) => w.waitFor(pred, what, 300_000).then((line) => ({ w, line }))));
}

async function twoWorkers(name: string): Promise<{ queues: { io: string; gpu: string }; ws: WorkerProcess[] }> {
  const queues = testQueues(name);
  const ws = [0, 1].map(() => new WorkerProcess(queues, { TEMPORAL_ADDRESS: server!.address, DIFFC_RCC_THREADS: '1' }));
  await Promise.all(ws.map((w) => w.waitFor((l) => l.msg === 'worker-ready', 'worker-ready')));
  return { queues, ws };
}

async function stopAll(ws: readonly WorkerProcess[]) {
  for (const w of ws) {
    if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill('SIGTERM');
    await w.exited;
  }
}

test('kill -9 during encodeLatent: the other worker retries it within the heartbeat timeout; the .dfc equals diffc compress', opts, async () => {
  const storeDir = join(dir, 'latent');
  await mkdir(storeDir, { recursive: true });
  // Large enough that reading, decoding and VAE-encoding it takes a while (~0.1 s), so the kill lands inside (checked: attempt 2 ran on the other worker).
  await saveImage(testImage(1200, 800, 5), join(storeDir, 'in.png'));
  const reference = join(dir, 'latent-ref.dfc');
  assert.equal(await main(['compress', join(storeDir, 'in.png'), '-o', reference, '--steps', '1', '--seed', '4', '-q'], () => {}, () => {}), 0);
  const { queues, ws } = await twoWorkers('latent');
  try {
    const h = await startCompressImage(client!, {
      store: pathToFileURL(storeDir).href, source: 'in.png', output: 'in.dfc', steps: 1, seed: 4, heartbeatTimeoutSeconds: HEARTBEAT_S,
    }, { queues, workflowId: `latent-${process.pid}` });
    const { w: victim, line } = await firstOf(ws, (l) => l.msg === 'encode-latent', 'encode-latent');
    victim.proc.kill('SIGKILL');
    const killedAt = Date.now();
    const survivor = ws.find((w) => w !== victim)!;
    const retry = await survivor.waitFor((l) => l.msg === 'encode-latent', 'the retried encodeLatent', 300_000);
    await h.result();
    assert.equal((line as unknown as { attempt: number }).attempt, 1);
    assert.equal((retry as unknown as { attempt: number }).attempt, 2, 'the survivor ran the second attempt: the kill landed inside the first');
    assert.ok(!victim.lines.some((l) => l.msg === 'encode-steps'), 'the killed worker never got past encodeLatent');
    const retryS = (when(retry) - killedAt) / 1000;
    assert.ok(retryS < 60, `retry after ${retryS} s`);
    assert.ok((await readFile(join(storeDir, 'in.dfc'))).equals(await readFile(reference)), 'the .dfc equals diffc compress');
    assert.deepEqual(await keysIn(storeDir), ['in.dfc', 'in.png'], 'no work objects left');
    console.error(`kill -9 during encodeLatent: retry started ${retryS.toFixed(1)} s after the kill (heartbeat timeout ${HEARTBEAT_S} s; before: start-to-close 30 min)`);
  } finally {
    await stopAll(ws);
  }
});

test('kill -9 during a long decode: the retry resumes at the checkpoint within the heartbeat timeout; pixels equal diffc decompress', opts, async () => {
  const storeDir = join(dir, 'decode');
  await mkdir(storeDir, { recursive: true });
  await saveImage(testImage(512, 384, 9), join(dir, 'decode-src.png'));
  const dfc = join(storeDir, 'in.dfc');
  assert.equal(await main(['compress', join(dir, 'decode-src.png'), '-o', dfc, '--steps', '25', '--seed', '8', '-q'], () => {}, () => {}), 0);
  const reference = join(dir, 'decode-ref.png');
  assert.equal(await main(['decompress', dfc, '-o', reference, '-q'], () => {}, () => {}), 0);
  await copyFile(dfc, join(dir, 'decode-kept.dfc'));
  const { queues, ws } = await twoWorkers('decode');
  try {
    const h = await startDecompressImage(client!, {
      store: pathToFileURL(storeDir).href, source: 'in.dfc', output: 'out.png', stepsPerActivity: 100, checkpointEvery: 1, heartbeatTimeoutSeconds: HEARTBEAT_S,
    }, { queues, workflowId: `decode-${process.pid}` });
    const KILL_AT = 8;
    const { w: victim } = await firstOf(ws, (l) => l.msg === 'decode-checkpoint' && l.step! >= KILL_AT, `decode checkpoint ${KILL_AT}`);
    victim.proc.kill('SIGKILL');
    const killedAt = Date.now();
    const lastA = Math.max(...victim.of('decode-checkpoint'));
    const survivor = ws.find((w) => w !== victim)!;
    const resumed = await survivor.waitFor((l) => l.msg === 'decode-steps', 'the retried decodeSteps', 300_000);
    const result = await h.result();
    assert.ok(resumed.from! >= lastA && resumed.from! < 25, `resumed at ${resumed.from}, A's last checkpoint ${lastA}`);
    assert.equal(result.steps, 25);
    const retryS = (when(resumed) - killedAt) / 1000;
    assert.ok(retryS < 60, `retry after ${retryS} s`);
    assert.ok((await readFile(join(storeDir, 'out.png'))).equals(await readFile(reference)), 'the image equals diffc decompress of the same file');
    assert.deepEqual(await keysIn(storeDir), ['in.dfc', 'out.png'], 'no work objects left');
    console.error(`kill -9 during decode: A checkpointed to step ${lastA}; B resumed at ${resumed.from} ${retryS.toFixed(1)} s after the kill (heartbeat ${HEARTBEAT_S} s); image identical`);
  } finally {
    await stopAll(ws);
  }
});
