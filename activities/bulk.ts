/**
 * bulkArchive's activities (io queue): plan a page of sources, write manifest parts as they fill,
 * write the manifest index and summary at the end, and ask Temporal about children that went
 * quiet. Nothing here holds more than one page or one part in memory, whatever the job's size.
 */
import { Context } from '@temporalio/activity';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import type { CompressImageResult } from '../src/orchestration/types.js';
import {
  jobFolder, MAX_PAGE, outcomeOf, type BulkArchiveInput, type BulkCursor, type BulkTotals, type ManifestIndex, type Outcome, type PlannedBatch,
} from '../src/orchestration/bulk-types.js';
import { activity } from './failures.js';
import { planPage } from './bulk-plan.js';
import { withStore, json } from './store-io.js';

const PART_DIGITS = 6;
export const partKey = (job: BulkArchiveInput, part: number): string => `${jobFolder(job)}manifest/part-${String(part).padStart(PART_DIGITS, '0')}.jsonl`;
export const manifestIndexKey = (job: BulkArchiveInput): string => `${jobFolder(job)}manifest.json`;

/** Lists up to `limit` sources from `cursor` and plans each: run, skip (done already) or fail. */
export async function planBatch(input: { job: BulkArchiveInput; cursor: BulkCursor; limit: number; modelHash: string }): Promise<PlannedBatch> {
  return activity(() => {
    const { job, cursor, modelHash } = input;
    const limit = Math.min(input.limit, MAX_PAGE);
    return withStore(job.store, (src) => withStore(job.outputStore ?? job.store, (out) => planPage(src, out, job, cursor, limit, modelHash)));
  });
}

/** Outcomes as one JSONL part, under a name fixed by its number (a retry rewrites the same object). */
export async function writeManifestPart(input: { job: BulkArchiveInput; part: number; outcomes: readonly Outcome[] }): Promise<string> {
  return activity(async () => {
    const key = partKey(input.job, input.part);
    const text = input.outcomes.map((o) => JSON.stringify(o)).join('\n') + (input.outcomes.length ? '\n' : '');
    await withStore(input.job.outputStore ?? input.job.store, (s) => s.put(key, new TextEncoder().encode(text), { contentType: 'application/x-ndjson' }));
    return key;
  });
}

/**
 * The manifest index (parts 1..parts in order: concatenated they are the job's JSONL manifest) and
 * summary.json. The parts are never joined here: at 10^7 objects that is gigabytes.
 */
export async function finishManifest(input: { job: BulkArchiveInput; totals: BulkTotals; phase: 'done' | 'cancelled' }): Promise<string> {
  return activity(() => withStore(input.job.outputStore ?? input.job.store, async (s) => {
    const { job, totals } = input;
    const parts = Array.from({ length: totals.parts }, (_, i) => partKey(job, i + 1));
    const lines = totals.ok + totals.skipped + totals.failed + totals.deferred;
    const index: ManifestIndex = { version: 1, jobId: job.jobId, parts, lines };
    const key = manifestIndexKey(job);
    await s.put(key, json(index), { contentType: 'application/json' });
    await s.put(`${jobFolder(job)}summary.json`, json({ ...totals, phase: input.phase, manifest: key }), { contentType: 'application/json' });
    return key;
  }));
}

/** The job a workflow was started with: its first history event's input. */
async function startInput(handle: { fetchHistory(): Promise<{ events?: unknown[] | null }> }): Promise<{ source?: string; output?: string }> {
  const history = await handle.fetchHistory();
  const first = history.events?.[0] as { workflowExecutionStartedEventAttributes?: { input?: { payloads?: Payload[] } } } | undefined;
  const payload = first?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  return payload ? (defaultPayloadConverter.fromPayload(payload) as { source?: string; output?: string }) : {};
}

/**
 * Children that closed without their outcome reaching the parent (terminated by an operator,
 * timed out, or a report that failed): their outcome, from Temporal. A child still running, or
 * continued as new (its next run reports), is left out. A missing id is failed: nothing will ever
 * report it.
 */
export async function closedChildren(input: { workflowIds: readonly string[] }): Promise<Outcome[]> {
  return activity(async () => {
    const client = Context.current().client;
    const out: Outcome[] = [];
    for (const id of input.workflowIds) {
      const handle = client.workflow.getHandle(id);
      let status: string;
      try {
        status = (await handle.describe()).status.name;
      } catch (e) {
        if ((e as Error).name !== 'WorkflowNotFoundError') throw e;
        out.push({ source: '', status: 'failed', error: `child workflow ${id} not found`, workflowId: id });
        continue;
      }
      if (status === 'RUNNING' || status === 'CONTINUED_AS_NEW') continue;
      const job = await startInput(handle);
      const source = job.source ?? '';
      if (status === 'COMPLETED') {
        const r = (await handle.result()) as CompressImageResult;
        out.push(outcomeOf(source, r, id));
      } else {
        out.push({ source, output: job.output, status: 'failed', error: `child workflow closed as ${status} without reporting`, workflowId: id });
      }
    }
    return out;
  });
}
