/**
 * npm run bench:io-memory [-- --json] [--jobs 16] [--limit-mb 2048]
 * npm run bench:io-memory -- --cli [--json] [--sizes 4k,8k] [--keep DIR]
 *
 * Default mode: memory of the io side of compressImage on real camera-size photos, in the shipped
 * layout: an io worker (`diffc worker --queues io`) inside a memory cgroup of --limit-mb (the io
 * pod's limit in k8s/base/io-worker.yaml) takes --jobs prepareSource activities of 3840x2160
 * photos at once; nobody polls the gpu queue, so the workflows stop after prepareSource and the
 * io worker's memory is all that is measured. Then, in a fresh worker each, one prepareSource of
 * a 4K and one of an 8K photo: peak RSS (VmHWM) above the idle worker's.
 *
 * --cli: memory of the pixel side through the real CLI code paths, each in a fresh process whose
 * peak RSS (getrusage maxrss) is read as it exits: `diffc compress --steps 1 --recon` and
 * `diffc decompress` of a 4K and an 8K photo with the embedded default model, and loadImage /
 * loadImage + saveImage of the 8K photo as PNG, JPEG and TIFF. Bytes per pixel are of the peak
 * above an idle CLI process (`diffc --help`). The sha256 of each .dfc and decoded PNG is printed,
 * so runs before and after a memory change can be compared byte for byte.
 *
 * Photos: Debian python3-skimage's public-domain photos (scripts/fetch-photos.sh), resized with
 * sharp to 4K/8K and stored as PNG (the largest decode per byte). Needs root for the cgroup
 * (cgroup v1 memory or v2); without one, says so and measures without the limit.
 *
 * Last line (JSON), default mode: jobs, limit_mb, cgroup, oom_kills, worker_alive, prepared,
 * peak_cgroup_mb, peak_rss_4k_mb, peak_rss_8k_mb, idle_rss_mb. --cli: idle_rss_mb and, per size,
 * width, height, mp, compress/decompress peak_rss_mb and bytes_per_px, seconds, dfc_sha256,
 * png_sha256 (recon_equals_decode); per 8K format, load/save peak_rss_mb and bytes_per_px.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, mkdir, mkdtemp, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import sharp from 'sharp';
import { missingService, privateMinio, privateTemporal, s3EnvOf } from '../test/helpers/dev-services.js';
import { openStore, s3ConfigFromEnv } from '../src/storage/index.js';
import { parseTemporalConfig } from '../src/orchestration/config.js';
import { connectClient, startCompressImage } from '../src/orchestration/client.js';
import { CompressImageInput } from '../src/orchestration/types.js';
import { loadModel } from '../src/pipeline/model-context.js';
import { progressQuery } from '../workflows/index.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const say = (s: string) => process.stderr.write(`${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const CHILD_MARK = 'io-memory-child ';

/** Runs `op` and prints its process's peak RSS: 'cli <diffc args>', 'load <file>', 'save <in> <out>'. */
async function child([op, ...args]: string[]): Promise<number> {
  let code = 0;
  // Every operation loads the CLI, so all share the idle process's baseline (`cli --help`).
  const { main } = await import('../src/cli/main.js');
  if (op === 'cli') {
    code = await main(args);
  } else if (op === 'load') {
    const { loadImage } = await import('../src/image/io.js');
    await loadImage(args[0]);
  } else if (op === 'save') {
    const { loadImage, saveImage } = await import('../src/image/io.js');
    await saveImage(await loadImage(args[0]), args[1], { force: true });
  } else {
    say(`io-memory --child: unknown operation ${op}`);
    return 2;
  }
  // getrusage's ru_maxrss (KiB): the process's peak resident set, however short the peak was.
  say(`${CHILD_MARK}${JSON.stringify({ code, maxRssKb: process.resourceUsage().maxRSS })}`);
  return code;
}

