/**
 * `diffc eval`: rate–distortion of diffc against JPEG, WebP and AVIF (sharp) at matched bpp.
 * Each image is encoded once up to the highest rate; every lower rate is a prefix of that chain
 * (one encode serves every bitrate). Writes results.csv, results.json and rd.svg.
 */
import { mkdir } from 'node:fs/promises';
import { join, basename, resolve as resolvePath } from 'node:path';
import { expandInputs, IMAGE_EXTENSIONS } from './inputs.js';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { encodeImage, loadImage } from '../image/io.js';
import { cropRegion } from '../image/geometry.js';
import { psnr, msssim } from '../eval/metrics.js';
import { bdRateTable } from '../eval/bd-rate.js';
import { flatGrain, flatMask } from '../eval/grain.js';
import { encodeAtBpp, type BaselineCodec } from '../eval/baselines.js';
import { findJxlTools } from '../eval/jxl.js';
import { ToolUnavailableError } from '../eval/tools.js';
import type { RgbImage } from '../image/types.js';
import { renderReport, type ReportImage, type ReportMetric } from '../eval/report.js';
import { availableMetrics, type MetricFn } from '../eval/perceptual.js';
import { EXPORT_HINT, loadLearnedMetric, type LearnedMetric } from '../eval/learned.js';
import { rdPlotSvg, writeCsv } from '../eval/plot.js';
import { compressLatents, stepBits, stepsWithinBpp } from '../codec/codec.js';
import { prefixDecoder } from '../pipeline/decode-prefix.js';
import { decodeDfc } from '../pipeline/decompress.js';
import { compressionSettings } from '../pipeline/compress-settings.js';
import { conditionedPredictors } from '../pipeline/conditioning.js';
import { imageLatent } from '../pipeline/image-latent.js';
import { resolveBackend } from '../rcc-backends/index.js';
import { loadModel, resolveSchedule, protocolFor, decodeContext } from '../pipeline/model-context.js';
import { writeFileAtomic } from './files.js';
import { Progress } from './progress.js';
import { parseOrUsage, type Print } from './args.js';
import { UsageError } from './errors.js';
import { resolveModel } from '../models/bundle.js';

const CODEC_LABEL: Record<string, string> = { jpeg: 'JPEG', webp: 'WebP', avif: 'AVIF', jxl: 'JPEG XL' };

export const EVAL_HELP = `diffc eval <dir|image>... [options]

For each image and rate: bpp, PSNR, MS-SSIM, SSIMULACRA 2 (ssimulacra2_rs; higher is better),
Butteraugli (google/butteraugli; lower is better), grain (high-frequency energy in the original's
flat regions, relative to the original's: 1 = as textured, above 1 = added grain;
src/eval/grain.ts) and encode/decode time for diffc, and JPEG, WebP and AVIF (sharp) and JPEG XL
(libjxl's cjxl/djxl) at the bpp diffc reached. The reference tools are found in DIFFC_TOOLS_DIR or
on PATH (scripts/fetch-eval-tools.sh fetches them all); a missing one leaves its metric null or
its codec out, with a note. LPIPS and DISTS (distances, lower is better) are scored when their
network weights are given as metric bundles (--lpips, --dists; nothing is downloaded).
Writes <out>/results.csv, results.json and rd.svg; the last stdout line (with --json) is a
per-codec summary of mean bpp, PSNR, MS-SSIM, SSIMULACRA 2, Butteraugli and grain at each rate,
and bd_rate: diffc's BD-rate in percent against each baseline per metric (PCHIP over the codecs'
mean points; null where the curves do not overlap or a codec has under 2 distinct points).

  --model M         model bundle directory or 'default'; repeat it to compare models side by side
                    (each is the codec diffc:<model id>; the baselines match the first one's
                    rates and bd_rate is the first one's against every other codec)
  --bpp LIST        comma-separated target rates (default 0.05,0.1,0.2)
  --codecs LIST     subset of diffc,jpeg,webp,avif,jxl (default all; jxl only if cjxl is found)
  --out DIR         output directory (default eval-out)
  --backend B       RCC backend: auto | cuda | cpu | ts
  --seed N          seed for every image (default 0)
  --lpips DIR       LPIPS from a metric bundle (scripts/metrics/export-metric-bundle.py makes one
                    from the lpips package's weights); without it lpips is null
  --dists DIR       DISTS from a metric bundle (from DISTS_pytorch's weights), likewise
  --force           overwrite results in --out
  --json            print the summary JSON as the last stdout line
  --report          also write <out>/report.html: one self-contained page with the RD plots per
                    metric, the tables, crops of the first image from every codec at every rate
                    and its progressive decode (six prefixes of one file)
  -q, --quiet       no progress on stderr
`;

