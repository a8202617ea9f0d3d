/**
 * compressImage: image in a store -> .dfc, byte-identical to `diffc compress`.
 * Orchestration only (deterministic, no I/O): stage the source on the io queue, encode the latent
 * and code the chain in step ranges on the gpu queue (each range one heartbeating, checkpointing
 * activity, so a lost worker costs at most one checkpoint interval), assemble the file.
 * Cancelled: the work objects are removed and no output is written (the .dfc is one atomic put).
 */
import { CancellationScope, defineQuery, isCancellation, proxyActivities, setHandler } from '@temporalio/workflow';
import type * as activities from '../activities/index.js';
import type { CompressImageInput, CompressImageResult, CompressProgress } from '../src/orchestration/types.js';

export const progressQuery = defineQuery<CompressProgress>('progress');

function activitiesFor(job: CompressImageInput) {
  const io = proxyActivities<typeof activities>({
    taskQueue: job.queues.io,
    startToCloseTimeout: '10 minutes',
    retry: { maximumAttempts: 8, initialInterval: '1 second', maximumInterval: '30 seconds' },
  });
  const gpu = proxyActivities<typeof activities>({
    taskQueue: job.queues.gpu,
    startToCloseTimeout: '30 minutes',
    retry: { maximumAttempts: 8, initialInterval: '1 second', maximumInterval: '30 seconds' },
  });
  const steps = proxyActivities<typeof activities>({
    taskQueue: job.queues.gpu,
    startToCloseTimeout: '2 hours',
    // A dead worker is noticed within one heartbeat timeout; the retry resumes from the checkpoint.
    heartbeatTimeout: `${job.heartbeatTimeoutSeconds} seconds`,
    retry: { maximumAttempts: 20, initialInterval: '1 second', maximumInterval: '30 seconds' },
  });
  return { prepareSource: io.prepareSource, discardWork: io.discardWork, encodeLatent: gpu.encodeLatent, assembleDfc: gpu.assembleDfc, encodeSteps: steps.encodeSteps };
}

/** `job` must already be validated (the client, trigger and bulk planner parse CompressImageInput). */
export async function compressImage(job: CompressImageInput): Promise<CompressImageResult> {
  let progress: CompressProgress = { phase: 'source', step: 0, stepsTarget: 0 };
  setHandler(progressQuery, () => progress);
  const a = activitiesFor(job);
  try {
    const src = await a.prepareSource(job);
    if (src.skipped) {
      progress = { phase: 'done', step: src.skipped.steps, stepsTarget: src.skipped.steps };
      return src.skipped;
    }
    progress = { phase: 'latent', step: 0, stepsTarget: 0 };
    const prepared = await a.encodeLatent(job);
    progress = { phase: 'steps', step: 0, stepsTarget: prepared.stepsTarget };
    let step = 0;
    let done = prepared.stepsTarget === 0;
    while (!done) {
      const r = await a.encodeSteps({ job, to: Math.min(step + job.stepsPerActivity, prepared.stepsTarget) });
      step = r.step;
      done = r.done;
      progress = { phase: 'steps', step, stepsTarget: prepared.stepsTarget };
    }
    progress = { phase: 'assemble', step, stepsTarget: prepared.stepsTarget };
    const result = await a.assembleDfc(job);
    progress = { phase: 'done', step, stepsTarget: prepared.stepsTarget };
    return result;
  } catch (e) {
    if (isCancellation(e)) {
      progress = { ...progress, phase: 'cancelled' };
      await CancellationScope.nonCancellable(() => a.discardWork(job));
    }
    throw e;
  }
}
