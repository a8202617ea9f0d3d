/**
 * bulkArchive: every object under a prefix (or in a manifest) -> one compressImage child each.
 *
 * A sliding window, not batches: up to `concurrency` children are in flight at all times; as each
 * reports (itemDone signal) the next starts, planned a page at a time. Children are abandoned by
 * the parent's close so they outlive continue-as-new; the window (their ids) is carried into the
 * next run, and they report to the parent's workflow id, which reaches the current run. The
 * history stays bounded (objectsPerRun starts per run), nothing waits for the slowest child, and
 * outcomes go to manifest parts as they fill. A failed object is a manifest line, never a failed job.
 */
import {
  CancellationScope, condition, continueAsNew, defineQuery, getExternalWorkflowHandle, isCancellation, proxyActivities,
  setHandler, startChild, workflowInfo, ChildWorkflowCancellationType, ParentClosePolicy, WorkflowIdReusePolicy,
} from '@temporalio/workflow';
import type * as activities from '../activities/index.js';
import {
  childJob, MAX_PAGE, PART_OUTCOMES, ZERO_TOTALS,
  type BulkArchiveInput, type BulkState, type BulkSummary, type BulkTotals, type Outcome, type PlannedItem,
} from '../src/orchestration/bulk-types.js';
import type { CompressImageInput } from '../src/orchestration/types.js';
import { compressImage } from './compress-image.js';
import { itemDoneSignal } from './signals.js';
import { reportBulk } from './bulk-metrics.js';

export const summaryQuery = defineQuery<BulkSummary>('summary');

const FIRST_RUN: BulkState = { cursor: {}, totals: ZERO_TOTALS, inFlight: [] };

export async function bulkArchive(job: BulkArchiveInput, state: BulkState = FIRST_RUN): Promise<BulkSummary> {
  const retry = { maximumAttempts: 10, initialInterval: '1 second', maximumInterval: '30 seconds' };
  const io = proxyActivities<typeof activities>({ taskQueue: job.queues.io, startToCloseTimeout: '10 minutes', retry });
  const gpu = proxyActivities<typeof activities>({ taskQueue: job.queues.gpu, startToCloseTimeout: '10 minutes', retry });

  let totals: BulkTotals = { ...state.totals, runs: state.totals.runs + 1 };
  const inFlight = new Set(state.inFlight);
  const outcomes: Outcome[] = [];
  let phase: BulkSummary['phase'] = 'running';
  let cursor = state.cursor;
  let pending: PlannedItem[] = [];
  // Progress gauges (no commands): see bulk-metrics.ts.
  const report = (active = true) => reportBulk(job.jobId, { totals, inFlight: inFlight.size, pending: pending.length, listingComplete: cursor === null, active });
  const count = (o: Outcome) => {
    outcomes.push(o);
    totals = o.status === 'ok' || o.status === 'skipped'
      ? { ...totals, [o.status]: totals[o.status] + 1, bytesOut: totals.bytesOut + o.bytes }
      : { ...totals, [o.status]: totals[o.status] + 1 };
  };
  // Registered before the first await: reports buffered while the run started are not lost.
  setHandler(itemDoneSignal, (o) => {
    if (o.workflowId !== undefined && inFlight.delete(o.workflowId)) count(o);
    report();
  });
  setHandler(summaryQuery, () => ({ ...totals, phase, inFlight: inFlight.size }));

  const modelHash = state.modelHash ?? job.modelHash ?? (await gpu.resolveModelHash(job.model)).hash;
  const page = Math.min(MAX_PAGE, job.objectsPerRun, Math.max(2 * job.concurrency, 100));
  let started = 0;

  /** Writes every outcome recorded so far; reports arriving during a write are written next. */
  const flush = async () => {
    while (outcomes.length > 0) {
      const part = outcomes.splice(0, PART_OUTCOMES);
      totals = { ...totals, parts: totals.parts + 1 };
      await io.writeManifestPart({ job, part: totals.parts, outcomes: part });
    }
  };

  const start = async (item: PlannedItem) => {
    if (inFlight.has(item.workflowId)) {
      count({ source: item.source, output: item.output, status: 'deferred', error: 'listed again while the first listing is being compressed', workflowId: item.workflowId });
      return;
    }
    inFlight.add(item.workflowId);
    try {
      await startChild(compressImage, {
        args: [childJob(job, item, modelHash) as CompressImageInput], workflowId: item.workflowId, taskQueue: job.queues.io,
        parentClosePolicy: ParentClosePolicy.ABANDON, cancellationType: ChildWorkflowCancellationType.ABANDON,
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
      });
    } catch (e) {
      inFlight.delete(item.workflowId);
      if ((e as Error).name !== 'WorkflowExecutionAlreadyStartedError') throw e;
      // One writer per output: a trigger's run (or another job's child) holds this output now.
      count({ source: item.source, output: item.output, status: 'deferred', error: `another workflow (${item.workflowId}) is writing ${item.output}`, workflowId: item.workflowId });
    }
  };

  try {
    for (;;) {
      while (inFlight.size < job.concurrency) {
        if (pending.length > 0) {
          await start(pending.shift()!);
          started++;
          continue;
        }
        if (cursor === null) break;
        if (started >= job.objectsPerRun || workflowInfo().continueAsNewSuggested) {
          await flush();
          // No await between the flush and this: a report arriving now fails this task and is replayed into it.
          report(false);
          return await continueAsNew<typeof bulkArchive>(job, { cursor, totals, inFlight: [...inFlight], modelHash });
        }
        const plan = await io.planBatch({ job, cursor, limit: page, modelHash });
        for (const o of plan.known) count(o);
        pending = [...plan.run];
        cursor = plan.next;
        report();
      }
      if (outcomes.length >= PART_OUTCOMES) await flush();
      if (inFlight.size === 0 && pending.length === 0 && cursor === null) break;
      report();
      const room = () => inFlight.size < job.concurrency && (pending.length > 0 || cursor !== null);
      const moved = await condition(() => room() || inFlight.size === 0 || outcomes.length >= PART_OUTCOMES, `${job.stallCheckSeconds} seconds`);
      if (!moved && inFlight.size > 0) {
        // Nothing reported for a while: children that closed without reporting (terminated) report here.
        for (const o of await io.closedChildren({ workflowIds: [...inFlight] })) {
          if (o.workflowId !== undefined && inFlight.delete(o.workflowId)) count(o);
        }
      }
    }
    await flush();
    const manifest = await io.finishManifest({ job, totals, phase: 'done' });
    phase = 'done';
    report(false);
    return { ...totals, phase, inFlight: 0, manifest };
  } catch (e) {
    if (!isCancellation(e)) throw e;
    phase = 'cancelled';
    await CancellationScope.nonCancellable(async () => {
      await Promise.all([...inFlight].map((id) => getExternalWorkflowHandle(id).cancel().catch(() => undefined)));
      await flush();
      await io.finishManifest({ job, totals, phase: 'cancelled' });
    });
    report(false);
    throw e;
  }
}