const Codec = z.enum(['diffc', 'jpeg', 'webp', 'avif', 'jxl']);
const ALL_CODECS = 'diffc,jpeg,webp,avif,jxl';

const Args = z.object({
  positionals: z.array(z.string()).min(1, 'give at least one image or directory'),
  model: z.array(z.string().min(1)).default([]),
  bpp: z.string().default('0.05,0.1,0.2').transform((s, ctx) => {
    const v = s.split(',').map(Number);
    if (v.some((x) => !(x > 0 && x <= 64))) ctx.addIssue({ code: 'custom', message: `bad rate list '${s}'` });
    return [...new Set(v)].sort((x, y) => x - y);
  }),
  codecs: z.string().default(ALL_CODECS).transform((s) => s.split(',')).pipe(z.array(Codec).min(1)),
  out: z.string().default('eval-out'),
  backend: z.enum(['auto', 'cuda', 'cpu', 'ts']).default('auto'),
  seed: z.coerce.number().int().nonnegative().max(2 ** 32 - 1).default(0),
  force: z.boolean().default(false),
  json: z.boolean().default(false),
  quiet: z.boolean().default(false),
  report: z.boolean().default(false),
  lpips: z.string().optional(),
  dists: z.string().optional(),
});

/** The metrics beside PSNR and MS-SSIM, in column order: each null where its tool or bundle is absent. */
const EXTRA_METRICS = [
  { key: 'ssimulacra2', label: 'SSIMULACRA 2', lowerIsBetter: false, digits: 2 },
  { key: 'butteraugli', label: 'Butteraugli', lowerIsBetter: true, digits: 3 },
  { key: 'lpips', label: 'LPIPS', lowerIsBetter: true, digits: 4 },
  { key: 'dists', label: 'DISTS', lowerIsBetter: true, digits: 4 },
] as const;
type ExtraMetric = (typeof EXTRA_METRICS)[number]['key'];
type ExtraScores = Record<ExtraMetric, number | null>;

interface Row extends ExtraScores { image: string; codec: string; target_bpp: number; bpp: number; psnr: number; msssim: number; grain: number | null; encode_s: number; decode_s: number; steps?: number; quality?: number }

