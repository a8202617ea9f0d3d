/**
 * Worker Versioning (Worker Deployments) on the real Temporal dev server: a compressImage run
 * started on build A stays on A (PINNED) after build B becomes current, while new runs go to B,
 * and a build that is not current takes no new workflow. A pinned run's queued gpu task shows in
 * the gpu queue's own backlog (what the manifests' KEDA trigger reads; the per-version stats of
 * server 1.29.1 report 0, which is logged), and `diffc worker-deployment set-current` is refused
 * while the new build has not polled every task queue of the current one. Workers run in this process with injected
 * activity wrappers that record which build ran what (the real activities underneath).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Context } from '@temporalio/activity';
import type { Client, WorkflowHandle } from '@temporalio/client';
import proto from '@temporalio/proto';
import { needs, privateTemporal, testQueues, type Temporal } from '../helpers/dev-services.js';
import { testImage } from '../helpers/workflows.js';
import { saveImage } from '../../src/image/io.js';
import { main } from '../../src/cli/main.js';
import { createWorkers, type DiffcWorkers, type QueueRole } from '../../src/orchestration/worker.js';
import { parseTemporalConfig, type TemporalConfig } from '../../src/orchestration/config.js';
import { connectClient, startCompressImage } from '../../src/orchestration/client.js';
import { describeDeployment, describeVersion, setCurrentVersion } from '../../src/cli/worker-deployment.js';
import * as activities from '../../activities/index.js';

const { temporal } = proto;
const { missing, opts } = await needs('temporal');
const DEPLOYMENT = `diffc-test-${process.pid}`;

let dir = '';
let server: Temporal | undefined;
let client: Client | undefined;
let cfg: TemporalConfig;
let store = '';
const running: { w: DiffcWorkers; done: Promise<void> }[] = [];

/** Which build ran which activity for which workflow. */
const ran: { build: string; activity: string; workflowId: string }[] = [];
/** encodeSteps calls of build A wait here (heartbeating) until released. */
let releaseA: () => void = () => {};
const gateA = new Promise<void>((r) => { releaseA = r; });
let gatedA: () => void = () => {};
const aIsGated = new Promise<void>((r) => { gatedA = r; });

