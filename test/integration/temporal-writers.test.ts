/**
 * Two writers, one output, on a private Temporal dev server and a private MinIO:
 *   - through the client, the output's one workflow id refuses a second compression while one
 *     runs; the next one replaces the .dfc with its own source's;
 *   - two workflows with different ids forced onto one output (what the one id prevents): the
 *     conditional put and the per-run work folders alone leave exactly one source's .dfc;
 *   - a newer source version signalled mid-run supersedes it (continue-as-new; the .dfc is the
 *     newer source's), an older or equal one is ignored, and a signal that arrives with the start
 *     only sets the version;
 *   - `diffc work gc` removes the folder a terminated run left, and keeps a running run's.
 * Every .dfc is compared with `diffc compress` of one source, byte for byte, and no work object
 * may be left under _diffc-work/.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { needsAll, privateMinio, s3EnvOf, setEnv, privateTemporal, testQueues, type Minio, type Temporal } from '../helpers/dev-services.js';
import { recordHistory, testImage, runWorkers } from '../helpers/workflows.js';
import { encodeImage } from '../../src/image/io.js';
import { main } from '../../src/cli/main.js';
import { openStore, s3ConfigFromEnv, type ObjectStore } from '../../src/storage/index.js';
import { parseTemporalConfig } from '../../src/orchestration/config.js';
import { connectClient, startCompressImage } from '../../src/orchestration/client.js';
import { compressWorkflowId } from '../../src/orchestration/output-key.js';
import { WORK_ROOT, workPrefix } from '../../src/orchestration/types.js';
import { gcWork } from '../../src/cli/work.js';
import { compressImage } from '../../workflows/index.js';
import { sourceVersionSignal } from '../../workflows/signals.js';
import * as activities from '../../activities/index.js';

const { missing, opts } = await needsAll('temporal', 'minio');

let dir = '';
let temporal: Temporal | undefined;
let minio: Minio | undefined;
let client: Client | undefined;
let workers: { stop(): Promise<void> } | undefined;
let restoreEnv: (() => void) | undefined;
const queues = testQueues('writers');

/** Runs whose first encodeSteps is held (heartbeating) until released or cancelled. */
const held = new Map<string, { reached: () => void; release: Promise<void>; cancelled: boolean }>();

