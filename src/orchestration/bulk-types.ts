/**
 * bulkArchive's boundary: a prefix (or a JSONL manifest) of source objects -> one compressImage
 * per object, and a JSONL manifest of outcomes under `<outputPrefix>_jobs/<jobId>/`.
 */
import { z } from 'zod';
import type { QualityReport, QualityTarget } from '../pipeline/quality-target.js';
import { ENCODE_SETTING_KEYS, EncodeSettings, ModelHashHex, RateParams, StoreUrl, type CompressImageResult, type SourceVersion } from './types.js';

export const MAX_CONCURRENCY = 1000;
export const MAX_OBJECTS_PER_RUN = 1000;
/** Sources listed and planned per planBatch call: its answer (keys ≤ 1 KiB each) stays well under
 *  Temporal's 2 MB payload limit. */
export const MAX_PAGE = 500;
/** Outcomes per manifest part: parts are written as they fill, not at the end. */
export const PART_OUTCOMES = 1000;

export const IMAGE_SUFFIXES = ['.png', '.jpg', '.jpeg', '.webp', '.tif', '.tiff', '.avif', '.gif'];

export const BulkArchiveInput = z.object({
  /** Source store (file:///dir or s3://bucket/prefix); sources are only ever read. */
  store: StoreUrl,
  /** Compress every object under this key prefix whose name ends in one of `suffixes` ... */
  prefix: z.string().default(''),
  /** ... or the objects a JSONL manifest in `store` lists, one {"key": ..., "bpp"?, "steps"?, "targetQuality"?, "seed"?} per line. */
  manifest: z.string().min(1).optional(),
  suffixes: z.array(z.string().min(1)).min(1).default(IMAGE_SUFFIXES),
  /** Where the .dfc files go (default: the source store) and under which prefix: `<outputPrefix><key minus prefix>.dfc`. */
  outputStore: StoreUrl.optional(),
  outputPrefix: z.string().min(1).refine((p) => p.endsWith('/'), 'outputPrefix must end with /'),
  ...RateParams.shape,
  ...EncodeSettings.shape,
  /**
   * Child workflows in flight at once, kept full as children finish (a sliding window carried
   * across continue-as-new). At most 1000: Temporal refuses more than 2000 pending children per
   * workflow (limit.numPendingChildExecutions), and the in-flight ids travel in the
   * continue-as-new payload (2 MB limit).
   */
  concurrency: z.number().int().min(1).max(MAX_CONCURRENCY).default(8),
  /**
   * Children started per workflow run before it continues as new. Each object costs about ten
   * history events (child start, its signal and completion, workflow tasks; 490 for the 50 of
   * test/histories/bulk-archive-run1.pb); 1000 keeps a run near Temporal's
   * 10k-event warning and far from its 50k limit. A run also continues as new early when the
   * server suggests it.
   */
  objectsPerRun: z.number().int().min(1).max(MAX_OBJECTS_PER_RUN).default(500),
  /** With children in flight and none reporting for this long, ask Temporal which have closed
   *  (a terminated child cannot report itself). */
  stallCheckSeconds: z.number().int().min(5).max(86_400).default(300),
  /** The model's hash, when the submitter knows it; else resolved once on a gpu worker. */
  modelHash: ModelHashHex.optional(),
  /** Names the job's manifest folder and its children's workflow ids. */
  jobId: z.string().min(1).max(200).regex(/^[A-Za-z0-9._-]+$/, 'jobId: letters, digits, . _ -'),
}).strict()
  .refine((a) => a.bpp === undefined || a.steps === undefined, { message: 'give at most one of bpp, steps' });
export type BulkArchiveInput = z.infer<typeof BulkArchiveInput>;

/** A manifest line naming one source, with optional per-object rate overrides. */
export const ManifestLine = z.object({ key: z.string().min(1) }).merge(RateParams.partial()).strict();

/** Where the listing continues: after a key (prefix mode) or at a byte offset (manifest mode). */
export interface BulkCursor {
  readonly after?: string;
  /** Manifest mode: byte offset of the next line, its 1-based number, and the manifest's ETag. */
  readonly offset?: number;
  readonly line?: number;
  readonly etag?: string;
}

export interface BulkTotals {
  readonly ok: number;
  readonly skipped: number;
  readonly failed: number;
  /** Another workflow was already writing the output (a trigger's run, another job's child). */
  readonly deferred: number;
  readonly bytesOut: number;
  readonly runs: number;
  /** Manifest parts written so far. */
  readonly parts: number;
}

