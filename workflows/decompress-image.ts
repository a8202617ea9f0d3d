/**
 * decompressImage: .dfc -> image at a chosen chain prefix (or bpp), on the gpu queue.
 *
 * The chain is decoded in checkpointed step ranges (decodeSteps, heartbeating, resumable after a
 * lost worker) and then reconstructed and written (decodeFinish); each activity's timeouts come
 * from the image size and the step time measured so far (src/orchestration/timeouts.ts). Runs
 * started before ranges existed scheduled one decodeToImage: the RANGED_DECODE patch keeps them
 * replaying on this code (test/workflow-replay.test.ts shows the change fails without it).
 */
import { ActivityCancellationType, CancellationScope, log, patched, proxyActivities } from '@temporalio/workflow';
import type * as activities from '../activities/index.js';
import { ACTIVITY_INPUT_FORMAT as INPUT_FORMAT, DECODE_DEFAULTS, type DecompressImageInput, type DecompressImageResult, type DecodeStepsResult } from '../src/orchestration/types.js';
import { gpuTimeouts, measured, type MeasuredWork } from '../src/orchestration/timeouts.js';

/** Patch id: decoding in checkpointed ranges (decodeSteps/decodeFinish) instead of one decodeToImage. */
export const RANGED_DECODE = 'ranged-decode';

const RETRY = { maximumAttempts: 8, initialInterval: '1 second', maximumInterval: '30 seconds' } as const;

export async function decompressImage(job: DecompressImageInput): Promise<DecompressImageResult> {
  if (!patched(RANGED_DECODE)) return oneActivity(job);
  return inRanges(job);
}

/** The decode as runs started before RANGED_DECODE scheduled it. */
export async function oneActivity(job: DecompressImageInput): Promise<DecompressImageResult> {
  const { decodeToImage } = proxyActivities<typeof activities>({ taskQueue: job.queues.gpu, startToCloseTimeout: '30 minutes', retry: RETRY });
  return decodeToImage(job);
}

export async function inRanges(job: DecompressImageInput): Promise<DecompressImageResult> {
  const per = job.stepsPerActivity ?? DECODE_DEFAULTS.stepsPerActivity;
  const heartbeat = job.heartbeatTimeoutSeconds ?? DECODE_DEFAULTS.heartbeatTimeoutSeconds;
  const io = proxyActivities<typeof activities>({ taskQueue: job.queues.io, startToCloseTimeout: '10 minutes', retry: RETRY });
  // Until the first range reports the image size, a 64 MP ceiling sizes its timeouts.
  let work: MeasuredWork = { pixels: 64e6 };
  // Cancelled ranges are waited for, so no activity still writes a checkpoint once the work is discarded.
  const gpu = (t: ReturnType<typeof gpuTimeouts>) => proxyActivities<typeof activities>({
    taskQueue: job.queues.gpu, ...t, cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED, retry: { ...RETRY, maximumAttempts: 20 },
  });
  const discard = (why: string) => CancellationScope.nonCancellable(() => io.discardDecodeWork(job)).catch((e: unknown) => {
    // What is left is the lifecycle rule's (or `diffc work gc`'s); the run's own ending matters more.
    log.warn('discardDecodeWork failed', { output: job.output, why, error: String(e) });
  });
  let result: DecompressImageResult;
  try {
    let r: DecodeStepsResult | undefined;
    do {
      const to = (r?.step ?? 0) + per;
      r = await gpu(gpuTimeouts({ kind: 'steps', steps: per }, work, heartbeat)).decodeSteps({ format: INPUT_FORMAT, job, to });
      work = measured({ ...work, pixels: r.width * r.height }, r);
    } while (!r.done);
    result = await gpu(gpuTimeouts({ kind: 'decode-finish', reconSteps: r.reconSteps }, work, heartbeat)).decodeFinish({ format: INPUT_FORMAT, job });
  } catch (e) {
    // Cancelled or failed: the work folder goes, the output (never partial) is as it was.
    await discard('failed or cancelled');
    throw e;
  }
  await discard('done');
  return result;
}