/** A fresh node process running `child(args)`: its peak RSS in MiB and wall seconds. */
async function measured(args: string[]): Promise<{ peakMb: number; seconds: number }> {
  const t0 = performance.now();
  const self = fileURLToPath(import.meta.url);
  const r = await promisify(execFile)(process.execPath, ['--import', 'tsx', self, '--child', ...args], { cwd: REPO, maxBuffer: 64 * 2 ** 20 })
    .catch((e: { stderr?: string; message: string }) => { throw new Error(`${args.join(' ')} failed: ${e.stderr?.slice(-2000) ?? e.message}`); });
  const line = r.stderr.split('\n').reverse().find((l) => l.startsWith(CHILD_MARK));
  if (!line) throw new Error(`${args.join(' ')}: no peak RSS reported (${r.stderr.slice(-2000)})`);
  const { code, maxRssKb } = JSON.parse(line.slice(CHILD_MARK.length)) as { code: number; maxRssKb: number };
  if (code !== 0) throw new Error(`${args.join(' ')} exited ${code}: ${r.stderr.slice(-2000)}`);
  return { peakMb: maxRssKb / 1024, seconds: (performance.now() - t0) / 1000 };
}

const SIZES: Readonly<Record<string, readonly [number, number]>> = { '1k': [1920, 1080], '4k': [3840, 2160], '8k': [7680, 4320] };
const sha256 = async (f: string) => createHash('sha256').update(await readFile(f)).digest('hex');
const round = (v: number, d = 1) => +v.toFixed(d);

/** The --cli mode: compress/decompress per size, then 8K load and save per format. */
async function cliMode(sizes: string[], keep: string | undefined) {
  const dir = keep ?? await mkdtemp(join(tmpdir(), 'diffc-io-memory-'));
  await mkdir(dir, { recursive: true });
  const photo = join(REPO, '.cache', 'photos', 'astronaut.png');
  try {
    const idle = await measured(['cli', '--help']);
    const perPx = (peakMb: number, px: number) => round(((peakMb - idle.peakMb) * 2 ** 20) / px, 2);
    say(`idle CLI process: ${idle.peakMb.toFixed(0)} MiB`);
    const bySize: Record<string, unknown>[] = [];
    for (const name of sizes) {
      const size = SIZES[name];
      if (!size) throw new Error(`--sizes: unknown size ${name} (use ${Object.keys(SIZES).join(', ')})`);
      const [w, h] = size, px = w * h;
      const src = join(dir, `${name}.png`), dfc = join(dir, `${name}.dfc`), recon = join(dir, `${name}-recon.png`), dec = join(dir, `${name}-dec.png`);
      await sharp(photo).resize(w, h, { fit: 'fill' }).png().toFile(src);
      const c = await measured(['cli', 'compress', src, '-o', dfc, '--steps', '1', '--recon', recon, '--force', '-q']);
      const d = await measured(['cli', 'decompress', dfc, '-o', dec, '--force', '-q']);
      const [dfcSha, pngSha, reconSha] = await Promise.all([sha256(dfc), sha256(dec), sha256(recon)]);
      say(`${name} ${w}x${h}: compress --steps 1 --recon peak ${c.peakMb.toFixed(0)} MiB (${perPx(c.peakMb, px)} B/px above idle, ${c.seconds.toFixed(1)} s); ` +
        `decompress peak ${d.peakMb.toFixed(0)} MiB (${perPx(d.peakMb, px)} B/px, ${d.seconds.toFixed(1)} s)`);
      bySize.push({
        size: name, width: w, height: h, mp: round(px / 1e6, 2),
        compress_peak_rss_mb: round(c.peakMb), compress_bytes_per_px: perPx(c.peakMb, px), compress_s: round(c.seconds),
        decompress_peak_rss_mb: round(d.peakMb), decompress_bytes_per_px: perPx(d.peakMb, px), decompress_s: round(d.seconds),
        dfc_sha256: dfcSha, png_sha256: pngSha, recon_equals_decode: reconSha === pngSha,
      });
    }
    // Image I/O alone at 8K: decode, and decode + encode, per format (the photo as each format).
    const [w, h] = SIZES['8k'], px = w * h;
    const formats: Record<string, unknown>[] = [];
    for (const [fmt, ext] of [['png', 'png'], ['jpeg', 'jpg'], ['tiff', 'tif']] as const) {
      const src = join(dir, `8k-io.${ext}`), out = join(dir, `8k-io-out.${ext}`);
      await sharp(photo).resize(w, h, { fit: 'fill' }).toFormat(fmt).toFile(src);
      const l = await measured(['load', src]);
      const s = await measured(['save', src, out]);
      say(`8K ${fmt}: load peak ${l.peakMb.toFixed(0)} MiB (${perPx(l.peakMb, px)} B/px), load + save ${s.peakMb.toFixed(0)} MiB (${perPx(s.peakMb, px)} B/px)`);
      formats.push({ format: fmt, load_peak_rss_mb: round(l.peakMb), load_bytes_per_px: perPx(l.peakMb, px), save_peak_rss_mb: round(s.peakMb), save_bytes_per_px: perPx(s.peakMb, px) });
    }
    return { mode: 'cli', model: 'default', idle_rss_mb: round(idle.peakMb), sizes: bySize, io_8k: formats };
  } finally {
    if (!keep) await rm(dir, { recursive: true, force: true });
  }
}

