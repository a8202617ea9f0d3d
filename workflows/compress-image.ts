/**
 * compressImage: image in a store -> .dfc, byte-identical to `diffc compress`.
 * Orchestration only (deterministic, no I/O): pin and check the source on the io queue, encode
 * the latent and code the chain in step ranges on the gpu queue (each range one heartbeating,
 * checkpointing activity, so a lost worker costs at most one checkpoint interval), assemble the
 * file in one conditional put. Every gpu activity heartbeats; its timeouts come from the image
 * size and the step time measured so far.
 *
 * One run per output at a time (the workflow id is compressWorkflowId(output store, output)),
 * and each run keeps its work in a folder of its own, so runs never mix. How a run ends:
 *   done        the .dfc is written (or was already there: skipped); its work is gone
 *   superseded  the source version it was for is gone or replaced, or another writer's output
 *               for a newer version is there: nothing written, work discarded, a result with
 *               `superseded: true`
 *   signalled   a newer source version arrived (sourceVersionSignal): the current activity is
 *               cancelled, the work discarded, and the workflow continues as new for that version
 *   cancelled   work discarded, no output written, the cancellation rethrown
 *   failed      work discarded, the failure rethrown (or, when a newer version was signalled
 *               meanwhile, continue-as-new for it)
 *   terminated  runs no code: its work folder is left for the bucket lifecycle rule on
 *               _diffc-work/ or `diffc work gc` (docs/deploy.md)
 */
import {
  ActivityCancellationType, CancellationScope, continueAsNew, defineQuery, isCancellation, log, proxyActivities, setHandler,
} from '@temporalio/workflow';
import type * as activities from '../activities/index.js';
import { ACTIVITY_INPUT_FORMAT as INPUT_FORMAT, type CompressImageInput, type CompressImageResult, type CompressProgress, type EncodeStepsInput, type PinnedJob, type SourceVersion } from '../src/orchestration/types.js';
import { gpuTimeouts, measured, type GpuWork, type MeasuredWork } from '../src/orchestration/timeouts.js';
import { sourceVersionSignal } from './signals.js';
import { reportingToParent } from './report-to-parent.js';
import { isNewerVersion } from '../src/orchestration/source-version.js';

export const progressQuery = defineQuery<CompressProgress>('progress');

function activitiesFor(job: CompressImageInput) {
  // Cancelled activities are waited for, so that no activity still writes work objects once the
  // run has discarded them.
  const cancellationType = ActivityCancellationType.WAIT_CANCELLATION_COMPLETED;
  const io = proxyActivities<typeof activities>({
    taskQueue: job.queues.io,
    startToCloseTimeout: '10 minutes',
    cancellationType,
    retry: { maximumAttempts: 8, initialInterval: '1 second', maximumInterval: '30 seconds' },
  });
  const gpu = proxyActivities<typeof activities>({
    taskQueue: job.queues.gpu,
    startToCloseTimeout: '30 minutes',
    cancellationType,
    retry: { maximumAttempts: 8, initialInterval: '1 second', maximumInterval: '30 seconds' },
  });
  // Every gpu activity that touches the image heartbeats from a timer, so a dead worker is noticed
  // within one heartbeat timeout whatever it was doing; both timeouts are sized from the work
  // measured so far (src/orchestration/timeouts.ts). A retry resumes from the checkpoint.
  const sized = (work: GpuWork, w: MeasuredWork) => proxyActivities<typeof activities>({
    taskQueue: job.queues.gpu,
    ...gpuTimeouts(work, w, job.heartbeatTimeoutSeconds),
    cancellationType,
    retry: { maximumAttempts: 20, initialInterval: '1 second', maximumInterval: '30 seconds' },
  });
  return {
    resolveModelHash: gpu.resolveModelHash, prepareSource: io.prepareSource, discardWork: io.discardWork,
    encodeLatent: (w: MeasuredWork, p: PinnedJob) => sized({ kind: 'latent' }, w).encodeLatent(p),
    encodeSteps: (w: MeasuredWork, i: EncodeStepsInput, steps: number) => sized({ kind: 'steps', steps }, w).encodeSteps(i),
    assembleDfc: (w: MeasuredWork, p: PinnedJob, steps: number) =>
      sized(job.targetQuality ? { kind: 'assemble', qualitySearch: { steps } } : { kind: 'assemble' }, w).assembleDfc(p),
  };
}

/**
 * `job` must already be validated (the client, trigger and bulk planner parse CompressImageInput).
 * Started by a bulk job, it reports how it ended to the parent (workflows/report-to-parent.ts).
 */
