/**
 * Running a verb over several inputs: each file's result is collected; with several inputs a
 * per-file failure the user can act on (bad image, bad .dfc, existing output) is reported and the
 * rest still run. Prints the JSON result (one object, or {results, failed}) and returns the exit code.
 */
import { DfcError } from '../codec/format/index.js';
import { ImageError } from '../image/errors.js';
import { CliError } from './errors.js';
import type { Print } from './args.js';

export async function runBatch<J extends { input: string }>(
  jobs: readonly J[], many: boolean, json: boolean, out: Print, err: Print,
  one: (job: J, index: number) => Promise<Record<string, unknown>>,
  done: (job: J, result: Record<string, unknown>) => void,
): Promise<number> {
  const results: Record<string, unknown>[] = [];
  let failed = 0;
  for (const [i, j] of jobs.entries()) {
    try {
      const r = await one(j, i);
      results.push(r);
      done(j, r);
    } catch (e) {
      if (!many || !(e instanceof CliError || e instanceof ImageError || e instanceof DfcError)) throw e;
      failed++;
      results.push({ input: j.input, error: e.message });
      err(`diffc: ${e.message}`);
    }
  }
  if (json) out(JSON.stringify(many ? { results, failed } : results[0]));
  return failed > 0 ? 1 : 0;
}