// --child: one measured operation in this (fresh) process, then its peak RSS as the last stderr line.
if (process.argv[2] === '--child') {
  process.exit(await child(process.argv.slice(3)));
}

const { values } = parseArgs({
  options: {
    json: { type: 'boolean' }, jobs: { type: 'string' }, 'limit-mb': { type: 'string' },
    cli: { type: 'boolean' }, sizes: { type: 'string' }, keep: { type: 'string' },
  },
});
if (values.cli) {
  await promisify(execFile)('bash', [join(REPO, 'scripts', 'fetch-photos.sh')]);
  const result = await cliMode((values.sizes ?? '4k,8k').split(','), values.keep);
  console.log(values.json ? JSON.stringify(result) : JSON.stringify(result, null, 2));
  process.exit(0);
}
const JOBS = Number(values.jobs ?? 16);
const LIMIT_MB = Number(values['limit-mb'] ?? 2048);

for (const s of ['temporal', 'minio'] as const) {
  const why = await missingService(s);
  if (why) {
    say(`bench:io-memory needs real services: ${why}`);
    process.exit(1);
  }
}
await promisify(execFile)('bash', [join(REPO, 'scripts', 'fetch-photos.sh')]);

/** A memory cgroup with a hard limit, v1 or v2, or null when this machine gives none. */
async function makeCgroup(limitBytes: number): Promise<{ kind: string; procs: string; peak(): Promise<number>; ooms(): Promise<number>; remove(): Promise<void> } | null> {
  const name = `diffc-io-memory-${process.pid}`;
  const v1 = `/sys/fs/cgroup/memory/${name}`;
  const v2 = `/sys/fs/cgroup/${name}`;
  try {
    await mkdir(v1);
    await writeFile(join(v1, 'memory.limit_in_bytes'), String(limitBytes));
    await writeFile(join(v1, 'memory.memsw.limit_in_bytes'), String(limitBytes)).catch(() => undefined); // no swap escape
    return {
      kind: 'v1',
      procs: join(v1, 'cgroup.procs'),
      peak: async () => Number(await readFile(join(v1, 'memory.max_usage_in_bytes'), 'utf8')),
      ooms: async () => Number(/oom_kill (\d+)/.exec(await readFile(join(v1, 'memory.oom_control'), 'utf8'))?.[1] ?? (await readFile(join(v1, 'memory.failcnt'), 'utf8')).trim()),
      remove: () => rmdir(v1),
    };
  } catch { /* not v1 */ }
  try {
    await access('/sys/fs/cgroup/cgroup.controllers');
    await mkdir(v2);
    await writeFile(join(v2, 'memory.max'), String(limitBytes));
    await writeFile(join(v2, 'memory.swap.max'), '0').catch(() => undefined);
    return {
      kind: 'v2',
      procs: join(v2, 'cgroup.procs'),
      peak: async () => Number(await readFile(join(v2, 'memory.peak'), 'utf8')),
      ooms: async () => Number(/oom_kill (\d+)/.exec(await readFile(join(v2, 'memory.events'), 'utf8'))?.[1] ?? 0),
      remove: () => rmdir(v2),
    };
  } catch {
    return null;
  }
}

