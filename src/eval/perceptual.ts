/**
 * Perceptual metrics by the reference tools themselves, as subprocesses (src/eval/tools.ts):
 *   ssimulacra2  ssimulacra2_rs 0.5.2 (rust-av's SSIMULACRA 2; 100 = identical, higher is better)
 *   butteraugli  Debian's google/butteraugli 2017-01-16 (0 = identical, lower is better; the
 *                original tool, not libjxl's later variant, whose scores differ)
 * Both read the 8-bit sRGB PNGs written here, as a user would hand them the files.
 */
import { join } from 'node:path';
import type { RgbImage } from '../image/types.js';
import { findTool, inTemp, runTool, ToolUnavailableError, writePng8 } from './tools.js';

export type PerceptualMetric = 'ssimulacra2' | 'butteraugli';
export const PERCEPTUAL_METRICS: readonly PerceptualMetric[] = ['ssimulacra2', 'butteraugli'];
export const LOWER_IS_BETTER: Readonly<Record<PerceptualMetric, boolean>> = { ssimulacra2: false, butteraugli: true };

const TOOL: Record<PerceptualMetric, { bin: string; install: string; args: (ref: string, dist: string) => string[]; parse: RegExp }> = {
  ssimulacra2: { bin: 'ssimulacra2_rs', install: "cargo install ssimulacra2_rs --no-default-features", args: (r, d) => ['image', r, d], parse: /Score:\s*(-?[0-9.]+(?:e[-+]?\d+)?)/ },
  butteraugli: { bin: 'butteraugli', install: 'apt-get install butteraugli', args: (r, d) => [r, d], parse: /^\s*(-?[0-9.]+(?:e[-+]?\d+)?)\s*$/m },
};

export type MetricFn = (ref: RgbImage, dist: RgbImage) => Promise<number>;

function metricFn(metric: PerceptualMetric, bin: string): MetricFn {
  const t = TOOL[metric];
  return async (ref, dist) => {
    if (ref.width !== dist.width || ref.height !== dist.height) throw new RangeError(`${metric}: images differ in size (${ref.width}x${ref.height} vs ${dist.width}x${dist.height})`);
    return inTemp(async (dir) => {
      await writePng8(ref, join(dir, 'ref.png'));
      await writePng8(dist, join(dir, 'dist.png'));
      const { stdout } = await runTool(bin, t.args(join(dir, 'ref.png'), join(dir, 'dist.png')), { maxBuffer: 1 << 20 });
      const m = t.parse.exec(stdout);
      if (!m) throw new Error(`${metric}: cannot read a score from ${bin}'s output: ${stdout.slice(0, 200)}`);
      return Number(m[1]);
    });
  };
}

/** The metric, or a ToolUnavailableError saying how to get its tool. */
export function perceptualMetric(metric: PerceptualMetric, env: NodeJS.ProcessEnv = process.env): MetricFn {
  return metricFn(metric, findTool(TOOL[metric].bin, `${metric} needs ${TOOL[metric].bin} (${TOOL[metric].install})`, env));
}

/** Every metric whose tool is present, and why each other one is missing. */
export function availableMetrics(env: NodeJS.ProcessEnv = process.env): { metrics: Partial<Record<PerceptualMetric, MetricFn>>; missing: string[] } {
  const metrics: Partial<Record<PerceptualMetric, MetricFn>> = {};
  const missing: string[] = [];
  for (const m of PERCEPTUAL_METRICS) {
    try {
      metrics[m] = perceptualMetric(m, env);
    } catch (e) {
      if (!(e instanceof ToolUnavailableError)) throw e;
      missing.push(e.message);
    }
  }
  return { metrics, missing };
}
