/**
 * The cluster entry points as a person runs them: `diffc worker` (a child process, with its
 * health and metrics endpoints), `diffc submit` for one object, a prefix and a decompress, all
 * against a private Temporal dev server and local (file://) storage.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { needs, privateTemporal, testQueues, type Temporal } from '../helpers/dev-services.js';
import { testImage } from '../helpers/workflows.js';
import { saveImage } from '../../src/image/io.js';
import { openStore } from '../../src/storage/index.js';
import { readBulkManifest } from '../../src/orchestration/bulk-manifest.js';
import type { Outcome } from '../../src/orchestration/bulk-types.js';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const DIFFC = join(REPO, 'bin', 'diffc.js');
const { missing, opts } = await needs('temporal');

let dir = '';
let server: Temporal | undefined;
let worker: ChildProcess | undefined;
let healthPort = 0;
let env: NodeJS.ProcessEnv = {};

before(async () => {
  if (missing) {
    if (opts.skip) return;
    throw new Error(missing);
  }
  dir = await mkdtemp(join(tmpdir(), 'diffc-cli-wf-'));
  server = await privateTemporal();
  const q = testQueues('cli');
  env = { ...process.env, TEMPORAL_ADDRESS: server.address, DIFFC_QUEUE_IO: q.io, DIFFC_QUEUE_GPU: q.gpu };
  worker = spawn(process.execPath, [DIFFC, 'worker', '--health-port', '0', '--health-host', '127.0.0.1'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let buf = '';
    worker!.stderr!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /\{[^\n]*"msg":"health-listening"[^\n]*\}/.exec(buf);
      if (m) healthPort = (JSON.parse(m[0]) as { port: number }).port;
      if (buf.includes('"msg":"worker-ready"')) resolve();
    });
    worker!.once('exit', (c) => reject(new Error(`diffc worker exited (${c}): ${buf}`)));
  });
});

after(async () => {
  if (worker && worker.exitCode === null) {
    const exited = new Promise((r) => worker!.once('exit', r));
    worker.kill('SIGTERM');
    await exited;
  }
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const submit = (...args: string[]) => run(process.execPath, [DIFFC, 'submit', ...args], { env, timeout: 120_000 });

test('diffc worker: /healthz, /readyz and /metrics answer; unknown paths 404', opts, async () => {
  const get = (p: string) => fetch(`http://127.0.0.1:${healthPort}${p}`);
  assert.equal((await get('/healthz')).status, 200);
  assert.equal((await get('/readyz')).status, 200);
  const metrics = await (await get('/metrics')).text();
  for (const name of ['diffc_steps_total', 'diffc_payload_bits_total', 'diffc_activities_in_flight', 'diffc_checkpoint_age_seconds', 'diffc_rcc_backend_info']) {
    assert.match(metrics, new RegExp(`^${name}(\\{[^}]*\\})? `, 'm'), `${name} missing from /metrics`);
  }
  assert.match(metrics, /diffc_rcc_backend_info\{backend="(cpu|cuda|ts)"\} 1/);
  assert.equal((await get('/nope')).status, 404);
});

test('diffc submit: one object (--json), then its decompress; the output equals diffc compress', opts, async () => {
  const photos = join(dir, 'one');
  await mkdir(photos, { recursive: true });
  await saveImage(testImage(48, 40, 2), join(photos, 'a.png'));
  const { stdout } = await submit(join(photos, 'a.png'), '--bpp', '1', '--seed', '5', '--json');
  const r = JSON.parse(stdout.trim().split('\n').at(-1)!) as { workflowId: string; output: string; bytes: number };
  assert.equal(r.output, 'a.png.dfc');
  await run(process.execPath, [DIFFC, 'compress', join(photos, 'a.png'), '-o', join(dir, 'cli.dfc'), '--bpp', '1', '--seed', '5', '-q']);
  assert.ok((await readFile(join(photos, 'a.png.dfc'))).equals(await readFile(join(dir, 'cli.dfc'))));
  const d = await submit('--decompress', join(photos, 'a.png.dfc'), '-o', join(photos, 'a.dec.png'), '-q');
  assert.match(d.stdout, /^decompress-/m, 'prints the workflow id');
  assert.ok((await readFile(join(photos, 'a.dec.png'))).length > 0);
  // Metrics moved: this worker coded the steps.
  const metrics = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
  assert.ok(Number(/^diffc_steps_total (\d+)/m.exec(metrics)![1]) > 0);
});

test('diffc submit --prefix: every image under the folder, manifest written; bad usage exits 2 with the reason', opts, async () => {
  const photos = join(dir, 'many', 'in');
  await mkdir(photos, { recursive: true });
  for (let i = 0; i < 5; i++) await saveImage(testImage(24, 16, i), join(photos, `p${i}.png`));
  const out = join(dir, 'many', 'out');
  const { stdout, stderr } = await submit('--prefix', `${photos}/`, '--output-prefix', `${out}/`, '--steps', '2', '--job-id', 'cli-bulk', '--json');
  const summary = JSON.parse(stdout.trim().split('\n').at(-1)!) as { ok: number; manifest: string };
  assert.equal(summary.ok, 5, stderr);
  assert.deepEqual((await readdir(out)).filter((f) => f.endsWith('.dfc') && !f.startsWith('.')).sort(), [0, 1, 2, 3, 4].map((i) => `p${i}.png.dfc`));
  const manifest: Outcome[] = [];
  for await (const o of readBulkManifest(openStore(`file://${join(dir, 'many')}`), summary.manifest)) manifest.push(o);
  assert.deepEqual(manifest.map((o) => o.status), ['ok', 'ok', 'ok', 'ok', 'ok']);
  await assert.rejects(submit('--prefix', `${photos}/`), (e: { code?: number; stderr?: string }) => e.code === 2 && /output-prefix/.test(e.stderr ?? ''));
  await assert.rejects(submit(join(photos, 'p0.png'), '--bpp', '1', '--steps', '2'), (e: { code?: number }) => e.code === 2);
});
