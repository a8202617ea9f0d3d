/**
 * compressImage: image in a store -> .dfc in the same store, byte-identical to `diffc compress`.
 * Orchestration only (deterministic, no I/O): load and encode the latent, code the chain in step
 * ranges (each range one heartbeating, checkpointing activity), assemble the file.
 */
import { defineQuery, proxyActivities, setHandler } from '@temporalio/workflow';
import type * as activities from '../activities/index.js';
import type { CompressImageInput, CompressImageResult, CompressProgress } from '../src/orchestration/types.js';

const { loadAndEncodeLatent, assembleDfc } = proxyActivities<typeof activities>({
  startToCloseTimeout: '10 minutes',
  retry: { maximumAttempts: 5 },
});

const { encodeSteps } = proxyActivities<typeof activities>({
  startToCloseTimeout: '1 hour',
  heartbeatTimeout: '2 minutes',
  retry: { maximumAttempts: 10 },
});

export const progressQuery = defineQuery<CompressProgress>('progress');

/** `job` must already be validated (startCompressImage parses it with CompressImageInput). */
export async function compressImage(job: CompressImageInput): Promise<CompressImageResult> {
  let progress: CompressProgress = { phase: 'latent', step: 0, stepsTarget: 0 };
  setHandler(progressQuery, () => progress);

  const prepared = await loadAndEncodeLatent(job);
  progress = { phase: 'steps', step: 0, stepsTarget: prepared.stepsTarget };
  let step = 0;
  let done = prepared.stepsTarget === 0;
  while (!done) {
    const r = await encodeSteps({ job, to: Math.min(step + job.stepsPerActivity, prepared.stepsTarget) });
    step = r.step;
    done = r.done;
    progress = { phase: 'steps', step, stepsTarget: prepared.stepsTarget };
  }
  progress = { phase: 'assemble', step, stepsTarget: prepared.stepsTarget };
  const result = await assembleDfc(job);
  progress = { phase: 'done', step, stepsTarget: prepared.stepsTarget };
  return result;
}
