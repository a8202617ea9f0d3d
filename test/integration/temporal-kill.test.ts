/**
 * Worker death on the real Temporal dev server: `diffc worker` processes are killed with SIGKILL
 * after a checkpoint, at several points of the chain, and a fresh worker finishes the job. The
 * .dfc must equal an uninterrupted `diffc compress`, and the new worker's step logs must show it
 * started at the last checkpoint (no step before it recomputed). A SIGTERM drain hands over
 * without waiting for a heartbeat timeout.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Client } from '@temporalio/client';
import { needs, privateTemporal, testQueues, type Temporal } from '../helpers/dev-services.js';
import { WorkerProcess } from '../helpers/worker-process.js';
import { testImage, keysIn } from '../helpers/workflows.js';
import { saveImage } from '../../src/image/io.js';
import { main } from '../../src/cli/main.js';
import { parseTemporalConfig } from '../../src/orchestration/config.js';
import { connectClient, startCompressImage } from '../../src/orchestration/client.js';

const { missing, opts } = await needs('temporal');

let dir = '';
let server: Temporal | undefined;
let client: Client | undefined;
let reference: Buffer | undefined;
const BPP = '0.3', SEED = '99';

before(async () => {
  if (missing) {
    if (opts.skip) return;
    throw new Error(missing);
  }
  dir = await mkdtemp(join(tmpdir(), 'diffc-kill-'));
  server = await privateTemporal();
  client = await connectClient(parseTemporalConfig({ address: server.address }));
  await saveImage(testImage(320, 256, 11), join(dir, 'src.png'));
  const out = join(dir, 'reference.dfc');
  assert.equal(await main(['compress', join(dir, 'src.png'), '-o', out, '--bpp', BPP, '--seed', SEED, '-q'], () => {}, () => {}), 0);
  reference = await readFile(out);
});

after(async () => {
  await client?.connection.close();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function interruptedRun(name: string, killAfterCheckpoint: number, signal: 'SIGKILL' | 'SIGTERM') {
  const storeDir = join(dir, name);
  await mkdir(storeDir, { recursive: true });
  await saveImage(testImage(320, 256, 11), join(storeDir, 'in.png'));
  const queues = testQueues(name);
  const a = new WorkerProcess(queues, { TEMPORAL_ADDRESS: server!.address, DIFFC_RCC_THREADS: '1' });
  const b: { w?: WorkerProcess } = {};
  try {
    await a.waitFor((l) => l.msg === 'worker-ready', 'worker-ready');
    const h = await startCompressImage(client!, {
      store: pathToFileURL(storeDir).href, source: 'in.png', output: 'in.dfc', bpp: Number(BPP), seed: Number(SEED),
      stepsPerActivity: 100, checkpointEvery: 2, heartbeatTimeoutSeconds: 5,
    }, { queues, workflowId: `${name}-${process.pid}` });
    await a.waitFor((l) => l.msg === 'checkpoint' && l.step! >= killAfterCheckpoint, `checkpoint ${killAfterCheckpoint}`);
    const t0 = performance.now();
    a.proc.kill(signal);
    const exit = await a.exited;
    b.w = new WorkerProcess(queues, { TEMPORAL_ADDRESS: server!.address, DIFFC_RCC_THREADS: '1' });
    const result = await h.result();
    const handoverS = (performance.now() - t0) / 1000;
    return { storeDir, a, b: b.w, exit, result, handoverS };
  } finally {
    if (a.proc.exitCode === null && a.proc.signalCode === null) a.proc.kill('SIGKILL');
    if (b.w) {
      b.w.proc.kill('SIGTERM');
      await b.w.exited;
    }
  }
}

for (const killAt of [2, 6, 10]) {
  test(`kill -9 of the worker after checkpoint ${killAt}: a new worker resumes there; the .dfc equals an uninterrupted run`, opts, async () => {
    const r = await interruptedRun(`kill${killAt}`, killAt, 'SIGKILL');
    assert.equal(r.exit.signal, 'SIGKILL');
    const aCheckpoints = r.a.of('checkpoint');
    const lastA = Math.max(...aCheckpoints);
    assert.ok(lastA >= killAt);
    // Where the new worker's encodeSteps started: the checkpoint in the store.
    const resumed = r.b.lines.find((l) => l.msg === 'encode-steps');
    assert.ok(resumed, 'the new worker ran encodeSteps');
    const from = resumed.from!;
    // A checkpoint written after the last log line A managed to print is still a checkpoint.
    assert.ok(from >= lastA, `resumed at ${from}, before A's last checkpoint ${lastA}`);
    assert.ok(from <= Math.max(...r.a.of('step')) + 1, `resumed at ${from}, past anything A computed`);
    const bSteps = r.b.of('step');
    assert.ok(bSteps.length > 0, 'the new worker coded the rest of the chain');
    assert.ok(Math.min(...bSteps) === from, `new worker's first step ${Math.min(...bSteps)} is not the checkpoint ${from}`);
    assert.deepEqual(bSteps, [...new Set(bSteps)].sort((x, y) => x - y), 'each step coded once by the new worker, in order');
    const bytes = await readFile(join(r.storeDir, 'in.dfc'));
    assert.ok(bytes.equals(reference!), `interrupted .dfc (${bytes.length} B) differs from the uninterrupted one (${reference!.length} B)`);
    assert.deepEqual(await keysIn(r.storeDir), ['in.dfc', 'in.png'], 'no work objects left');
    console.error(`kill after checkpoint ${killAt}: A computed steps 0..${Math.max(...r.a.of('step'))} (checkpoints ${aCheckpoints.join(',')}); ` +
      `B resumed at ${from} and computed ${bSteps.length} steps (${bSteps[0]}..${bSteps.at(-1)}); total ${r.result.steps}; done ${r.handoverS.toFixed(1)} s after the kill`);
  });
}

test('SIGTERM drains: the step range checkpoints and hands back at once; the .dfc equals an uninterrupted run', opts, async () => {
  const r = await interruptedRun('drain', 4, 'SIGTERM');
  assert.equal(r.exit.code, 0, 'a drained worker exits 0');
  const handoff = r.a.lines.find((l) => l.msg === 'drain-handoff');
  assert.ok(handoff, 'the worker logged its hand-off');
  const resumed = r.b.lines.find((l) => l.msg === 'encode-steps');
  assert.equal(resumed?.from, handoff.step, 'the next worker starts exactly at the drained checkpoint');
  assert.ok(Math.min(...r.b.of('step')) === handoff.step);
  assert.ok((await readFile(join(r.storeDir, 'in.dfc'))).equals(reference!));
  console.error(`drain: handed off at step ${handoff.step}; done ${r.handoverS.toFixed(1)} s after SIGTERM`);
});