export async function evalCommand(argv: string[], out: Print, err: Print): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      model: { type: 'string', multiple: true }, bpp: { type: 'string' }, codecs: { type: 'string' }, out: { type: 'string' }, backend: { type: 'string' },
      seed: { type: 'string' }, lpips: { type: 'string' }, dists: { type: 'string' }, force: { type: 'boolean' }, json: { type: 'boolean' }, quiet: { type: 'boolean', short: 'q' }, report: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    out(EVAL_HELP);
    return 0;
  }
  const a = parseOrUsage(Args, { ...values, positionals });
  if (a.codecs.includes('jxl')) {
    try {
      findJxlTools();
    } catch (e) {
      if (!(e instanceof ToolUnavailableError)) throw e;
      // Asked for by name: an error; in the default set: left out, and said so.
      if (values.codecs !== undefined) {
        err(`diffc eval: ${e.message}`);
        return 2;
      }
      a.codecs = a.codecs.filter((c) => c !== 'jxl');
      if (!values.quiet) err(`diffc eval: jxl left out: ${e.message}`);
    }
  }
  const { files } = await expandInputs(a.positionals, IMAGE_EXTENSIONS);
  const log = (s: string) => { if (!a.quiet) err(s); };
  const perceptual = availableMetrics();
  for (const m of perceptual.missing) log(`diffc eval: metric left null: ${m}`);
  // Bundles given are loaded (and checked) before any encode; a bad one is an error, not a null.
  const learned: LearnedMetric[] = [];
  for (const name of ['lpips', 'dists'] as const) if (a[name] !== undefined) learned.push(await loadLearnedMetric(a[name]!, name));
  const fns: Partial<Record<ExtraMetric, MetricFn>> = { ...perceptual.metrics, ...Object.fromEntries(learned.map((l) => [l.metric, (r: RgbImage, d: RgbImage) => l.score(r, d)])) };
  const notes = [...perceptual.missing, ...(['lpips', 'dists'] as const).filter((n) => a[n] === undefined).map((n) => `${n} left null: no --${n} bundle (${EXPORT_HINT})`)];
  const scores = async (ref: RgbImage, rec: RgbImage): Promise<ExtraScores> => {
    const out = {} as ExtraScores;
    for (const { key } of EXTRA_METRICS) out[key] = (await fns[key]?.(ref, rec)) ?? null;
    return out;
  };
  await mkdir(a.out, { recursive: true });
  const backend = await resolveBackend(a.backend, { log });
  const rows: Row[] = [];
  let report: { image: string; region: string; original: ReportImage; cells: Map<string, ReportImage>; frames: ReportImage[] } | undefined;
  // The report shows the first image: a centred crop of at most 256x256 of every decode.
  const prepare = async (fi: number, file: string) => {
    const img = await loadImage(file);
    const side = Math.min(256, img.width, img.height);
    const x0 = Math.floor((img.width - side) / 2), y0 = Math.floor((img.height - side) / 2);
    const cropPng = (im: RgbImage) => encodeImage(cropRegion(im, x0, y0, side, side), 'png', { bitDepth: 8 });
    if (a.report && fi === 0 && !report) report = { image: basename(file), region: `${side}x${side} at (${x0}, ${y0})`, original: { label: 'original', png: await cropPng(img) }, cells: new Map(), frames: [] };
    return { img, name: basename(file), flat: flatMask(img), cropPng, shown: a.report && fi === 0 ? report : undefined };
  };
  // diffc with each model, one loaded at a time; the baselines then match the first model's rates.
  const diffcNames: string[] = [];
  const matchedBpp: number[][] = files.map(() => a.bpp);
  const modelIds: string[] = [];
  const specs = a.codecs.includes('diffc') ? (a.model.length ? a.model : [undefined]) : [];
  // The same model twice is refused now, not after the first one's whole run.
  const dirs = await Promise.all(specs.map((m) => resolveModel(m)));
  if (new Set(dirs.map((d) => resolvePath(d))).size < dirs.length) throw new UsageError('a --model is given twice; give each model once');
  const progress = new Progress('eval', files.length * (specs.length + 1), a.quiet);
  let done = 0;
  for (const [mi, spec] of specs.entries()) {
    const lm = await loadModel(spec);
    const info = lm.model.info;
    modelIds.push(info.id);
    const codec = specs.length === 1 ? 'diffc' : `diffc:${info.id}`;
    if (diffcNames.includes(codec)) throw new UsageError(`--model ${spec ?? 'default'} is ${info.id} again (another bundle of the same id); give each model once`);
    diffcNames.push(codec);
    const schedule = resolveSchedule(lm, info.defaults.schedule);
    try {
      for (const [fi, file] of files.entries()) {
        const { img, name, flat, cropPng, shown } = await prepare(fi, file);
        const pixels = img.width * img.height;
        const tEnc = performance.now();
        // Padded, encoded and (for a conditional model) conditioned as diffc compress does it.
        const { latent, padded, condition } = await imageLatent(lm, Promise.resolve(img));
        const ctx = decodeContext(lm, padded.width, padded.height);
        // The highest rate, budgeted over the whole file exactly as diffc compress does (a
        // one-step model has one rate, its checkpoint's: the same point stands at every target).
        const { params, recon, conditioning, seed, image, stop } = compressionSettings({
          info, schedule, latent: lm.model.latentShape(padded.width, padded.height), width: img.width, height: img.height, seed: a.seed,
          bpp: info.oneStep ? undefined : a.bpp.at(-1)!, backend: backend.name, condition: condition?.bytes,
        });
        const { chain: predictor, denoiser } = await conditionedPredictors(lm.model, padded.width, padded.height, undefined, conditioning, condition?.features);
        const stepAt: number[] = [];
        const [c] = await compressLatents(predictor, [{ latent, image, seed, stop, condition: condition?.bytes }], {
          schedule, params, recon, conditioning, backend, protocol: protocolFor(lm, padded.width, padded.height, schedule, params),
          onStep: (e) => { stepAt[e.step] = (performance.now() - tEnc) / 1000; progress.update(done, `${codec} ${name} step ${e.step + 1}`); },
        });
        const encodedS = (performance.now() - tEnc) / 1000;
        const bits = stepBits(c.bytes, predictor, ctx);
        const decodePrefix = prefixDecoder(lm.model, predictor, denoiser, c.bytes, ctx, padded, img);
        if (shown && mi === 0 && bits.length > 0) {
          // The progressive strip: six prefixes spread over the chain coded for the highest rate.
          const total = bits.length;
          const cuts = [...new Set([1, 2, 3, 4, 5, 6].map((k) => Math.max(1, Math.round((total * k) / 6))))];
          for (const steps of cuts) {
            const { image: rec, bytes } = await decodePrefix(steps);
            shown.frames.push({ label: `${steps} of ${total} steps`, bpp: (8 * bytes.length) / pixels, png: await cropPng(rec) });
          }
        }
        const reached: number[] = [];
        for (const target of a.bpp) {
          const steps = stepsWithinBpp(c.bytes.length, bits, pixels, target);
          const tDec = performance.now();
          // A one-step model's decode is all in its coded condition: timed from the file, as diffc decompress runs it.
          const { image: rec, bytes } = info.oneStep ? { image: (await decodeDfc(lm, c.bytes)).image, bytes: c.bytes } : await decodePrefix(steps);
          const decodeS = (performance.now() - tDec) / 1000;
          const bpp = (8 * bytes.length) / pixels;
          reached.push(bpp);
          if (shown) shown.cells.set(`${codec}:${target}`, { label: `${codec} @ ${target}`, bpp, png: await cropPng(rec) });
          rows.push({ image: name, codec, target_bpp: target, bpp, psnr: psnr(img, rec), msssim: msssim(img, rec), ...(await scores(img, rec)), grain: flatGrain(img, rec, flat), encode_s: steps > 0 ? stepAt[steps - 1] : info.oneStep ? encodedS : 0, decode_s: decodeS, steps });
        }
        if (mi === 0) matchedBpp[fi] = reached;
        progress.update(++done, `${codec} ${name}`);
      }
    } finally {
      await lm.model.close();
    }
  }
  const baselines = a.codecs.filter((x) => x !== 'diffc') as BaselineCodec[];
  for (const [fi, file] of files.entries()) {
    const { img, name, flat, cropPng, shown } = await prepare(fi, file);
    for (const codec of baselines) {
      for (const [i, target] of a.bpp.entries()) {
        const r = await encodeAtBpp(img, codec, matchedBpp[fi][i] > 0 ? matchedBpp[fi][i] : target);
        if (shown) shown.cells.set(`${codec}:${target}`, { label: `${codec} @ ${target}`, bpp: r.bpp, png: await cropPng(r.decoded) });
        rows.push({ image: name, codec, target_bpp: target, bpp: r.bpp, psnr: psnr(img, r.decoded), msssim: msssim(img, r.decoded), ...(await scores(img, r.decoded)), grain: flatGrain(img, r.decoded, flat), encode_s: r.encodeMs / 1000, decode_s: r.decodeMs / 1000, quality: r.quality });
      }
    }
    progress.update(++done, name);
  }
  progress.done();
  backend.close?.();
  const codecs = [...diffcNames, ...baselines];
  const modelLabel = modelIds.length ? modelIds.join(', ') : 'no diffc model';
  for (const l of learned) await l.close();

  const summary: Record<string, ({ target_bpp: number; bpp: number; psnr: number; msssim: number; grain: number | null; encode_s: number; decode_s: number } & ExtraScores)[]> = {};
  for (const codec of codecs) {
    summary[codec] = a.bpp.map((target) => {
      const rs = rows.filter((r) => r.codec === codec && r.target_bpp === target);
      const mean = (f: (r: Row) => number) => rs.reduce((s, r) => s + f(r), 0) / rs.length;
      // Means of the images that have the value (grain needs flat regions, metrics their tool).
      const meanOf = (f: (r: Row) => number | null, digits: number) => {
        const v = rs.flatMap((r) => { const x = f(r); return x === null ? [] : [x]; });
        return v.length ? +(v.reduce((a, b) => a + b, 0) / v.length).toFixed(digits) : null;
      };
      return {
        target_bpp: target, bpp: +mean((r) => r.bpp).toFixed(4), psnr: +mean((r) => r.psnr).toFixed(3), msssim: +mean((r) => r.msssim).toFixed(4),
        ...Object.fromEntries(EXTRA_METRICS.map(({ key }) => [key, meanOf((r) => r[key], key === 'ssimulacra2' ? 3 : key === 'butteraugli' ? 4 : 5)])) as ExtraScores,
        grain: meanOf((r) => r.grain, 3),
        encode_s: +mean((r) => r.encode_s).toFixed(3), decode_s: +mean((r) => r.decode_s).toFixed(3),
      };
    });
  }
  // The (first) diffc model's BD-rate (PCHIP, src/eval/bd-rate.ts) against each other codec, per metric.
  const scored = EXTRA_METRICS.filter((m) => fns[m.key]);
  const bdRate = diffcNames.length ? bdRateTable(summary, diffcNames[0], [{ key: 'psnr' }, { key: 'msssim' }, ...scored.map(({ key, lowerIsBetter }) => ({ key, lowerIsBetter }))]) : null;
  const series = codecs.map((codec) => ({ name: codec, points: summary[codec].map((p) => ({ bpp: p.bpp, psnr: p.psnr })) }));
  const enc = new TextEncoder();
  await writeFileAtomic(join(a.out, 'results.csv'), enc.encode(writeCsv(rows as unknown as Record<string, string | number>[])), a.force);
  await writeFileAtomic(join(a.out, 'results.json'), enc.encode(JSON.stringify({ model: modelIds.length === 1 ? modelIds[0] : modelIds, images: files, rows, summary, bd_rate: bdRate }, null, 2) + '\n'), a.force);
  await writeFileAtomic(join(a.out, 'rd.svg'), enc.encode(rdPlotSvg(series, { title: `diffc (${modelLabel}) vs ${baselines.map((c) => CODEC_LABEL[c]).join('/')}`, metric: 'PSNR' })), a.force);
  if (a.report) {
    const metricsShown: ReportMetric[] = [
      { key: 'psnr', label: 'PSNR', lowerIsBetter: false, digits: 2 }, { key: 'msssim', label: 'MS-SSIM', lowerIsBetter: false, digits: 4 }, ...scored,
    ];
    const html = renderReport({
      model: modelLabel, images: files.map((f) => basename(f)), summary, bdRate, metrics: metricsShown, notes,
      ...(report ? {
        crops: { image: report.image, region: report.region, original: report.original, rows: codecs.map((codec) => ({ codec, cells: a.bpp.flatMap((t) => report!.cells.get(`${codec}:${t}`) ?? []) })) },
        progressive: report.frames.length ? { image: report.image, frames: report.frames } : undefined,
      } : {}),
    });
    await writeFileAtomic(join(a.out, 'report.html'), enc.encode(html), a.force);
  }
  if (!a.quiet) {
    for (const codec of codecs) for (const p of summary[codec]) err(`${codec.padEnd(5)} target ${p.target_bpp}: ${p.bpp.toFixed(4)} bpp  PSNR ${p.psnr.toFixed(2)} dB  MS-SSIM ${p.msssim.toFixed(4)}  SSIMULACRA2 ${p.ssimulacra2?.toFixed(2) ?? '-'}  Butteraugli ${p.butteraugli?.toFixed(3) ?? '-'}${learned.map((l) => `  ${l.metric.toUpperCase()} ${p[l.metric]?.toFixed(4) ?? '-'}`).join('')}  grain ${p.grain?.toFixed(3) ?? '-'}  encode ${p.encode_s}s decode ${p.decode_s}s`);
    for (const [anchor, m] of Object.entries(bdRate ?? {})) err(`BD-rate of ${diffcNames[0]} vs ${anchor}: ${Object.entries(m).map(([k, v]) => `${k} ${v === null ? 'n/a (no overlap, or under 2 distinct points)' : `${v > 0 ? '+' : ''}${v} %`}`).join(', ')}`);
    err(`wrote ${join(a.out, 'results.csv')}, results.json, rd.svg${a.report ? ', report.html' : ''}`);
  }
  if (a.json) out(JSON.stringify(bdRate ? { ...summary, bd_rate: bdRate } : summary));
  return 0;
}
