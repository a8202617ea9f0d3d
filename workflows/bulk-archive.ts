/**
 * bulkArchive: every object under a prefix (or in a manifest) -> one compressImage child each,
 * at most `concurrency` in flight. Each run plans and finishes `objectsPerRun` objects, writes
 * their outcomes as a manifest part, then continues as new, so the history stays bounded for
 * millions of objects. A failed object is an outcome in the manifest, never a failed job.
 */
import {
  continueAsNew, defineQuery, executeChild, proxyActivities, setHandler, ParentClosePolicy,
} from '@temporalio/workflow';
import type * as activities from '../activities/index.js';
import {
  ZERO_TOTALS, type BulkArchiveInput, type BulkState, type BulkSummary, type BulkTotals, type Outcome,
} from '../src/orchestration/bulk-types.js';
import { compressImage } from './compress-image.js';
import { rootMessage } from '../src/orchestration/failure-message.js';

export const summaryQuery = defineQuery<BulkSummary>('summary');

export async function bulkArchive(job: BulkArchiveInput, state: BulkState = { cursor: {}, totals: ZERO_TOTALS }): Promise<BulkSummary> {
  const io = proxyActivities<typeof activities>({
    taskQueue: job.queues.io,
    startToCloseTimeout: '10 minutes',
    retry: { maximumAttempts: 10, initialInterval: '1 second', maximumInterval: '30 seconds' },
  });
  const run = state.totals.runs + 1;
  let totals: BulkTotals = { ...state.totals, runs: run };
  let inFlight = 0;
  setHandler(summaryQuery, () => ({ ...totals, phase: 'running', inFlight }));

  const plan = await io.planBatch({ job, cursor: state.cursor, limit: job.objectsPerRun });
  const outcomes: Outcome[] = [];
  const count = (o: Outcome) => {
    outcomes.push(o);
    totals = o.status === 'failed'
      ? { ...totals, failed: totals.failed + 1 }
      : { ...totals, [o.status]: totals[o.status] + 1, bytesOut: totals.bytesOut + o.bytes };
  };
  // Outcomes known without running anything (skipped, invalid) count at once.
  for (const o of plan.known) count(o);

  const running = new Set<Promise<void>>();
  for (const item of plan.run) {
    while (running.size >= job.concurrency) await Promise.race(running);
    inFlight++;
    const p: Promise<void> = executeChild(compressImage, {
      args: [item.job], workflowId: item.workflowId, taskQueue: job.queues.io,
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
    }).then(
      (r) => count({ source: item.job.source, output: r.output, status: r.skipped ? 'skipped' : 'ok', bytes: r.bytes, bpp: r.bpp, steps: r.steps, workflowId: item.workflowId }),
      (e: unknown) => count({ source: item.job.source, output: item.job.output, status: 'failed', error: rootMessage(e), workflowId: item.workflowId }),
    ).finally(() => {
      inFlight--;
      running.delete(p);
    });
    running.add(p);
  }
  await Promise.all(running);

  await io.writeManifestPart({ job, run, outcomes });
  if (plan.next !== null) {
    // Drained at the run boundary: the next run starts with an empty history.
    return continueAsNew<typeof bulkArchive>(job, { cursor: plan.next, totals });
  }
  const manifest = await io.finishManifest({ job, runs: run, totals });
  const summary: BulkSummary = { ...totals, phase: 'done', inFlight: 0, manifest };
  setHandler(summaryQuery, () => summary);
  return summary;
}