function recording(build: string, gate?: Promise<void>): typeof activities {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    if (typeof fn !== 'function') {
      wrapped[name] = fn;
      continue;
    }
    wrapped[name] = async (...args: unknown[]) => {
      ran.push({ build, activity: name, workflowId: Context.current().info.workflowExecution?.workflowId ?? '?' });
      if (gate && name === 'encodeSteps') {
        gatedA();
        let open = false;
        void gate.then(() => { open = true; });
        while (!open) {
          Context.current().heartbeat();
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      return (fn as (...a: unknown[]) => Promise<unknown>)(...args);
    };
  }
  return wrapped as typeof activities;
}

async function startBuild(build: string, roles: QueueRole[], gate?: Promise<void>): Promise<DiffcWorkers> {
  const w = await createWorkers(cfg, { roles, deployment: { deploymentName: DEPLOYMENT, buildId: build }, activities: recording(build, gate), shutdownGraceTime: '1 minute' });
  const done = w.run().catch((e: unknown) => {
    console.error(`workers of build ${build} failed:`, e);
    throw e;
  });
  running.push({ w, done });
  return w;
}

before(async () => {
  if (missing) {
    if (opts.skip) return;
    throw new Error(missing);
  }
  dir = await mkdtemp(join(tmpdir(), 'diffc-versioning-'));
  server = await privateTemporal();
  cfg = parseTemporalConfig({ address: server.address, queues: testQueues('versioning') });
  client = await connectClient(cfg);
  const storeDir = join(dir, 'store');
  await mkdir(storeDir, { recursive: true });
  await saveImage(testImage(), join(storeDir, 'in.png'));
  store = pathToFileURL(storeDir).href;
});

after(async () => {
  releaseA();
  for (const r of running) r.w.shutdown();
  await Promise.allSettled(running.map((r) => r.done));
  await client?.connection.close();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Polls until f() is truthy (server state is eventually consistent); fails after `seconds`. */
async function until<T>(what: string, f: () => Promise<T>, seconds = 60): Promise<NonNullable<T>> {
  const end = Date.now() + seconds * 1000;
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const compress = (id: string, output: string) => startCompressImage(client!, {
  store, source: 'in.png', output, steps: 6, stepsPerActivity: 2, checkpointEvery: 1, seed: 7,
}, { queues: cfg.queues, workflowId: `${id}-${process.pid}` });

/** The build ids of every completed workflow task in the history, and the behaviour each reported. */
async function workflowTaskBuilds(h: WorkflowHandle): Promise<{ builds: string[]; behaviours: string[] }> {
  const events = (await h.fetchHistory()).events ?? [];
  const done = events.map((e) => e.workflowTaskCompletedEventAttributes).filter((a) => a != null);
  return {
    builds: done.map((a) => a.deploymentVersion?.buildId ?? '(none)'),
    behaviours: done.map((a) => temporal.api.enums.v1.VersioningBehavior[a.versioningBehavior ?? 0]),
  };
}

async function versioningInfo(h: WorkflowHandle): Promise<{ behavior: string; buildId: string | undefined }> {
  const info = (await h.describe()).raw.workflowExecutionInfo?.versioningInfo;
  return { behavior: temporal.api.enums.v1.VersioningBehavior[info?.behavior ?? 0], buildId: info?.deploymentVersion?.buildId ?? undefined };
}

const cli = async (...args: string[]) => {
  const out: string[] = [], err: string[] = [];
  const code = await main(['worker-deployment', ...args, '--temporal-address', server!.address, '--deployment-name', DEPLOYMENT], (s) => out.push(s), (s) => err.push(s));
  return { code, out: out.join('\n'), err: err.join('\n') };
};

test('a pinned compressImage stays on build A after B becomes current; new runs go to B; a build that is not current takes none', { ...opts, timeout: 540_000 }, async () => {
  // Build A: io (workflows + io activities) and gpu, with A's encodeSteps held at the gate.
  await startBuild('A', ['io']);
  const gpuA = await startBuild('A', ['gpu'], gateA);
  await until('build A polling', async () => (await describeVersion(client!, DEPLOYMENT, 'A')).taskQueues.length >= 3);
  const setA = await cli('set-current', '--build-id', 'A', '--json');
  assert.equal(setA.code, 0, setA.err);
  assert.equal((JSON.parse(setA.out) as { currentBuildId: string }).currentBuildId, 'A');

  const pinned = await compress('pinned', 'out/pinned.dfc');
  await aIsGated;
  assert.deepEqual(await versioningInfo(pinned), { behavior: 'VERSIONING_BEHAVIOR_PINNED', buildId: 'A' });

  // Build B's io workers alone: setting B current is refused, since B has not polled the gpu queue
  // that the current version A polls (a B that cannot run step ranges must not take new work).
  await startBuild('B', ['io']);
  await until('build B io polling', async () => (await describeVersion(client!, DEPLOYMENT, 'B')).taskQueues.length >= 2);
  const refused = await cli('set-current', '--build-id', 'B');
  assert.equal(refused.code, 1, `set-current B without B's gpu pollers: ${refused.out}`);
  assert.match(refused.err, /missing active task queues/, refused.err);
  assert.equal((await describeDeployment(client!, DEPLOYMENT)).currentBuildId, 'A');

  await startBuild('B', ['gpu']);
  await until('build B gpu polling', async () => (await describeVersion(client!, DEPLOYMENT, 'B')).taskQueues.some((q) => q.name === cfg.queues.gpu));
  // Build C polls everything but is never made current.
  await startBuild('C', ['io']);
  await startBuild('C', ['gpu']);
  await until('build C polling', async () => (await describeVersion(client!, DEPLOYMENT, 'C')).taskQueues.length >= 3);
  await setCurrentVersion(client!, DEPLOYMENT, 'B');
  const d = await describeDeployment(client!, DEPLOYMENT);
  assert.equal(d.currentBuildId, 'B');

  // New runs go to the current build B (end to end, while A's run is still held), none to C.
  const fresh = [await compress('fresh-1', 'out/fresh-1.dfc'), await compress('fresh-2', 'out/fresh-2.dfc')];
  for (const h of fresh) {
    const r = await h.result();
    assert.ok(r.bytes > 0);
    assert.deepEqual(await versioningInfo(h), { behavior: 'VERSIONING_BEHAVIOR_PINNED', buildId: 'B' });
    const { builds } = await workflowTaskBuilds(h);
    assert.deepEqual([...new Set(builds)], ['B'], `${h.workflowId}: workflow tasks by ${builds}`);
    const byBuild = new Set(ran.filter((x) => x.workflowId === h.workflowId).map((x) => x.build));
    assert.deepEqual([...byBuild], ['B'], `${h.workflowId}: activities by ${[...byBuild]}`);
  }
  assert.deepEqual(ran.filter((x) => x.build === 'C'), [], 'build C (not current) ran nothing');

  // A is draining: its pinned run still holds work. With A's gpu worker gone (as when KEDA has no
  // Job of A running), A's next step range waits in A's own gpu backlog, which is what the
  // per-version scaler of A reads; B's backlog does not show it.
  await until('A draining', async () => (await describeDeployment(client!, DEPLOYMENT)).versions.find((v) => v.buildId === 'A')?.status === 'DRAINING');
  gpuA.shutdown();
  releaseA();
  await running.find((r) => r.w === gpuA)!.done;
  const backlogOf = async (build: string) => (await describeVersion(client!, DEPLOYMENT, build)).taskQueues
    .filter((q) => q.name === cfg.queues.gpu && q.type === 'activity').reduce((n, q) => n + q.backlog, 0);
  // Server 1.29.1 (CLI 1.5.1): the per-version stats leave a DRAINING version's pinned task out
  // (A reports 0); the task queue's own stats (DescribeTaskQueue, KEDA's unversioned mode) count it.
  const queueBacklog = async () => Number((await client!.workflowService.describeTaskQueue({
    namespace: cfg.namespace, taskQueue: { name: cfg.queues.gpu, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY, reportStats: true,
  })).stats?.approximateBacklogCount ?? 0);
  await until("A's pinned step range in the gpu queue's backlog", async () => (await queueBacklog()) >= 1, 120);
  console.error(`# per-version gpu backlog while A's pinned step range waits: A ${await backlogOf('A')}, B ${await backlogOf('B')}; whole queue ${await queueBacklog()}`);
  assert.equal(await backlogOf('B'), 0, "B's gpu backlog does not count A's pinned task");
  assert.equal(ran.filter((x) => x.workflowId === pinned.workflowId && x.build !== 'A').length, 0, 'no other build took the pinned run');

  // A's gpu worker is back (KEDA's Job for A): the pinned run finishes on A.
  await startBuild('A', ['gpu']);
  const result = await pinned.result();
  assert.ok(result.bytes > 0);
  await access(join(new URL(store).pathname, 'out', 'pinned.dfc'));
  const { builds, behaviours } = await workflowTaskBuilds(pinned);
  assert.deepEqual([...new Set(builds)], ['A'], `pinned run: workflow tasks by ${builds}`);
  assert.deepEqual([...new Set(behaviours)], ['VERSIONING_BEHAVIOR_PINNED']);
  assert.deepEqual([...new Set(ran.filter((x) => x.workflowId === pinned.workflowId).map((x) => x.build))], ['A']);
  assert.ok(ran.filter((x) => x.workflowId === pinned.workflowId && x.activity === 'encodeSteps').length >= 3, 'every step range ran (on A)');
  assert.deepEqual(ran.filter((x) => x.build === 'C'), [], 'build C ran nothing');

  // Nor does the current version's: KEDA's deployment-version mode (workerDeploymentName +
  // workerDeploymentBuildId) would read 0 on this server and never start a gpu Job, so the
  // manifests scale gpu on the queue's own backlog (logged here, not asserted: a later server
  // may fill these stats in).
  // With every gpu worker stopped (KEDA at zero Jobs), a new run's first gpu task waits.
  const gpus = running.filter((r) => r.w.workers.has('gpu'));
  for (const r of gpus) r.w.shutdown();
  await Promise.all(gpus.map((r) => r.done));
  const queued = await compress('queued', 'out/queued.dfc');
  await until("the queued gpu task in the gpu queue's backlog", async () => (await queueBacklog()) >= 1, 120);
  console.error(`# per-version gpu backlog with a current-version task queued: B ${await backlogOf('B')}; whole queue ${await queueBacklog()}`);
  await startBuild('B', ['gpu']);
  assert.ok((await queued.result()).bytes > 0);

  const described = await cli('describe', '--build-id', 'A', '--json');
  assert.equal(described.code, 0, described.err);
  const report = JSON.parse(described.out) as { currentBuildId: string; versions: { buildId: string; status: string }[] };
  assert.equal(report.currentBuildId, 'B');
  assert.deepEqual(report.versions.map((v) => v.buildId).sort(), ['A', 'B', 'C']);
});
