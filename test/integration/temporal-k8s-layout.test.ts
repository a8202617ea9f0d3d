/**
 * The shipped Kubernetes layout, as processes: a gpu worker whose model cache holds a bundle
 * model (not the built-in default) and an io worker with an empty model cache
 * (k8s/base/io-worker.yaml mounts none), against real Temporal and MinIO. A bulk job compresses
 * a prefix; the rerun, and a resubmit of one object, find the .dfc files there and report them
 * skipped — the io-side skip check needs no model.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { cp, mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { needsAll, privateMinio, privateTemporal, s3EnvOf, testQueues, type Minio, type Temporal } from '../helpers/dev-services.js';
import { testImage } from '../helpers/workflows.js';
import { encodeImage } from '../../src/image/io.js';
import { openStore, s3ConfigFromEnv, type ObjectStore } from '../../src/storage/index.js';
import { readDfc } from '../../src/codec/format/index.js';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const DIFFC = join(REPO, 'bin', 'diffc.js');
const MODEL = 'test-sd15';
const { missing, opts } = await needsAll('temporal', 'minio');

let dir = '';
let temporal: Temporal | undefined;
let minio: Minio | undefined;
let store: ObjectStore | undefined;
const workers: ChildProcess[] = [];
let env: NodeJS.ProcessEnv = {};

function startWorker(queues: string, modelsDir: string, extra: string[] = []): Promise<ChildProcess> {
  const w = spawn(process.execPath, [DIFFC, 'worker', '--queues', queues, '--health-port=-1', ...extra], {
    env: { ...env, DIFFC_MODELS: modelsDir }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  workers.push(w);
  return new Promise((resolve, reject) => {
    let buf = '';
    w.stderr!.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('"msg":"worker-ready"')) resolve(w);
    });
    w.once('exit', (c) => reject(new Error(`diffc worker (${queues}) exited (${c}): ${buf.slice(-2000)}`)));
  });
}

before(async () => {
  if (missing) {
    if (opts.skip) return;
    throw new Error(missing);
  }
  dir = await mkdtemp(join(tmpdir(), 'diffc-k8s-layout-'));
  [temporal, minio] = await Promise.all([privateTemporal(), privateMinio()]);
  const q = testQueues('layout');
  env = { ...process.env, ...s3EnvOf(minio), TEMPORAL_ADDRESS: temporal.address, DIFFC_QUEUE_IO: q.io, DIFFC_QUEUE_GPU: q.gpu };
  const gpuModels = join(dir, 'gpu-models'), ioModels = join(dir, 'io-models');
  await cp(join(REPO, 'models', 'test', 'sd15'), join(gpuModels, MODEL), { recursive: true });
  await mkdir(ioModels, { recursive: true });
  await Promise.all([startWorker('gpu', gpuModels, ['--models', MODEL]), startWorker('io', ioModels)]);
  store = openStore(`s3://${minio.env.S3_BUCKET}`, { s3: s3ConfigFromEnv(s3EnvOf(minio)) });
});

after(async () => {
  for (const w of workers) {
    if (w.exitCode === null) {
      const exited = new Promise((r) => w.once('exit', r));
      w.kill('SIGTERM');
      await exited;
    }
  }
  store?.close();
  await Promise.all([temporal?.stop(), minio?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

const submit = (...args: string[]) => run(process.execPath, [DIFFC, 'submit', ...args], { env, timeout: 300_000 });
const lastJson = <T>(stdout: string): T => JSON.parse(stdout.trim().split('\n').at(-1)!) as T;

test('io worker without a model cache: a rerun over existing .dfc files of a bundle model skips them and succeeds', opts, async () => {
  const bucket = `s3://${minio!.env.S3_BUCKET}`;
  for (let i = 0; i < 3; i++) {
    await store!.put(`layout/in/p${i}.png`, await encodeImage(testImage(64, 48, i), 'png'));
  }
  // The io side really has no model: loading it there fails as it would in the io pod.
  await assert.rejects(run(process.execPath, [DIFFC, 'models', 'verify', MODEL], { env: { ...env, DIFFC_MODELS: join(dir, 'io-models') } }));

  const bulk = (jobId: string) => submit('--prefix', `${bucket}/layout/in/`, '--output-prefix', `${bucket}/layout/out/`, '--model', MODEL, '--steps', '2', '--job-id', jobId, '--json');
  type Summary = { ok: number; skipped: number; failed: number; deferred: number; manifest: string };
  const first = lastJson<Summary>((await bulk('layout-1')).stdout);
  assert.deepEqual([first.ok, first.skipped, first.failed], [3, 0, 0], JSON.stringify(first));
  const dfc = readDfc(await store!.get('layout/out/p0.png.dfc'));
  assert.equal(dfc.header.model.id, MODEL);

  const rerun = lastJson<Summary>((await bulk('layout-2')).stdout);
  assert.deepEqual([rerun.ok, rerun.skipped, rerun.failed], [0, 3, 0], JSON.stringify(rerun));

  // One object resubmitted on its own: prepareSource (io) judges the existing .dfc.
  const one = lastJson<{ skipped?: boolean; output: string }>((await submit(`${bucket}/layout/in/p1.png`, '-o', `${bucket}/layout/out/p1.png.dfc`, '--model', MODEL, '--steps', '2', '--json')).stdout);
  assert.equal(one.skipped, true, JSON.stringify(one));
});