export const ZERO_TOTALS: BulkTotals = { ok: 0, skipped: 0, failed: 0, deferred: 0, bytesOut: 0, runs: 0, parts: 0 };

/** What a run carries into the next (continue-as-new): small, whatever the job's size. */
export interface BulkState {
  readonly cursor: BulkCursor | null;
  readonly totals: BulkTotals;
  /** Children started by earlier runs and not yet reported. */
  readonly inFlight: readonly string[];
  readonly modelHash?: string;
}

/** One manifest record: every object ends as exactly one of these. */
export type Outcome =
  | {
    readonly source: string; readonly output: string; readonly status: 'ok' | 'skipped'; readonly bytes: number; readonly bpp: number; readonly steps: number;
    readonly target_quality?: QualityReport; readonly workflowId?: string;
  }
  | { readonly source: string; readonly output?: string; readonly status: 'failed' | 'deferred'; readonly error: string; readonly workflowId?: string };

/** One object to compress: the child's job is the bulk job's settings plus these. */
export interface PlannedItem {
  readonly workflowId: string;
  readonly source: string;
  readonly output: string;
  /** Per-object rate overrides from a manifest line (already validated). */
  readonly overrides?: { readonly bpp?: number; readonly steps?: number; readonly targetQuality?: QualityTarget; readonly seed?: number };
  /** The listed version of the source (prefix mode on S3). */
  readonly sourceVersion?: SourceVersion;
}

/** planBatch's answer: objects to compress, and outcomes already known (skipped, invalid). */
export interface PlannedBatch {
  readonly run: readonly PlannedItem[];
  readonly known: readonly Outcome[];
  /** null: the listing is exhausted. */
  readonly next: BulkCursor | null;
}

export interface BulkSummary extends BulkTotals {
  readonly phase: 'running' | 'done' | 'cancelled';
  readonly inFlight: number;
  /** Key of the manifest index (in the output store), once done. */
  readonly manifest?: string;
}

export const jobFolder = (job: Pick<BulkArchiveInput, 'outputPrefix' | 'jobId'>): string => `${job.outputPrefix}_jobs/${job.jobId}/`;

/** The manifest index: the parts in order; concatenated they are the JSONL manifest. */
export interface ManifestIndex {
  readonly version: 1;
  readonly jobId: string;
  readonly parts: readonly string[];
  readonly lines: number;
}

/**
 * A child's compressImage job: the bulk job's settings plus the item. Pure and deterministic: the
 * planner validates exactly this object (zod), and the workflow rebuilds it without a payload per
 * child crossing the activity boundary.
 */
export function childJob(job: BulkArchiveInput, item: PlannedItem, modelHash: string | undefined): Record<string, unknown> {
  const settings = Object.fromEntries(ENCODE_SETTING_KEYS.map((k) => [k, job[k]]));
  // A manifest line's rate (bpp, steps, quality target) replaces the job's whole rate rather than adding to it.
  const o = item.overrides;
  const ownRate = o?.bpp !== undefined || o?.steps !== undefined || o?.targetQuality !== undefined;
  const rate = ownRate ? {} : {
    ...(job.bpp !== undefined ? { bpp: job.bpp } : {}), ...(job.steps !== undefined ? { steps: job.steps } : {}),
    ...(job.targetQuality !== undefined ? { targetQuality: job.targetQuality } : {}),
  };
  return {
    store: job.store, source: item.source, ...(job.outputStore !== undefined ? { outputStore: job.outputStore } : {}), output: item.output,
    ...rate, seed: job.seed,
    ...item.overrides, ...settings, skipExisting: true,
    ...(item.sourceVersion ? { sourceVersion: item.sourceVersion } : {}),
    ...(modelHash !== undefined ? { modelHash } : {}),
  };
}

/** A child's result as its manifest line: done, skipped, or deferred when superseded (no workflowId: judged by the planner). */
export function outcomeOf(source: string, r: CompressImageResult, workflowId?: string): Outcome {
  const wf = workflowId !== undefined ? { workflowId } : {};
  return r.superseded
    ? { source, output: r.output, status: 'deferred', error: `superseded: ${r.reason ?? 'a newer version of the source'}`, ...wf }
    : {
      source, output: r.output, status: r.skipped ? 'skipped' : 'ok', bytes: r.bytes, bpp: r.bpp, steps: r.steps,
      ...(r.target_quality ? { target_quality: r.target_quality } : {}), ...wf,
    };
}
