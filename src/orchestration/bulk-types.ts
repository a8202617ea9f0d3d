/**
 * bulkArchive's boundary: a prefix (or a JSONL manifest) of source objects -> one compressImage
 * per object, and a JSONL manifest of outcomes under `<outputPrefix>_jobs/<jobId>/`.
 */
import { z } from 'zod';
import { EncodeSettings, RateParams, StoreUrl, type CompressImageInput } from './types.js';

export const IMAGE_SUFFIXES = ['.png', '.jpg', '.jpeg', '.webp', '.tif', '.tiff', '.avif', '.gif'];

export const BulkArchiveInput = z.object({
  /** Source store (file:///dir or s3://bucket/prefix); sources are only ever read. */
  store: StoreUrl,
  /** Compress every object under this key prefix whose name ends in one of `suffixes` ... */
  prefix: z.string().default(''),
  /** ... or the objects a JSONL manifest in `store` lists, one {"key": ..., "bpp"?, "steps"?, "seed"?} per line. */
  manifest: z.string().min(1).optional(),
  suffixes: z.array(z.string().min(1)).min(1).default(IMAGE_SUFFIXES),
  /** Where the .dfc files go (default: the source store) and under which prefix: `<outputPrefix><key minus prefix>.dfc`. */
  outputStore: StoreUrl.optional(),
  outputPrefix: z.string().min(1).refine((p) => p.endsWith('/'), 'outputPrefix must end with /'),
  ...RateParams.shape,
  ...EncodeSettings.shape,
  /** Child workflows in flight at once. */
  concurrency: z.number().int().min(1).max(10_000).default(8),
  /** Objects per workflow run; the job continues as new after each, so history stays bounded. */
  objectsPerRun: z.number().int().min(1).max(5_000).default(500),
  /** Names the job's manifest folder and its children's workflow ids. */
  jobId: z.string().min(1).max(200).regex(/^[A-Za-z0-9._-]+$/, 'jobId: letters, digits, . _ -'),
}).strict()
  .refine((a) => a.bpp === undefined || a.steps === undefined, { message: 'give at most one of bpp, steps' });
export type BulkArchiveInput = z.infer<typeof BulkArchiveInput>;

/** A manifest line naming one source, with optional per-object rate overrides. */
export const ManifestLine = z.object({ key: z.string().min(1) }).merge(RateParams.partial()).strict();

/** Where the listing continues: after a key (prefix mode) or at a line (manifest mode). */
export interface BulkCursor {
  readonly after?: string;
  readonly line?: number;
}

export interface BulkTotals {
  readonly ok: number;
  readonly skipped: number;
  readonly failed: number;
  readonly bytesOut: number;
  readonly runs: number;
}

export const ZERO_TOTALS: BulkTotals = { ok: 0, skipped: 0, failed: 0, bytesOut: 0, runs: 0 };

/** What a run carries into the next (continue-as-new). */
export interface BulkState {
  readonly cursor: BulkCursor;
  readonly totals: BulkTotals;
}

/** One manifest record: every object ends as exactly one of these. */
export type Outcome =
  | { readonly source: string; readonly output: string; readonly status: 'ok' | 'skipped'; readonly bytes: number; readonly bpp: number; readonly steps: number; readonly workflowId?: string }
  | { readonly source: string; readonly output?: string; readonly status: 'failed'; readonly error: string; readonly workflowId?: string };

/** planBatch's answer: objects to compress (validated jobs), and outcomes already known. */
export interface PlannedBatch {
  readonly run: readonly { readonly workflowId: string; readonly job: CompressImageInput }[];
  readonly known: readonly Outcome[];
  /** null: the listing is exhausted. */
  readonly next: BulkCursor | null;
}

export interface BulkSummary extends BulkTotals {
  readonly phase: 'running' | 'done';
  readonly inFlight: number;
  /** Key of the final manifest (in the output store), once done. */
  readonly manifest?: string;
}

export const jobFolder = (job: Pick<BulkArchiveInput, 'outputPrefix' | 'jobId'>): string => `${job.outputPrefix}_jobs/${job.jobId}/`;
