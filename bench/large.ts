/**
 * npm run bench:large -- [--json] [--sizes 1,4,16,36] [--models default,sd15,sdxl,flux-dev]
 *   [--sizes-for MODEL=1,4 ...] [--bpp 0.05] [--photo PATH] [--chunk-bits B] [--real all|none|Kite,...]
 *   [--real-models default,...] [--seam-photo PATH] [--no-seam] [--timeout-min 120] [--keep]
 *
 * Large photos through every model (issue 11): for each model and size (megapixels; 3:2 frames
 * 1224x816 * sqrt(MP), so 1224x816, 2448x1632, 4896x3264, 7344x4896), a real photo (--photo,
 * default the skimage astronaut) centre-cropped to 3:2 and upscaled with sharp (lanczos3), plus
 * real 2560x1600 photographs at native size (KDE wallpapers, scripts/fetch-large-photos.sh).
 *
 * Each (model, photo) runs in its own child process, so its peak RSS (VmHWM) is that run's
 * alone. The child runs the CLI's own verbs in process: `diffc compress --bpp X --recon R`, then
 * `diffc decompress` (compressCommand / decompressCommand, so the same pipeline functions), and
 * reads VmHWM after each, before loading anything to compare. Then it checks the decoded PNG
 * against the encoder's reconstruction byte for byte (and pixel for pixel), and measures PSNR
 * and, where the predictor is tiled, the seam metric (src/eval/seams.ts).
 *
 *   encode_s        wall time of the compress verb (load, VAE encode, chain, .dfc write, and
 *                   writing the encoder's reconstruction the determinism check needs)
 *   chain_encode_s  the CLI's own encode_s: the coding loop alone
 *   decode_s        wall time of the decompress verb (read, chain, reconstruction, PNG write)
 *   peak_rss_mb     VmHWM of the child after both verbs
 *
 * The seam metric is measured for the default model at --bpp on a 3840x2160 photo (--seam-photo,
 * default the Kite wallpaper, else --photo, upscaled to cover 16:9).
 *
 * Last stdout line (with --json): mp, encode_s, decode_s, peak_rss_mb, bpp (one entry per size,
 * default model), seam_ratio, and per-model tables, psnr, per-MP ratios and the real-photo rows.
 * Progress goes to stderr.
 */
