/**
 * npm run bench:bulk [-- --json] [--objects N] [--size WxH] [--bpp X] [--in-flight-per-worker K] [--gpu-concurrency C]
 *
 * Objects per minute through the whole pipeline (MinIO -> bulkArchive -> compressImage children
 * -> .dfc in MinIO) with the embedded default model, on private Temporal and MinIO servers, with
 * 1 and then 2 `diffc worker` processes, each pinned to one core (taskset) with one RCC thread
 * and libvips on one thread, so the ratio measures orchestration overhead rather than core
 * count. Then Temporal's overhead per step activity: the same object coded with one step per
 * activity and with one activity for the whole chain, side by side on one worker.
 *
 * Last line (JSON): objects_per_min_1, objects_per_min_2, scaling_efficiency
 * (= per_min_2 / (2 x per_min_1)), per_activity_overhead_ms, and what the workers' /metrics showed
 * while the bulk jobs ran (each worker's health port, scraped every half second; the series seen
 * are printed before it): metrics_scrapes, metrics_scrapes_failed, metrics_sdk_series (temporal_* names),
 * metrics_job_series (per-job diffc_job_* label sets), metrics_bulk_series (diffc_bulk_* label
 * sets), metrics_schedule_to_start_ms (mean activity schedule-to-start, gpu queue),
 * metrics_max_job_step, metrics_bulk_eta_max_s.
 *
 * --mixed: instead, objects of mixed sizes (every 6th one 4x4 times larger) through one worker
 * with two gpu slots, and how idle those slots were: 1 - (gpu activity time summed over every
 * child's history) / (2 x wall time). Barrier batches leave slots idle while a batch's slowest
 * child finishes; a sliding window does not. Last line: gpu_idle_fraction, objects_per_min.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { missingService, privateMinio, privateTemporal, s3EnvOf } from '../test/helpers/dev-services.js';
import { testImage } from '../test/helpers/workflows.js';
import { encodeImage } from '../src/image/io.js';
import { openStore, s3ConfigFromEnv } from '../src/storage/index.js';
import { parseTemporalConfig } from '../src/orchestration/config.js';
import { connectClient, startBulkArchive, startCompressImage } from '../src/orchestration/client.js';
import { MetricsWatch } from './metrics-watch.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { json: { type: 'boolean' }, objects: { type: 'string' }, size: { type: 'string' }, bpp: { type: 'string' }, 'in-flight-per-worker': { type: 'string' }, 'gpu-concurrency': { type: 'string' }, mixed: { type: 'boolean' } } });
const N = Number(values.objects ?? 24);
const [W, H] = (values.size ?? '128x128').split('x').map(Number);
const BPP = Number(values.bpp ?? 0.2);
/** Child workflows in flight per worker: enough that the gpu queue always has work waiting. */
const PER_WORKER = Number(values['in-flight-per-worker'] ?? 2);
/** Step-range activities at once per worker (1: one chain per device, as on a GPU). */
const GPU_CONCURRENCY = values['gpu-concurrency'] ?? '1';
const say = (s: string) => process.stderr.write(`${s}\n`);

for (const s of ['temporal', 'minio'] as const) {
  const why = await missingService(s);
  if (why) {
    say(`bench:bulk needs real services: ${why}`);
    process.exit(1);
  }
}
const cores = availableParallelism();
const haveTaskset = await new Promise<boolean>((r) => spawn('taskset', ['-c', '0', 'true']).on('exit', (c) => r(c === 0)).on('error', () => r(false)));
say(`bench:bulk: ${N} objects of ${W}x${H} at ${BPP} bpp, ${PER_WORKER} in flight per worker; ${cores} cores; workers pinned: ${haveTaskset ? 'taskset, one core each' : 'no (taskset missing)'}`);

const [temporal, minio] = await Promise.all([privateTemporal(), privateMinio()]);
const s3env = s3EnvOf(minio);
Object.assign(process.env, s3env);
const bucket = `s3://${minio.env.S3_BUCKET}`;
const queues = { io: `bench-io-${process.pid}`, gpu: `bench-gpu-${process.pid}` };
const client = await connectClient(parseTemporalConfig({ address: temporal.address, queues }));
const workers: ChildProcess[] = [];
const watch = new MetricsWatch(queues);