const acts: typeof activities = {
  ...activities,
  async encodeSteps(input) {
    const runId = Context.current().info.workflowExecution!.runId;
    const h = held.get(runId);
    if (h) {
      held.delete(runId);
      h.reached();
      const ctx = Context.current();
      let released = false;
      void h.release.then(() => { released = true; });
      while (!released) {
        if (ctx.cancellationSignal.aborted) {
          h.cancelled = true;
          throw ctx.cancellationSignal.reason;
        }
        ctx.heartbeat();
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return activities.encodeSteps(input);
  },
};

before(async () => {
  if (missing) {
    if (opts.skip) return;
    throw new Error(missing);
  }
  dir = await mkdtemp(join(tmpdir(), 'diffc-writers-'));
  [temporal, minio] = await Promise.all([privateTemporal(), privateMinio()]);
  restoreEnv = setEnv(s3EnvOf(minio));
  const cfg = parseTemporalConfig({ address: temporal.address, queues });
  client = await connectClient(cfg);
  // Two gpu slots, so two runs really interleave their step ranges.
  workers = await runWorkers(cfg, { activities: acts, maxConcurrentActivities: { gpu: 2, io: 8 } });
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
const RATE = { bpp: 2, seed: 77 };
// Small ranges and frequent checkpoints: the most chances for two runs to interleave.
const SMALL = { stepsPerActivity: 2, checkpointEvery: 1 };

/** Same size for every source, so only the recorded source version tells their outputs apart. */
const png = (salt: number) => encodeImage(testImage(64, 46, salt), 'png');

async function put(key: string, bytes: Uint8Array): Promise<string> {
  const s = store();
  try {
    const { etag } = await s.put(key, bytes);
    return etag!;
  } finally {
    s.close();
  }
}

async function getBytes(key: string): Promise<Buffer> {
  const s = store();
  try {
    return Buffer.from(await s.get(key));
  } finally {
    s.close();
  }
}

async function workLeft(): Promise<string[]> {
  const s = store();
  const keys: string[] = [];
  try {
    for await (const e of s.list(WORK_ROOT)) keys.push(e.key);
  } finally {
    s.close();
  }
  return keys;
}

async function cliCompress(bytes: Uint8Array, name: string): Promise<Buffer> {
  const input = join(dir, `${name}.png`), out = join(dir, `${name}.dfc`);
  await writeFile(input, bytes);
  assert.equal(await main(['compress', input, '-o', out, '--bpp', String(RATE.bpp), '--seed', String(RATE.seed), '-q'], () => {}, () => {}), 0);
  return readFile(out);
}

function holdFirstRange(runId: string) {
  let reached!: () => void, release!: () => void;
  const atRange = new Promise<void>((r) => { reached = r; });
  const gate = { reached, release: new Promise<void>((r) => { release = r; }), cancelled: false };
  held.set(runId, gate);
  return { atRange, release, gate };
}

test('through the client, one output has one writer: a second start is refused while one runs; the next run replaces the .dfc', opts, async () => {
  const [a, b] = [await png(1), await png(2)];
  await put('one/a.png', a);
  await put('one/b.png', b);
  const job = (source: string) => ({ store: bucket(), source, output: 'one/out.dfc', ...RATE, ...SMALL });
  const first = await startCompressImage(client!, job('one/a.png'), { queues });
  assert.equal(first.workflowId, compressWorkflowId(bucket(), 'one/out.dfc'));
  await assert.rejects(startCompressImage(client!, job('one/b.png'), { queues }), (e) => e instanceof WorkflowExecutionAlreadyStartedError);
  const r1 = await first.result();
  assert.ok((await getBytes('one/out.dfc')).equals(await cliCompress(a, 'one-a')), 'the first run wrote a.png\'s compress');
  const r2 = await (await startCompressImage(client!, job('one/b.png'), { queues })).result();
  assert.ok(!r2.skipped, 'b.png\'s run does not keep a.png\'s output (the recorded source differs)');
  assert.ok((await getBytes('one/out.dfc')).equals(await cliCompress(b, 'one-b')), 'the next run wrote b.png\'s compress');
  assert.deepEqual(await workLeft(), []);
  console.error(`one writer: ${r1.bytes} B then ${r2.bytes} B`);
});

test('two workflows with different ids forced onto one output: exactly one source\'s .dfc, never a mix; no work left', opts, async () => {
  const [a, b] = [await png(3), await png(4)];
  await put('two/a.png', a);
  await put('two/b.png', b);
  const [refA, refB] = [await cliCompress(a, 'two-a'), await cliCompress(b, 'two-b')];
  assert.ok(!refA.equals(refB));
  for (const round of [0, 1, 2]) {
    const output = `two/out-${round}.dfc`;
    const job = (source: string) => ({ store: bucket(), source, output, ...RATE, ...SMALL });
    const hA = await startCompressImage(client!, job('two/a.png'), { queues, workflowId: `writer-a-${round}-${process.pid}` });
    // Round 0 starts both at once; later rounds start B while A is further along.
    if (round > 0) await new Promise((r) => setTimeout(r, 400 * round));
    const hB = await startCompressImage(client!, job('two/b.png'), { queues, workflowId: `writer-b-${round}-${process.pid}` });
    const [rA, rB] = await Promise.all([hA.result(), hB.result()]);
    const got = await getBytes(output);
    const which = got.equals(refA) ? 'a' : got.equals(refB) ? 'b' : 'neither';
    assert.notEqual(which, 'neither', `round ${round}: the .dfc (${got.length} B) is neither source's compress: a mix`);
    assert.deepEqual(await workLeft(), [], `round ${round}: work objects left`);
    console.error(`round ${round}: .dfc is ${which}.png's; A ${rA.superseded ? `superseded (${rA.reason})` : `${rA.bytes} B${rA.skipped ? ' kept' : ''}`}, ` +
      `B ${rB.superseded ? `superseded (${rB.reason})` : `${rB.bytes} B${rB.skipped ? ' kept' : ''}`}`);
  }
});

test('a newer source version signalled mid-run supersedes it; older and equal ones are ignored', opts, async () => {
  const [v1, v2] = [await png(5), await png(6)];
  const e1 = await put('sig/src.png', v1);
  const output = 'sig/src.png.dfc';
  const job = { store: bucket(), source: 'sig/src.png', output, ...RATE, ...SMALL, sourceVersion: { etag: e1, sequencer: '0A' } };
  const h = await startCompressImage(client!, job, { queues });
  const firstRun = h.firstExecutionRunId;
  const { atRange, gate } = holdFirstRange(firstRun);
  await atRange;
  // An older event arriving late, and a redelivery of the run's own: neither stops it.
  await h.signal(sourceVersionSignal, { etag: 'an-older-etag', sequencer: '05' });
  await h.signal(sourceVersionSignal, { etag: e1, sequencer: '0a' });
  await new Promise((r) => setTimeout(r, 2500));
  assert.equal(gate.cancelled, false, 'an older or equal version must not stop the run');
  // The newer write, and its event.
  const e2 = await put('sig/src.png', v2);
  await h.signal(sourceVersionSignal, { etag: e2, sequencer: '0B' });
  const result = await client!.workflow.getHandle(h.workflowId).result();
  assert.equal(gate.cancelled, true, 'the held step range was cancelled');
  assert.ok((await getBytes(output)).equals(await cliCompress(v2, 'sig-v2')), 'the .dfc is the newer source\'s compress');
  assert.ok(!result.superseded && result.bytes > 0);
  // The superseded run's history (signals, a cancelled range, discard, continue-as-new) replays in npm test.
  await recordHistory('compress-image-signalled', client!.workflow.getHandle(h.workflowId, firstRun));
  const hist = await client!.workflow.getHandle(h.workflowId, firstRun).fetchHistory();
  const can = hist.events!.find((e) => e.workflowExecutionContinuedAsNewEventAttributes);
  assert.ok(can, 'the first run continued as new');
  const scheduled = hist.events!.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => e.activityTaskScheduledEventAttributes!.activityType!.name);
  assert.equal(scheduled.at(-1), 'discardWork', 'the first run discarded its work before continuing');
  assert.deepEqual(await workLeft(), []);
});

test('an older signal changes nothing: one run, the pinned version\'s .dfc', opts, async () => {
  const v1 = await png(7);
  const e1 = await put('old/src.png', v1);
  const output = 'old/src.png.dfc';
  const h = await startCompressImage(client!, {
    store: bucket(), source: 'old/src.png', output, ...RATE, ...SMALL, sourceVersion: { etag: e1, sequencer: '00000000000000F0' },
  }, { queues });
  const { atRange, release } = holdFirstRange(h.firstExecutionRunId);
  await atRange;
  await h.signal(sourceVersionSignal, { etag: 'late-older-write', sequencer: 'E0' });
  release();
  const r = await h.result();
  assert.ok(!r.superseded);
  assert.ok((await getBytes(output)).equals(await cliCompress(v1, 'old-v1')));
  const hist = await h.fetchHistory();
  assert.ok(!hist.events!.some((e) => e.workflowExecutionContinuedAsNewEventAttributes), 'no continue-as-new for an older version');
  assert.deepEqual(await workLeft(), []);
});

test('signal-with-start before the first activity only sets the version: a stale one supersedes, a current one compresses in one run', opts, async () => {
  const v = await png(8);
  const etag = await put('sws/src.png', v);
  const base = { store: bucket(), source: 'sws/src.png', ...RATE, queues, maxPixels: 64 * 1024 * 1024, stepsPerActivity: 16, checkpointEvery: 4, checkpointSeconds: 60, heartbeatTimeoutSeconds: 120, model: 'default', skipExisting: true };
  const start = (output: string, version: { etag: string }) => client!.workflow.signalWithStart(compressImage, {
    workflowId: compressWorkflowId(bucket(), output), taskQueue: queues.io,
    signal: sourceVersionSignal, signalArgs: [version], args: [{ ...base, output }],
  });
  const stale = await (await start('sws/stale.dfc', { etag: 'not-what-is-there' })).result();
  assert.equal(stale.superseded, true, 'the signalled (stale) version is the one the run was for');
  const h = await start('sws/ok.dfc', { etag });
  const ok = await h.result();
  assert.ok(!ok.superseded && ok.bytes > 0);
  assert.ok((await getBytes('sws/ok.dfc')).equals(await cliCompress(v, 'sws')));
  assert.ok(!(await h.fetchHistory()).events!.some((e) => e.workflowExecutionContinuedAsNewEventAttributes), 'no continue-as-new');
  assert.deepEqual(await workLeft(), []);
});

test('diffc work gc removes the work folder a terminated run left behind and keeps a running run\'s', opts, async () => {
  await put('gc/src.png', await png(9));
  const job = (output: string) => ({ store: bucket(), source: 'gc/src.png', output, ...RATE, ...SMALL });
  const dead = await startCompressImage(client!, job('gc/dead.dfc'), { queues });
  const live = await startCompressImage(client!, job('gc/live.dfc'), { queues });
  const d = holdFirstRange(dead.firstExecutionRunId), l = holdFirstRange(live.firstExecutionRunId);
  await Promise.all([d.atRange, l.atRange]);
  // Terminated: the run runs no code, so its latent, checkpoint and run.json stay.
  await dead.terminate('test: a run that cannot clean up');
  const deadFolder = workPrefix('gc/dead.dfc', dead.firstExecutionRunId), liveFolder = workPrefix('gc/live.dfc', live.firstExecutionRunId);
  assert.ok((await workLeft()).some((k) => k.startsWith(deadFolder)), 'the terminated run left its folder');
  const s = store();
  try {
    const dry = await gcWork(s, client!, { dryRun: true });
    assert.deepEqual(dry.removed, [deadFolder]);
    assert.ok((await workLeft()).some((k) => k.startsWith(deadFolder)), 'a dry run removes nothing');
    const r = await gcWork(s, client!);
    assert.deepEqual([r.removed, r.running, r.unknown], [[deadFolder], [liveFolder], []]);
  } finally {
    s.close();
  }
  assert.ok(!(await workLeft()).some((k) => k.startsWith(deadFolder)));
  l.release();
  assert.ok((await live.result()).bytes > 0);
  // The command line, on what is left: nothing.
  const lines: string[] = [];
  assert.equal(await main(['work', 'gc', bucket(), '--json', '--temporal-address', temporal!.address], (x) => lines.push(x), () => {}), 0);
  assert.deepEqual(JSON.parse(lines.join('')), { folders: 0, removed: [], running: [], unknown: [] });
  assert.deepEqual(await workLeft(), []);
});
