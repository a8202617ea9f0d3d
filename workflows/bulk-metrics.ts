/**
 * A bulk job's progress as metrics, from the workflow itself: the SDK's workflow metricMeter,
 * which emits only outside replay and issues no commands, so recorded histories replay as before.
 * They reach Prometheus through the SDK's exporter, which the worker's /metrics appends: one set of
 * gauges per job_id on the io worker running the job's current run (the SDK adds namespace,
 * task_queue and workflow_type). Gauges cannot be removed there, so a run leaving a worker (it
 * ends, or continues as new, maybe elsewhere) sets diffc_bulk_active to 0 on it; dashboards read
 * the series whose active is 1.
 */
import { metricMeter, workflowInfo } from '@temporalio/workflow';
import type { MetricGauge } from '@temporalio/common';
import type { BulkTotals } from '../src/orchestration/bulk-types.js';

/** The series this module emits (the dashboard test checks these against a real scrape). */
export const BULK_METRICS = ['diffc_bulk_objects', 'diffc_bulk_eta_seconds', 'diffc_bulk_listing_complete', 'diffc_bulk_active'] as const;

/** Made per report (they are plain descriptors): no module state is shared between workflows. */
function meter(): Record<'objects' | 'eta' | 'listed' | 'active', MetricGauge> {
  return {
    objects: metricMeter.createGauge('diffc_bulk_objects', 'int', '',
      'Objects of a bulk job by status: ok, skipped, failed, deferred (outcomes so far), in_flight, listed (all listed so far).'),
    eta: metricMeter.createGauge('diffc_bulk_eta_seconds', 'float', '',
      'Seconds left for the objects listed so far at the job\'s mean rate (the whole job once listing is complete).'),
    listed: metricMeter.createGauge('diffc_bulk_listing_complete', 'int', '', '1 once every source of the job is listed.'),
    active: metricMeter.createGauge('diffc_bulk_active', 'int', '', '1 on the worker running the job\'s current run; 0 once the run left it.'),
  };
}

export interface BulkProgress {
  readonly totals: BulkTotals;
  readonly inFlight: number;
  /** Planned, not started yet. */
  readonly pending: number;
  readonly listingComplete: boolean;
  /** false: this run is ending here (done, cancelled, or continuing as new). */
  readonly active: boolean;
}

export function reportBulk(jobId: string, p: BulkProgress): void {
  if (workflowInfo().unsafe.isReplaying) return; // the meter skips replay too; this skips the arithmetic
  const g = meter();
  const tags = { job_id: jobId };
  const { ok, skipped, failed, deferred } = p.totals;
  const done = ok + skipped + failed + deferred;
  const listed = done + p.inFlight + p.pending;
  for (const [status, n] of [['ok', ok], ['skipped', skipped], ['failed', failed], ['deferred', deferred], ['in_flight', p.inFlight], ['listed', listed]] as const) {
    g.objects.set(n, { ...tags, status });
  }
  // The job's mean rate since its first run started (totals are carried across continue-as-new).
  const elapsed = (Date.now() - workflowInfo().startTime.getTime()) / 1000;
  const left = listed - done;
  if (left === 0) g.eta.set(0, tags);
  else if (done > 0 && elapsed > 0) g.eta.set(left / (done / elapsed), tags);
  g.listed.set(p.listingComplete ? 1 : 0, tags);
  g.active.set(p.active ? 1 : 0, tags);
}
