/**
 * A compressImage started by a bulk job tells its parent how it ended. The parent may have
 * continued as new since it started the child (children outlive that), so the report goes to the
 * parent's workflow id, which always reaches its current run. A continue-as-new of the child
 * itself (a newer source version) is not an ending: its next run reports.
 */
import { CancellationScope, getExternalWorkflowHandle, isCancellation, workflowInfo, ContinueAsNew } from '@temporalio/workflow';
import { outcomeOf, type Outcome } from '../src/orchestration/bulk-types.js';
import type { CompressImageInput, CompressImageResult } from '../src/orchestration/types.js';
import { rootMessage } from '../src/orchestration/failure-message.js';
import { itemDoneSignal } from './signals.js';

export async function reportingToParent(job: CompressImageInput, run: () => Promise<CompressImageResult>): Promise<CompressImageResult> {
  const { parent, workflowId } = workflowInfo();
  const report = async (o: Outcome) => {
    if (!parent) return;
    // The parent may be gone (terminated, or a job started anew): nobody to tell, not a failure.
    // Non-cancellable: a cancelled child still reports that it was cancelled.
    await CancellationScope.nonCancellable(() => getExternalWorkflowHandle(parent.workflowId).signal(itemDoneSignal, o)).catch(() => undefined);
  };
  try {
    const r = await run();
    await report(outcomeOf(job.source, r, workflowId));
    return r;
  } catch (e) {
    if (!(e instanceof ContinueAsNew)) {
      await report({ source: job.source, output: job.output, status: 'failed', error: isCancellation(e) ? 'cancelled' : rootMessage(e), workflowId });
    }
    throw e;
  }
}
