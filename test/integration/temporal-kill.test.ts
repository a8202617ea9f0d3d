/**
 * Worker death on the real Temporal dev server: `diffc worker` processes are killed with SIGKILL
 * after a checkpoint, at several points of the chain, and a fresh worker finishes the job. The
 * .dfc must equal an uninterrupted `diffc compress`, and the new worker's step logs must show it
 * started at the last checkpoint (no step before it recomputed). A SIGTERM drain hands over
 * without waiting for a heartbeat timeout.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Client } from '@temporalio/client';
import { needs, privateTemporal, testQueues, type Temporal } from '../helpers/dev-services.js';
import { testImage, keysIn } from '../helpers/workflows.js';
import { saveImage } from '../../src/image/io.js';
import { main } from '../../src/cli/main.js';
import { parseTemporalConfig } from '../../src/orchestration/config.js';
import { connectClient, startCompressImage } from '../../src/orchestration/client.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
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

interface LogLine { msg: string; step?: number; from?: number; to?: number; output?: string; pid: number }

/** A `diffc worker` child process whose JSON log lines are collected as they arrive. */
class WorkerProcess {
  readonly proc: ChildProcess;
  readonly lines: LogLine[] = [];
  private waiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(queues: { io: string; gpu: string }) {
    this.proc = spawn(process.execPath, [join(REPO, 'bin', 'diffc.js'), 'worker', '--queues', 'gpu,io', '--health-port=-1',
      '--queue-io', queues.io, '--queue-gpu', queues.gpu], {
      env: { ...process.env, TEMPORAL_ADDRESS: server!.address, DIFFC_LOG_LEVEL: 'debug', DIFFC_RCC_THREADS: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let buf = '';
    this.proc.stderr!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const text = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!text.startsWith('{')) continue;
        const l = JSON.parse(text) as LogLine;
        this.lines.push(l);
        this.waiters = this.waiters.filter((w) => (w.pred(l) ? (w.resolve(l), false) : true));
      }
    });
    this.exited = new Promise((r) => this.proc.once('exit', (code, signal) => r({ code, signal })));
  }

  waitFor(pred: (l: LogLine) => boolean, what: string, ms = 120_000): Promise<LogLine> {
    const seen = this.lines.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`worker ${this.proc.pid}: no ${what} within ${ms} ms`)), ms);
      this.waiters.push({ pred, resolve: (l) => { clearTimeout(t); resolve(l); } });
      void this.exited.then(({ code, signal }) => reject(new Error(`worker ${this.proc.pid} exited (${code ?? signal}) before ${what}`)));
    });
  }

  steps(): number[] {
    return this.lines.filter((l) => l.msg === 'step').map((l) => l.step!);
  }

  checkpoints(): number[] {
    return this.lines.filter((l) => l.msg === 'checkpoint').map((l) => l.step!);
  }
}

async function interruptedRun(name: string, killAfterCheckpoint: number, signal: 'SIGKILL' | 'SIGTERM') {
  const storeDir = join(dir, name);
  await mkdir(storeDir, { recursive: true });
  await saveImage(testImage(320, 256, 11), join(storeDir, 'in.png'));
  const queues = testQueues(name);
  const a = new WorkerProcess(queues);
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
    b.w = new WorkerProcess(queues);
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
    const aCheckpoints = r.a.checkpoints();
    const lastA = Math.max(...aCheckpoints);
    assert.ok(lastA >= killAt);
    // Where the new worker's encodeSteps started: the checkpoint in the store.
    const resumed = r.b.lines.find((l) => l.msg === 'encode-steps');
    assert.ok(resumed, 'the new worker ran encodeSteps');
    const from = resumed.from!;
    // A checkpoint written after the last log line A managed to print is still a checkpoint.
    assert.ok(from >= lastA, `resumed at ${from}, before A's last checkpoint ${lastA}`);
    assert.ok(from <= Math.max(...r.a.steps()) + 1, `resumed at ${from}, past anything A computed`);
    const bSteps = r.b.steps();
    assert.ok(bSteps.length > 0, 'the new worker coded the rest of the chain');
    assert.ok(Math.min(...bSteps) === from, `new worker's first step ${Math.min(...bSteps)} is not the checkpoint ${from}`);
    assert.deepEqual(bSteps, [...new Set(bSteps)].sort((x, y) => x - y), 'each step coded once by the new worker, in order');
    const bytes = await readFile(join(r.storeDir, 'in.dfc'));
    assert.ok(bytes.equals(reference!), `interrupted .dfc (${bytes.length} B) differs from the uninterrupted one (${reference!.length} B)`);
    assert.deepEqual(await keysIn(r.storeDir), ['in.dfc', 'in.png'], 'no work objects left');
    console.error(`kill after checkpoint ${killAt}: A computed steps 0..${Math.max(...r.a.steps())} (checkpoints ${aCheckpoints.join(',')}); ` +
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
  assert.ok(Math.min(...r.b.steps()) === handoff.step);
  assert.ok((await readFile(join(r.storeDir, 'in.dfc'))).equals(reference!));
  console.error(`drain: handed off at step ${handoff.step}; done ${r.handoverS.toFixed(1)} s after SIGTERM`);
});