function startWorker(core: number): Promise<ChildProcess> {
  // Health port 0: a free one, which the worker logs; its /metrics is scraped while jobs run.
  const args = [join(REPO, 'bin', 'diffc.js'), 'worker', '--queues', 'gpu,io', '--health-port', '0', '--health-host', '127.0.0.1', '--queue-io', queues.io, '--queue-gpu', queues.gpu, '--io-concurrency', '4', '--gpu-concurrency', GPU_CONCURRENCY];
  const cmd = haveTaskset ? 'taskset' : process.execPath;
  const full = haveTaskset ? ['-c', String(core % cores), process.execPath, ...args] : args;
  const p = spawn(cmd, full, {
    env: { ...process.env, ...s3env, TEMPORAL_ADDRESS: temporal.address, DIFFC_RCC_THREADS: '1', VIPS_CONCURRENCY: '1', UV_THREADPOOL_SIZE: '2', DIFFC_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  workers.push(p);
  return new Promise((resolve, reject) => {
    let buf = '';
    let watched = false; // once: a stopped worker's later output must not put it back
    p.stderr!.on('data', (d: Buffer) => {
      buf += d.toString();
      const port = watched ? undefined : /"msg":"health-listening"[^\n]*"port":(\d+)/.exec(buf)?.[1];
      if (port) {
        watch.add(p, Number(port));
        watched = true;
      }
      if (buf.includes('"msg":"worker-ready"')) resolve(p);
      if (buf.length > 1e6) buf = buf.slice(-1e5); // a long run's logs: keep the tail only
    });
    p.once('exit', (c) => reject(new Error(`worker exited (${c}) before ready: ${buf.slice(-2000)}`)));
  });
}

async function stopWorkers(): Promise<void> {
  for (const p of workers) watch.remove(p);
  await Promise.all(workers.splice(0).map((p) => new Promise<void>((r) => {
    if (p.exitCode !== null) return r();
    p.once('exit', () => r());
    p.kill('SIGTERM');
  })));
}

/** Sum of gpu activity run time (started -> completed, server timestamps) over the job's children. */
async function gpuBusySeconds(since: Date): Promise<{ busy: number; children: number }> {
  let busy = 0, children = 0;
  for await (const w of client.workflow.list({ query: `WorkflowType = 'compressImage' AND StartTime >= '${since.toISOString()}'` })) {
    children++;
    const ev = (await client.workflow.getHandle(w.workflowId, w.runId).fetchHistory()).events ?? [];
    const ms = (e: (typeof ev)[number]) => Number(e.eventTime!.seconds) * 1000 + (e.eventTime!.nanos ?? 0) / 1e6;
    const gpuScheduled = new Set(ev.filter((e) => e.activityTaskScheduledEventAttributes?.taskQueue?.name === queues.gpu).map((e) => e.eventId!.toString()));
    const startedAt = new Map<string, number>();
    for (const e of ev) {
      const st = e.activityTaskStartedEventAttributes;
      if (st && gpuScheduled.has(st.scheduledEventId!.toString())) startedAt.set(st.scheduledEventId!.toString(), ms(e));
      const done = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes;
      const id = done?.scheduledEventId?.toString();
      if (id !== undefined && startedAt.has(id)) busy += (ms(e) - startedAt.get(id)!) / 1000;
    }
  }
  return { busy, children };
}

try {
  const store = openStore(bucket, { s3: s3ConfigFromEnv() });
  const big = (i: number) => values.mixed && i % 6 === 0;
  for (let i = 0; i < N; i++) {
    const img = big(i) ? testImage(4 * W, 4 * H, i) : testImage(W, H, i);
    await store.put(`bench/in/${String(i).padStart(4, '0')}.png`, await encodeImage(img, 'png'));
  }
  store.close();

  if (values.mixed) {
    const SLOTS = 2;
    const args = [join(REPO, 'bin', 'diffc.js'), 'worker', '--queues', 'gpu,io', '--health-port=-1', '--queue-io', queues.io, '--queue-gpu', queues.gpu, '--io-concurrency', '4', '--gpu-concurrency', String(SLOTS)];
    const p = spawn(process.execPath, args, { env: { ...process.env, ...s3env, TEMPORAL_ADDRESS: temporal.address, DIFFC_RCC_THREADS: '1', VIPS_CONCURRENCY: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
    workers.push(p);
    await new Promise<void>((resolve, reject) => {
      let buf = '';
      p.stderr!.on('data', (d: Buffer) => { buf += d.toString(); if (buf.includes('"msg":"worker-ready"')) resolve(); });
      p.once('exit', (c) => reject(new Error(`worker exited (${c}): ${buf.slice(-2000)}`)));
    });
    const since = new Date(Date.now() - 1000);
    const t0 = performance.now();
    const h = await startBulkArchive(client, {
      store: bucket, prefix: 'bench/in/', outputPrefix: 'bench/mixed/', bpp: BPP, concurrency: 2 * SLOTS, objectsPerRun: 4 * SLOTS, jobId: 'bench-mixed',
    }, { queues });
    const s = await h.result();
    const secs = (performance.now() - t0) / 1000;
    if (s.ok !== N) throw new Error(`mixed run: ${s.ok} ok, ${s.failed} failed`);
    const { busy, children } = await gpuBusySeconds(since);
    const idle = 1 - busy / (SLOTS * secs);
    say(`mixed sizes: ${N} objects (${Math.ceil(N / 6)} of ${4 * W}x${4 * H}) in ${secs.toFixed(2)} s; ${children} children; gpu slots busy ${busy.toFixed(1)} of ${(SLOTS * secs).toFixed(1)} slot-s -> idle ${(100 * idle).toFixed(1)}%`);
    const result = { objects: N, mixed: true, gpu_slots: SLOTS, runs: s.runs, objects_per_min: +((N / secs) * 60).toFixed(2), gpu_busy_s: +busy.toFixed(2), wall_s: +secs.toFixed(2), gpu_idle_fraction: +idle.toFixed(3) };
    console.log(values.json ? JSON.stringify(result) : JSON.stringify(result, null, 2));
    process.exitCode = 0;
  } else {

  const cpuOf = async (pid: string) => {
    const f = (await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')).split(') ')[1]?.split(' ') ?? [];
    return (Number(f[11] ?? 0) + Number(f[12] ?? 0)) / 100; // utime + stime, in clock ticks of 10 ms
  };
  const servicesCpu = async () => (await cpuOf(temporal.env.TEMPORAL_PID)) + (await cpuOf(minio.env.MINIO_PID));
  const perMin: number[] = [];
  const util: number[] = [], serviceCores: number[] = [];
  for (const count of [1, 2]) {
    await Promise.all(Array.from({ length: count }, (_, i) => startWorker(i)));
    const cpu0 = await servicesCpu();
    let workerCpu0 = 0;
    for (const w of workers) workerCpu0 += await cpuOf(String(w.pid));
    const t0 = performance.now();
    const h = await startBulkArchive(client, {
      store: bucket, prefix: 'bench/in/', outputPrefix: `bench/out${count}/`, bpp: BPP, concurrency: PER_WORKER * count, jobId: `bench${count}`,
    }, { queues });
    const s = await watch.during(() => h.result());
    const secs = (performance.now() - t0) / 1000;
    if (s.ok !== N) throw new Error(`run with ${count} worker(s): ${s.ok} ok, ${s.failed} failed`);
    perMin.push((N / secs) * 60);
    const svc = (await servicesCpu()) - cpu0;
    let workerCpu = -workerCpu0;
    for (const w of workers) workerCpu += await cpuOf(String(w.pid));
    util.push(workerCpu / (count * secs));
    serviceCores.push(svc / secs);
    say(`${count} worker(s): ${N} objects in ${secs.toFixed(2)} s = ${perMin.at(-1)!.toFixed(1)} objects/min; ` +
      `Temporal + MinIO used ${svc.toFixed(1)} CPU-s (${((100 * svc) / secs).toFixed(0)}% of one core) on the same ${cores} cores; ` +
      `the workers ${workerCpu.toFixed(1)} CPU-s (${((100 * workerCpu) / (count * secs)).toFixed(0)}% of their cores)`);
    await stopWorkers();
  }

  // Overhead per step activity: one object, one step per activity vs one activity in all.
  await startWorker(0);
  const timed = async (stepsPerActivity: number, tag: string) => {
    const t0 = performance.now();
    const h = await startCompressImage(client, {
      store: bucket, source: 'bench/in/0000.png', output: `bench/overhead/${tag}.dfc`, bpp: BPP, stepsPerActivity, checkpointEvery: stepsPerActivity,
    }, { queues, workflowId: `bench-overhead-${tag}-${process.pid}` });
    const r = await h.result();
    const hist = await h.fetchHistory();
    const ev = hist.events ?? [];
    const acts = ev.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'encodeSteps').length;
    // Where an activity's time goes, from the server's own timestamps: waiting for a worker to
    // pick it up, running it, and the workflow task that schedules the next one.
    const ms = (e: (typeof ev)[number]) => Number(e.eventTime!.seconds) * 1000 + (e.eventTime!.nanos ?? 0) / 1e6;
    const split = { dispatch: 0, run: 0, decide: 0, n: 0 };
    for (let i = 0; i < ev.length; i++) {
      if (!ev[i].activityTaskScheduledEventAttributes) continue;
      const id = ev[i].eventId!.toString();
      const started = ev.find((e) => e.activityTaskStartedEventAttributes?.scheduledEventId?.toString() === id);
      const done = ev.find((e) => e.activityTaskCompletedEventAttributes?.scheduledEventId?.toString() === id);
      const next = ev.slice(ev.indexOf(done!) + 1).find((e) => e.activityTaskScheduledEventAttributes);
      if (!started || !done || !next) continue;
      split.dispatch += ms(started) - ms(ev[i]);
      split.run += ms(done) - ms(started);
      split.decide += ms(next) - ms(done);
      split.n++;
    }
    return { secs: (performance.now() - t0) / 1000, acts, steps: r.steps, split };
  };
  await timed(1000, 'warm');
  const rounds = 3;
  let many = 0, one = 0, actsMany = 0, actsOne = 0;
  const split = { dispatch: 0, run: 0, decide: 0, n: 0 };
  for (let i = 0; i < rounds; i++) {
    const a = await timed(1, `many${i}`);
    for (const k of ['dispatch', 'run', 'decide', 'n'] as const) split[k] += a.split[k];
    const b = await timed(1000, `one${i}`);
    many += a.secs; one += b.secs; actsMany = a.acts; actsOne = b.acts;
  }
  const overheadMs = ((many - one) / rounds / (actsMany - actsOne)) * 1000;
  say(`overhead: ${actsMany} step activities ${(many / rounds).toFixed(3)} s vs ${actsOne} activity ${(one / rounds).toFixed(3)} s (mean of ${rounds}) -> ${overheadMs.toFixed(1)} ms per activity`);
  say(`per activity (one step each, server timestamps): waiting for a worker ${(split.dispatch / split.n).toFixed(1)} ms, ` +
    `running ${(split.run / split.n).toFixed(1)} ms, completion -> next scheduled ${(split.decide / split.n).toFixed(1)} ms`);
  await stopWorkers();

  for (const line of watch.report()) say(line);
  const result = {
    objects: N, size: `${W}x${H}`, bpp: BPP, pinned: haveTaskset, in_flight_per_worker: PER_WORKER, gpu_concurrency: Number(GPU_CONCURRENCY),
    objects_per_min_1: +perMin[0].toFixed(2), objects_per_min_2: +perMin[1].toFixed(2),
    scaling_efficiency: +(perMin[1] / (2 * perMin[0])).toFixed(3),
    per_activity_overhead_ms: +overheadMs.toFixed(1),
    // Why the ratio is what it is: how busy the pinned workers were, and how much of the machine
    // the co-located Temporal + MinIO took (in cores) during each phase.
    worker_utilization_1: +util[0].toFixed(3), worker_utilization_2: +util[1].toFixed(3),
    service_cores_1: +serviceCores[0].toFixed(3), service_cores_2: +serviceCores[1].toFixed(3),
    ...watch.summary(),
  };
  console.log(values.json ? JSON.stringify(result) : JSON.stringify(result, null, 2));
  }
} finally {
  await stopWorkers();
  await client.connection.close();
  await Promise.all([temporal.stop(), minio.stop()]);
}