import { spawn, execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { z } from 'zod';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const say = (s: string) => process.stderr.write(`${s}\n`);

// ---------------------------------------------------------------------------------------------
// Child: one (model, photo) run.

const ChildSpec = z.object({
  model: z.string(),
  input: z.string(),
  work: z.string(),
  bpp: z.number().positive(),
  chunkBits: z.number().int().min(1).max(24).optional(),
  seam: z.boolean(),
  label: z.string(),
});
type ChildSpec = z.infer<typeof ChildSpec>;

/** Peak resident set so far, MB (VmHWM; resourceUsage's maxRSS where /proc is missing). */
async function peakRssMb(): Promise<number> {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(await readFile('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch { /* not Linux */ }
  return process.resourceUsage().maxRSS / 1024;
}

/** Runs a CLI verb in process; its --json object, or throws with what it printed. */
async function verb(run: (argv: string[], out: (s: string) => unknown, err: (s: string) => unknown) => Promise<number>, argv: string[], label: string): Promise<Record<string, unknown>> {
  let printed = '';
  const code = await run(argv, (s) => { printed += s; }, (s) => process.stderr.write(`${label}${s}\n`));
  if (code !== 0) throw new Error(`${label}exit ${code}: ${printed}`);
  return JSON.parse(printed) as Record<string, unknown>;
}

async function child(spec: ChildSpec): Promise<Record<string, unknown>> {
  const { compressCommand } = await import('../src/cli/compress.js');
  const { decompressCommand } = await import('../src/cli/decompress.js');
  const dfc = join(spec.work, 'out.dfc'), recon = join(spec.work, 'recon.png'), dec = join(spec.work, 'decoded.png');
  const rssStart = await peakRssMb();
  const label = `[${spec.label}] `;

  // CPU seconds (all threads) as well as wall time: on shared cores wall time depends on the neighbours.
  const cpuS = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const c = await verb(compressCommand, [
    spec.input, '-o', dfc, '--model', spec.model, '--bpp', String(spec.bpp), '--recon', recon, '--json', '--force',
    ...(spec.chunkBits ? ['--chunk-bits', String(spec.chunkBits)] : []),
  ], label);
  const encodeS = (performance.now() - t0) / 1000;
  const cpu1 = process.cpuUsage();
  const rssEncode = await peakRssMb();

  const t1 = performance.now();
  await verb(decompressCommand, [dfc, '-o', dec, '--model', spec.model, '--json', '--force'], label);
  const decodeS = (performance.now() - t1) / 1000;
  const decodeCpuS = cpuS(process.cpuUsage(cpu1)), encodeCpuS = cpuS(process.cpuUsage(cpu0)) - decodeCpuS;
  const rssAll = await peakRssMb();

  // Everything below loads full images to compare; peak RSS was read above.
  const { loadImage } = await import('../src/image/io.js');
  const { psnr } = await import('../src/eval/metrics.js');
  const [reconBytes, decBytes] = await Promise.all([readFile(recon), readFile(dec)]);
  const sameFile = Buffer.compare(reconBytes, decBytes) === 0;
  const original = await loadImage(spec.input);
  const r = await loadImage(recon);
  let samePixels = sameFile;
  if (!sameFile) {
    const d = await loadImage(dec);
    samePixels = d.width === r.width && d.height === r.height && Buffer.compare(Buffer.from(d.data.buffer), Buffer.from(r.data.buffer)) === 0;
  }
  const row: Record<string, unknown> = {
    width: original.width, height: original.height, mp: +((original.width * original.height) / 1e6).toFixed(3),
    bytes: (await stat(dfc)).size, bpp: +(c.bpp as number).toFixed(5), steps: c.steps,
    encode_s: +encodeS.toFixed(3), chain_encode_s: c.encode_s, decode_s: +decodeS.toFixed(3),
    encode_cpu_s: +encodeCpuS.toFixed(3), decode_cpu_s: +decodeCpuS.toFixed(3),
    peak_rss_encode_mb: Math.round(rssEncode), peak_rss_mb: Math.round(rssAll), start_rss_mb: Math.round(rssStart),
    psnr: +psnr(original, r).toFixed(3), identical: sameFile && samePixels, identical_file: sameFile, identical_pixels: samePixels,
    backend: c.backend, model_id: c.model,
  };
  if (spec.seam) Object.assign(row, await seamOf(spec.model, original, r));
  return row;
}

/** The seam metric over the predictor's own tile grid (null where the predictor is one tile). */
async function seamOf(model: string, original: import('../src/image/types.js').RgbImage, recon: import('../src/image/types.js').RgbImage): Promise<Record<string, unknown>> {
  const { loadModel } = await import('../src/pipeline/model-context.js');
  const { seamEdgesOf, seamRatio, SeamError } = await import('../src/eval/seams.js');
  const lm = await loadModel(model);
  try {
    const m = lm.model.info.sizeMultiple;
    const W = Math.ceil(original.width / m) * m, H = Math.ceil(original.height / m) * m;
    const p = await lm.model.predictor(W, H);
    const grid = (p as { grid?: import('../src/codec/tiling/grid.js').TileGrid }).grid;
    if (!grid) return { seam_ratio: null, tiles: 1 };
    try {
      const s = seamRatio(original, recon, seamEdgesOf(grid, lm.model.info.downsample));
      return {
        tiles: grid.tiles.length, tile_px: `${grid.cols.size * lm.model.info.downsample}x${grid.rows.size * lm.model.info.downsample}`, seam_ratio: +s.ratio.toFixed(4),
        boundary_mse: s.boundaryMse, interior_mse: s.interiorMse, boundary_share: +(s.boundaryPixels / (s.boundaryPixels + s.interiorPixels)).toFixed(4),
      };
    } catch (e) {
      if (e instanceof SeamError) return { seam_ratio: null, tiles: grid.tiles.length, seam_note: e.message };
      throw e;
    }
  } finally {
    await lm.model.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Parent.

const TINY = ['sd15', 'sd21', 'sdxl', 'flux-dev'];
/** 'default', a bundle dir, or a tiny export's short name (models/test/<name>). */
const modelPath = (m: string) => (TINY.includes(m) && existsSync(join(REPO, 'models/test', m)) ? join(REPO, 'models/test', m) : m === 'default' ? m : resolve(m));
const modelName = (m: string) => (m === 'default' ? 'default' : basename(m));

/** A 3:2 frame of about `mp` megapixels on a multiple of 8: 1224x816 * sqrt(mp). */
function frameFor(mp: number): { width: number; height: number } {
  const k = Math.sqrt(mp);
  return { width: 8 * Math.round(153 * k), height: 8 * Math.round(102 * k) };
}

/** The photo centre-cropped to the target's aspect and resized to it, as a PNG (cached by name). */
async function makePhoto(src: string, width: number, height: number, out: string): Promise<string> {
  if (existsSync(out)) return out;
  const sharp = (await import('sharp')).default;
  sharp.cache(false);
  await sharp(src, { limitInputPixels: false }).resize(width, height, { fit: 'cover', position: 'centre', kernel: 'lanczos3' })
    .png({ compressionLevel: 3 }).toFile(out);
  return out;
}

function runChild(spec: ChildSpec, timeoutMin: number): Promise<Record<string, unknown>> {
  return new Promise((done) => {
    const p = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', JSON.stringify(spec)], {
      cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '', errTail = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    // Progress passes through; the tail is kept to say why a run failed.
    p.stderr.setEncoding('utf8').on('data', (d: string) => { process.stderr.write(d); errTail = (errTail + d).slice(-8192); });
    const timer = setTimeout(() => { say(`[${spec.label}] over ${timeoutMin} min: stopping it`); p.kill('SIGKILL'); }, timeoutMin * 60_000);
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      const last = out.trim().split('\n').at(-1) ?? '';
      try {
        if (code === 0) return done(JSON.parse(last) as Record<string, unknown>);
      } catch { /* fall through */ }
      const why = errTail.split('\n').reverse().find((l) => /^\w*Error\b/.test(l)) ?? errTail.trim().split('\n').at(-1) ?? '';
      done({ error: signal ? `killed by ${signal}${signal === 'SIGKILL' ? ' (timeout)' : ''}` : `exit ${code}: ${why.slice(0, 500)}` });
    });
  });
}

const perMp = (v: number, mp: number) => +(v / mp).toFixed(4);

/** Per-MP value of each row relative to the 4 MP row's (null without a 4 MP row). */
function relativeTo4(rows: readonly Record<string, unknown>[], key: string): (number | null)[] {
  const ref = rows.find((r) => r.size_mp === 4 && typeof r[key] === 'number');
  return rows.map((r) => (ref && typeof r[key] === 'number' ? +(((r[key] as number) / (r.mp as number)) / ((ref[key] as number) / (ref.mp as number))).toFixed(3) : null));
}

/** max/min of per-MP values over sizes >= 4 MP: 'flat within 1.5x' is spread <= 1.5. */
function spreadFrom4(rows: readonly Record<string, unknown>[], key: string): number | null {
  const v = rows.filter((r) => (r.size_mp as number) >= 4 && typeof r[key] === 'number').map((r) => (r[key] as number) / (r.mp as number));
  return v.length < 2 ? null : +(Math.max(...v) / Math.min(...v)).toFixed(3);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false }, sizes: { type: 'string', default: '1,4,16,36' },
      models: { type: 'string', default: 'default,sd15,sdxl,flux-dev' }, 'sizes-for': { type: 'string', multiple: true },
      bpp: { type: 'string', default: '0.05' }, photo: { type: 'string', default: '.cache/photos/astronaut.png' },
      'chunk-bits': { type: 'string' }, real: { type: 'string', default: 'all' }, 'real-models': { type: 'string' },
      'seam-photo': { type: 'string' }, 'no-seam': { type: 'boolean', default: false },
      'timeout-min': { type: 'string', default: '120' }, keep: { type: 'boolean', default: false }, child: { type: 'string' },
    },
  });
  if (values.child) {
    const row = await child(ChildSpec.parse(JSON.parse(values.child)));
    process.stdout.write(`${JSON.stringify(row)}\n`);
    return;
  }
  const sizeList = (s: string) => z.array(z.coerce.number().positive().max(64)).min(1).parse(s.split(',').filter(Boolean));
  const bpp = z.coerce.number().positive().max(8).parse(values.bpp);
  const chunkBits = values['chunk-bits'] === undefined ? undefined : z.coerce.number().int().min(1).max(24).parse(values['chunk-bits']);
  const timeoutMin = z.coerce.number().positive().parse(values['timeout-min']);
  const models = values.models.split(',').filter(Boolean).map(modelPath);
  const sizes = sizeList(values.sizes);
  const sizesFor = new Map<string, number[]>();
  for (const s of values['sizes-for'] ?? []) {
    const [m, list] = s.split('=');
    if (!list) throw new Error(`--sizes-for wants MODEL=1,4,...; got '${s}'`);
    sizesFor.set(modelName(modelPath(m)), sizeList(list));
  }
  const photo = resolve(values.photo);

  await promisify(execFile)('bash', [join(REPO, 'scripts/fetch-photos.sh')]).catch((e: Error) => say(`bench:large: fetch-photos.sh failed: ${e.message}`));
  if (!existsSync(photo)) throw new Error(`no photo at ${photo} (scripts/fetch-photos.sh fetches the default)`);
  const largeDir = join(REPO, '.cache/photos/large');
  let realPhotos: string[] = [];
  if (values.real !== 'none') {
    try {
      await promisify(execFile)('bash', [join(REPO, 'scripts/fetch-large-photos.sh')]);
    } catch (e) {
      say(`bench:large: real photos unavailable (${(e as Error).message.split('\n')[0]}); run scripts/fetch-large-photos.sh with network access. Skipping them.`);
    }
    const names = values.real === 'all' ? ['Kite', 'Path', 'Autumn', 'ColorfulCups'] : values.real.split(',');
    realPhotos = names.map((n) => join(largeDir, `${n}.jpg`)).filter((p) => existsSync(p) || (say(`bench:large: ${p} missing, skipped`), false));
  }
  const realModels = values['real-models'] ? values['real-models'].split(',').map(modelPath) : models;

  const work = await mkdtemp(join(tmpdir(), 'diffc-bench-large-'));
  const photos = join(work, 'photos');
  await promisify(execFile)('mkdir', ['-p', photos]);
  say(`bench:large: ${cpus().length} cores, load ${loadavg().map((v) => v.toFixed(1)).join(' ')}, bpp ${bpp}${chunkBits ? `, chunk bits ${chunkBits}` : ''}; work in ${work}`);

  const run = async (model: string, input: string, label: string, extra: Record<string, unknown>, seam: boolean) => {
    const dir = await mkdtemp(join(work, 'run-'));
    say(`[${label}] start`);
    const row = await runChild({ model, input, work: dir, bpp, chunkBits, seam, label }, timeoutMin);
    if (!values.keep) await rm(dir, { recursive: true, force: true });
    const r = { model: modelName(model), ...extra, ...row };
    say(`[${label}] ${'error' in row ? `failed: ${row.error as string}` : `encode ${row.encode_s}s, decode ${row.decode_s}s, peak ${row.peak_rss_mb} MB, ${row.bpp} bpp, PSNR ${row.psnr} dB, identical ${row.identical}${row.seam_ratio != null ? `, seam ${row.seam_ratio}` : ''}`}`);
    return r;
  };

  try {
    const tables: Record<string, Record<string, unknown>[]> = {};
    for (const m of models) {
      const name = modelName(m);
      const rows: Record<string, unknown>[] = [];
      for (const mp of sizesFor.get(name) ?? sizes) {
        const { width, height } = frameFor(mp);
        const input = await makePhoto(photo, width, height, join(photos, `${basename(photo).replace(/\.[^.]+$/, '')}-${width}x${height}.png`));
        rows.push(await run(m, input, `${name} ${mp} MP ${width}x${height}`, { size_mp: mp, photo: basename(photo) }, true));
      }
      const enc = relativeTo4(rows, 'encode_s'), decr = relativeTo4(rows, 'decode_s'), rss = relativeTo4(rows, 'peak_rss_mb');
      rows.forEach((r, i) => {
        if (typeof r.encode_s !== 'number') return;
        Object.assign(r, {
          encode_s_per_mp: perMp(r.encode_s, r.mp as number), decode_s_per_mp: perMp(r.decode_s as number, r.mp as number),
          peak_rss_mb_per_mp: perMp(r.peak_rss_mb as number, r.mp as number),
          encode_per_mp_vs_4mp: enc[i], decode_per_mp_vs_4mp: decr[i], rss_per_mp_vs_4mp: rss[i],
        });
      });
      tables[name] = rows;
    }

    const real: Record<string, unknown>[] = [];
    for (const m of realModels) {
      for (const p of realPhotos) real.push(await run(m, p, `${modelName(m)} ${basename(p)} (native)`, { photo: basename(p), native: true }, true));
    }

    let seam: Record<string, unknown> | null = null;
    if (!values['no-seam']) {
      const kite = join(largeDir, 'Kite.jpg');
      const src = values['seam-photo'] ? resolve(values['seam-photo']) : existsSync(kite) ? kite : photo;
      const input = await makePhoto(src, 3840, 2160, join(photos, `${basename(src).replace(/\.[^.]+$/, '')}-3840x2160.png`));
      seam = await run('default', input, 'default 4K seam 3840x2160', { photo: basename(src), upscaled_to: '3840x2160' }, true);
    }

    const d = tables.default ?? [];
    const num = (k: string) => d.map((r) => (typeof r[k] === 'number' ? r[k] : null));
    const spread = (rows: Record<string, unknown>[]) => ({ encode: spreadFrom4(rows, 'encode_s'), decode: spreadFrom4(rows, 'decode_s'), rss: spreadFrom4(rows, 'peak_rss_mb') });
    const result = {
      bench: 'large', bpp_target: bpp, chunk_bits: chunkBits ?? 'model default', photo: basename(photo), cores: cpus().length,
      mp: d.map((r) => r.mp), size_mp: d.map((r) => r.size_mp), encode_s: num('encode_s'), decode_s: num('decode_s'), peak_rss_mb: num('peak_rss_mb'), bpp: num('bpp'),
      psnr: num('psnr'), identical: d.map((r) => r.identical ?? null),
      encode_s_per_mp: num('encode_s_per_mp'), decode_s_per_mp: num('decode_s_per_mp'), peak_rss_mb_per_mp: num('peak_rss_mb_per_mp'),
      encode_per_mp_vs_4mp: num('encode_per_mp_vs_4mp'), decode_per_mp_vs_4mp: num('decode_per_mp_vs_4mp'), rss_per_mp_vs_4mp: num('rss_per_mp_vs_4mp'),
      // max/min of per-MP cost over the sizes from 4 MP up, per model (flat within 1.5x: <= 1.5).
      spread_from_4mp: Object.fromEntries(Object.entries(tables).map(([k, rows]) => [k, spread(rows)])),
      seam_ratio: (seam?.seam_ratio as number | null | undefined) ?? null, seam,
      models: tables, real,
    };
    if (!values.json) {
      for (const [name, rows] of Object.entries(tables)) {
        process.stdout.write(`\n${name}\n`);
        console.table(rows.map((r) => ({ mp: r.mp, w: r.width, h: r.height, enc_s: r.encode_s, dec_s: r.decode_s, rss_mb: r.peak_rss_mb, bpp: r.bpp, psnr: r.psnr, same: r.identical, 'enc/MP vs 4': r.encode_per_mp_vs_4mp, 'rss/MP vs 4': r.rss_per_mp_vs_4mp, seam: r.seam_ratio, error: r.error })));
      }
      if (real.length) console.table(real.map((r) => ({ model: r.model, photo: r.photo, mp: r.mp, enc_s: r.encode_s, dec_s: r.decode_s, rss_mb: r.peak_rss_mb, bpp: r.bpp, psnr: r.psnr, same: r.identical, seam: r.seam_ratio, error: r.error })));
      if (seam) process.stdout.write(`seam_ratio (default, ${bpp} bpp, 3840x2160): ${seam.seam_ratio}\n`);
    }
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    if (!values.keep) await rm(work, { recursive: true, force: true });
    else say(`bench:large: kept ${work}`);
  }
}

await main();