const vmHwmMb = async (pid: number) => Number(/VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const vmRssMb = async (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

const [temporal, minio] = await Promise.all([privateTemporal(), privateMinio()]);
const s3env = s3EnvOf(minio);
Object.assign(process.env, s3env);
const bucket = `s3://${minio.env.S3_BUCKET}`;
const queues = { io: `mem-io-${process.pid}`, gpu: `mem-gpu-nobody-${process.pid}` };
const client = await connectClient(parseTemporalConfig({ address: temporal.address, queues }));
const workers: ChildProcess[] = [];

/** An io worker; with `cgroupProcs`, inside that cgroup from its first byte (a shell joins, then execs node). */
function startIoWorker(concurrency: number, cgroupProcs?: string): Promise<ChildProcess> {
  const args = [join(REPO, 'bin', 'diffc.js'), 'worker', '--queues', 'io', '--health-port=-1', '--queue-io', queues.io, '--queue-gpu', queues.gpu, '--io-concurrency', String(concurrency)];
  const [cmd, argv] = cgroupProcs ? ['sh', ['-c', `echo $$ > ${cgroupProcs} && exec "$0" "$@"`, process.execPath, ...args]] : [process.execPath, args];
  const p = spawn(cmd, argv, {
    env: { ...process.env, ...s3env, TEMPORAL_ADDRESS: temporal.address }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  workers.push(p);
  return new Promise((resolve, reject) => {
    let buf = '';
    p.stderr!.on('data', (d: Buffer) => {
      buf = (buf + d.toString()).slice(-20_000);
      if (buf.includes('"msg":"worker-ready"')) resolve(p);
    });
    p.once('exit', (c, sig) => reject(new Error(`io worker exited (${c ?? sig}) before ready: ${buf.slice(-2000)}`)));
  });
}

async function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGKILL');
  await exited;
}

// The job names the model's hash, as bulk children do, so no gpu activity runs before prepareSource.
const acceptsHash = 'modelHash' in (CompressImageInput as unknown as { innerType(): { shape: object } }).innerType().shape;
const hash = Buffer.from((await loadModel('default')).model.info.hash).toString('hex');

/** Starts compressImage for each key and waits until all are past prepareSource (or failed). */
async function prepareAll(keys: string[], tag: string, worker: ChildProcess): Promise<{ prepared: number; failed: number }> {
  const handles = await Promise.all(keys.map((k, i) => startCompressImage(client, {
    store: bucket, source: k, output: `mem/out/${tag}-${i}.dfc`, bpp: 0.05, ...(acceptsHash ? { modelHash: hash } : {}),
  }, { queues, workflowId: `mem-${tag}-${i}-${process.pid}` })));
  const deadline = Date.now() + 600_000;
  let prepared = 0, failed = 0;
  for (;;) {
    prepared = 0;
    failed = 0;
    const dead = () => worker.exitCode !== null || worker.signalCode !== null;
    for (const h of handles) {
      if (dead()) break;
      const d = await h.describe();
      if (d.status.name !== 'RUNNING') failed++;
      // A query needs a live worker; one killed meanwhile (OOM) ends the wait below.
      else if ((await h.query(progressQuery).catch(() => ({ phase: 'source' }))).phase !== 'source') prepared++;
    }
    if (prepared + failed === handles.length || dead() || Date.now() > deadline) break;
    await sleep(500);
  }
  await Promise.all(handles.map((h) => h.terminate('bench done').catch(() => undefined)));
  return { prepared, failed };
}

try {
  const store = openStore(bucket, { s3: s3ConfigFromEnv() });
  const photo = join(REPO, '.cache', 'photos', 'astronaut.png');
  const k4 = 'mem/in/4k.png', k8 = 'mem/in/8k.png';
  await store.put(k4, await sharp(photo).resize(3840, 2160, { fit: 'fill' }).png().toBuffer());
  await store.put(k8, await sharp(photo).resize(7680, 4320, { fit: 'fill' }).png().toBuffer());
  const keys: string[] = [];
  for (let i = 0; i < JOBS; i++) {
    const k = `mem/in/many-${i}.png`;
    // Each a different object (the source's bytes differ), as in an archive.
    await store.put(k, await sharp(photo).resize(3840, 2160, { fit: 'fill' }).modulate({ brightness: 1 + i / 100 }).png().toBuffer());
    keys.push(k);
  }
  store.close();

  // 1. --jobs at once inside the io pod's memory limit.
  const cg = await makeCgroup(LIMIT_MB * 2 ** 20);
  say(cg ? `cgroup ${cg.kind}: ${LIMIT_MB} MiB, no swap` : 'no memory cgroup on this machine (not root, or none mounted): measuring without a limit');
  const w = await startIoWorker(JOBS, cg?.procs);
  const idle = await vmRssMb(w.pid!);
  const t0 = performance.now();
  const r = await prepareAll(keys, 'many', w);
  const secs = (performance.now() - t0) / 1000;
  const alive = w.exitCode === null && w.signalCode === null;
  const peakCg = cg ? (await cg.peak()) / 2 ** 20 : await vmHwmMb(w.pid!);
  const ooms = cg ? await cg.ooms() : 0;
  say(`${JOBS} x 3840x2160 prepareSource at once: ${r.prepared} prepared, ${r.failed} failed in ${secs.toFixed(1)} s; worker ${alive ? 'alive' : `killed (${w.signalCode ?? w.exitCode})`}; peak ${peakCg.toFixed(0)} MiB of ${LIMIT_MB}; OOM kills ${ooms}`);
  await stop(w);
  await cg?.remove().catch(() => undefined);

  // 2. One at a time, fresh workers: the activity's own peak above an idle worker.
  const single = async (key: string, tag: string) => {
    const p = await startIoWorker(1);
    await sleep(500);
    const before = await vmHwmMb(p.pid!);
    await prepareAll([key], tag, p);
    const peak = await vmHwmMb(p.pid!);
    await stop(p);
    return { peak, delta: peak - before };
  };
  const s4 = await single(k4, 'one4k');
  const s8 = await single(k8, 'one8k');
  say(`one prepareSource: 4K peak RSS ${s4.peak.toFixed(0)} MiB (+${s4.delta.toFixed(0)} over idle), 8K ${s8.peak.toFixed(0)} MiB (+${s8.delta.toFixed(0)})`);

  const result = {
    jobs: JOBS, limit_mb: LIMIT_MB, cgroup: cg?.kind ?? null, oom_kills: ooms, worker_alive: alive, prepared: r.prepared, failed: r.failed,
    peak_cgroup_mb: +peakCg.toFixed(1), idle_rss_mb: +idle.toFixed(1),
    peak_rss_4k_mb: +s4.peak.toFixed(1), peak_rss_4k_delta_mb: +s4.delta.toFixed(1), peak_rss_8k_mb: +s8.peak.toFixed(1), peak_rss_8k_delta_mb: +s8.delta.toFixed(1),
  };
  console.log(values.json ? JSON.stringify(result) : JSON.stringify(result, null, 2));
} finally {
  for (const p of workers) await stop(p);
  await client.connection.close();
  await Promise.all([temporal.stop(), minio.stop()]);
}
