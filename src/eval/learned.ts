/**
 * Learned perceptual metrics (LPIPS, DISTS) from network weights the user supplies as a bundle:
 * nothing is downloaded. A metric bundle is a directory with a manifest.json
 *
 *   { "format": "diffc-metric", "version": 1, "metric": "lpips" | "dists", "id": "lpips-alex-0.1",
 *     "input": "minus-one-one" | "zero-one", "source": "...",
 *     "graph": { "path": "model.onnx", "bytes": N, "sha256": "..." } }
 *
 * and one ONNX graph (ref [N,3,H,W], dist [N,3,H,W] float32 -> distance [N] or [N,1,1,1]), as
 * scripts/metrics/export-metric-bundle.py writes it from the original packages (lpips,
 * DISTS_pytorch). The pixels go in as the original implementations take them: sRGB in [-1, 1]
 * for LPIPS, [0, 1] for DISTS (which normalises inside). Both are distances: lower is better.
 */
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import type { RgbImage } from '../image/types.js';
import { ModelError } from '../models/errors.js';
import { sha256File } from '../models/bundle.js';
import { OnnxSession } from '../models/onnx/session.js';

export const LEARNED_METRICS = ['lpips', 'dists'] as const;
export type LearnedMetricName = (typeof LEARNED_METRICS)[number];

export const EXPORT_HINT = 'make one from the original weights with scripts/metrics/export-metric-bundle.py (docs/models.md, "Metric bundles"); nothing is downloaded at run time';

export const MetricBundleManifest = z.object({
  format: z.literal('diffc-metric'),
  version: z.literal(1),
  metric: z.enum(LEARNED_METRICS),
  id: z.string().min(1).max(200),
  input: z.enum(['minus-one-one', 'zero-one']),
  source: z.string().optional(),
  graph: z.object({ path: z.string().min(1).refine((p) => !p.includes('..') && !p.startsWith('/'), 'a path inside the bundle'), bytes: z.number().int().positive(), sha256: z.string().regex(/^[0-9a-f]{64}$/) }).strict(),
}).strict();
export type MetricBundleManifest = z.infer<typeof MetricBundleManifest>;

export interface LearnedMetric {
  readonly metric: LearnedMetricName;
  readonly id: string;
  /** The distance between two images of one size (lower is better). */
  score(ref: RgbImage, dist: RgbImage): Promise<number>;
  close(): Promise<void>;
}

async function readMetricManifest(dir: string): Promise<MetricBundleManifest> {
  const path = join(dir, 'manifest.json');
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new ModelError(missing ? 'not-found' : 'manifest', missing ? `${dir} is not a metric bundle (no manifest.json); ${EXPORT_HINT}` : `${path} is not JSON: ${(e as Error).message}`);
  }
  const m = MetricBundleManifest.safeParse(raw);
  if (!m.success) throw new ModelError('manifest', `${path}: not a diffc metric bundle manifest: ${m.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  return m.data;
}

/** NCHW float32 of an image, in the range the graph takes. */
export function toNchw(img: RgbImage, input: MetricBundleManifest['input']): Float32Array {
  const n = img.width * img.height;
  const out = new Float32Array(3 * n);
  const [a, b] = input === 'minus-one-one' ? [2, -1] : [1, 0];
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[c * n + i] = a * img.data[3 * i + c] + b;
  return out;
}

/** Loads a metric bundle, checking that it is the metric asked for and that its graph matches its sha256. */
export async function loadLearnedMetric(dirIn: string, want: LearnedMetricName): Promise<LearnedMetric> {
  const dir = resolve(dirIn);
  const m = await readMetricManifest(dir);
  if (m.metric !== want) throw new ModelError('manifest', `${dir} is a ${m.metric} bundle (${m.id}), not ${want}`);
  const path = join(dir, m.graph.path);
  const st = await stat(path).catch(() => undefined);
  if (!st?.isFile()) throw new ModelError('not-found', `${m.id}: ${m.graph.path} is missing from ${dir}`);
  if (st.size !== m.graph.bytes) throw new ModelError('checksum', `${m.id}: ${m.graph.path} has ${st.size} bytes, the manifest says ${m.graph.bytes}`);
  const sha = await sha256File(path);
  if (sha !== m.graph.sha256) throw new ModelError('checksum', `${m.id}: ${m.graph.path} has sha256 ${sha}, the manifest says ${m.graph.sha256}`);
  const session = await OnnxSession.create(path);
  for (const name of ['ref', 'dist']) {
    if (!session.inputs.has(name)) throw new ModelError('manifest', `${m.id}: the graph has no input '${name}' (it has ${[...session.inputs.keys()].join(', ')})`);
  }
  const output = [...session.outputs.keys()][0];
  return {
    metric: m.metric, id: m.id,
    async score(ref, dist) {
      if (ref.width !== dist.width || ref.height !== dist.height) throw new RangeError(`${m.metric}: images differ in size (${ref.width}x${ref.height} vs ${dist.width}x${dist.height})`);
      const dims = [1, 3, ref.height, ref.width];
      const r = await session.run({ ref: { data: toNchw(ref, m.input), dims }, dist: { data: toNchw(dist, m.input), dims } }, [output]);
      const v = r[output].data;
      if (v.length !== 1 || !Number.isFinite(v[0])) throw new ModelError('non-finite', `${m.id}: expected one finite distance, got ${v.length} values (${v[0]})`);
      return v[0];
    },
    close: () => session.release(),
  };
}