export async function compressImage(job: CompressImageInput): Promise<CompressImageResult> {
  return reportingToParent(job, () => compressOnce(job));
}

async function compressOnce(job: CompressImageInput): Promise<CompressImageResult> {
  let progress: CompressProgress = { phase: 'source', step: 0, stepsTarget: 0 };
  setHandler(progressQuery, () => progress);
  const a = activitiesFor(job);

  // The version this run compresses: the job's, or a signal's while the source is not yet read,
  // then the one prepareSource pinned. A later one (`newer`) stops the run and starts it again.
  let version = job.sourceVersion;
  let newer: SourceVersion | undefined;
  let started = false;
  const work = new CancellationScope();
  setHandler(sourceVersionSignal, (v) => {
    if (!isNewerVersion(v, newer ?? version)) return;
    if (!started) {
      version = v;
      return;
    }
    newer = v;
    work.cancel();
  });

  let modelHash = job.modelHash;
  const cleanUp = async (why: string) => {
    try {
      await CancellationScope.nonCancellable(() => a.discardWork(job));
    } catch (e) {
      // What is left is the lifecycle rule's (or `diffc work gc`'s); the run's own ending matters more.
      log.warn('discardWork failed', { output: job.output, why, error: String(e) });
    }
  };
  const again = (v: SourceVersion) => continueAsNew<typeof compressImage>({ ...job, ...(modelHash ? { modelHash } : {}), sourceVersion: v });

  let result: CompressImageResult | undefined;
  try {
    result = await work.run(async () => {
      if (!modelHash) modelHash = (await a.resolveModelHash(job.model)).hash;
      started = true;
      const j: CompressImageInput = { ...job, modelHash, ...(version ? { sourceVersion: version } : {}) };
      const src = await a.prepareSource(j);
      if (src.skipped) {
        progress = { phase: 'done', step: src.skipped.steps, stepsTarget: src.skipped.steps };
        return src.skipped;
      }
      if (src.superseded !== undefined) return supersededResult(job, src.superseded);
      version = src.source;
      const pinned: PinnedJob = { format: INPUT_FORMAT, job: j, source: src.source, outputEtag: src.outputEtag };
      let work: MeasuredWork = { pixels: src.width * src.height };
      progress = { phase: 'latent', step: 0, stepsTarget: 0 };
      const prepared = await a.encodeLatent(work, pinned);
      if (prepared.superseded !== undefined) return supersededResult(job, prepared.superseded);
      work = measured(work, prepared);
      progress = { phase: 'steps', step: 0, stepsTarget: prepared.stepsTarget };
      let step = 0;
      let done = prepared.stepsTarget === 0;
      while (!done) {
        const to = Math.min(step + job.stepsPerActivity, prepared.stepsTarget);
        const r = await a.encodeSteps(work, { format: INPUT_FORMAT, job: j, to }, to - step);
        step = r.step;
        done = r.done;
        work = measured(work, r);
        progress = { phase: 'steps', step, stepsTarget: prepared.stepsTarget };
      }
      progress = { phase: 'assemble', step, stepsTarget: prepared.stepsTarget };
      const written = await a.assembleDfc(work, pinned, step);
      progress = written.superseded ? { ...progress, phase: 'superseded' } : { phase: 'done', step, stepsTarget: prepared.stepsTarget };
      return written;
    });
  } catch (e) {
    const cancelledFromOutside = CancellationScope.current().consideredCancelled;
    if (cancelledFromOutside || !(newer && isCancellation(e))) {
      progress = { ...progress, phase: isCancellation(e) ? 'cancelled' : progress.phase };
      await cleanUp(isCancellation(e) ? 'cancelled' : 'failed');
      // A newer version signalled while this one failed still deserves its run.
      if (newer && !cancelledFromOutside) return again(newer);
      throw e;
    }
  }
  if (newer) {
    // Signalled: whatever this run did is for an older version.
    progress = { ...progress, phase: 'superseded' };
    await cleanUp('superseded by a signalled version');
    return again(newer);
  }
  if (result!.superseded) {
    progress = { ...progress, phase: 'superseded' };
    await cleanUp('superseded');
    // A newer version may have been signalled while the work was discarded.
    if (newer) return again(newer);
  }
  return result!;
}

function supersededResult(job: CompressImageInput, reason: string): CompressImageResult {
  return { output: job.output, bytes: 0, bpp: 0, steps: 0, superseded: true, reason };
}
