/**
 * Planning one page of a bulk job: which sources to compress, which are done already, which are
 * bad. Runs on io workers with no model (the job carries the model's hash) and costs, per page:
 *   prefix mode    one listing of the sources and one of the outputs in the same key range
 *                  (a merge-join: sources without an output need no request at all), plus one
 *                  HEAD for each source whose output exists, many at once;
 *   manifest mode  one ranged read of the manifest per MiB, plus one HEAD per listed object.
 * Pure over ObjectStore, so the benchmark runs it without Temporal.
 */
import { CompressImageInput, WORK_ROOT } from '../src/orchestration/types.js';
import {
  ManifestLine, childJob, outcomeOf, type BulkArchiveInput, type BulkCursor, type Outcome, type PlannedBatch, type PlannedItem,
} from '../src/orchestration/bulk-types.js';
import { compressWorkflowId, outputKeyFor } from '../src/orchestration/output-key.js';
import { readManifestPage } from '../src/orchestration/manifest-reader.js';
import { compareKeys, type ObjectEntry, type ObjectStore } from '../src/storage/index.js';
import { judgeOutput, readOutputFacts } from './existing-output.js';

interface Candidate {
  readonly key: string;
  readonly overrides?: PlannedItem['overrides'];
  readonly error?: string;
  readonly etag?: string;
}

export interface PlanOptions {
  /** HEADs of existing outputs in flight at once. */
  readonly headConcurrency?: number;
  /** Listing entries looked at per page at most (filtered ones too), so one call stays short. */
  readonly maxScan?: number;
}

const DEFAULTS = { headConcurrency: 32, maxScan: 20_000 };

/** Sources after the cursor, filtered to images that are not our own outputs. */
async function listSources(store: ObjectStore, job: BulkArchiveInput, cursor: BulkCursor, limit: number, maxScan: number) {
  const found: Candidate[] = [];
  const suffixes = job.suffixes.map((s) => s.toLowerCase());
  const sameStore = job.outputStore === undefined || job.outputStore === job.store;
  let last: string | undefined;
  let scanned = 0;
  for await (const e of store.list(job.prefix, { startAfter: cursor.after })) {
    last = e.key;
    scanned++;
    // Our own outputs and work objects never count as sources, even under the source prefix.
    const ours = sameStore && (e.key.startsWith(job.outputPrefix) || e.key.startsWith(WORK_ROOT));
    if (!ours && suffixes.some((s) => e.key.toLowerCase().endsWith(s))) {
      // Listing ETags name a version of an S3 object; a local store's do not travel with copies.
      found.push({ key: e.key, ...(e.etag && job.store.startsWith('s3:') ? { etag: e.etag } : {}) });
    }
    if (found.length >= limit || scanned >= maxScan) return { found, next: { after: last } };
  }
  return { found, next: null };
}

/** Outputs in [lo, hi] (bytewise), in one listing: the other side of the merge-join. */
async function listOutputs(store: ObjectStore, prefix: string, lo: string, hi: string): Promise<Map<string, ObjectEntry>> {
  const out = new Map<string, ObjectEntry>();
  // startAfter is exclusive; any key before `lo` qualifies, and lo minus its last character is one.
  const startAfter = lo.length > prefix.length ? lo.slice(0, -1) : undefined;
  for await (const e of store.list(prefix, { startAfter })) {
    if (compareKeys(e.key, hi) > 0) break;
    out.set(e.key, e);
  }
  return out;
}

async function listManifest(store: ObjectStore, job: BulkArchiveInput, cursor: BulkCursor, limit: number) {
  const page = await readManifestPage(store, job.manifest!, { offset: cursor.offset ?? 0, line: cursor.line ?? 1, etag: cursor.etag }, { maxLines: limit });
  const found: Candidate[] = [];
  const where = (line: number) => `${job.manifest}#line${line}`;
  for (const e of page.errors) found.push({ key: where(e.line), error: `manifest line ${e.line}: ${e.error}` });
  for (const l of page.lines) {
    let raw: unknown;
    try {
      raw = JSON.parse(l.text);
    } catch (e) {
      found.push({ key: where(l.line), error: `manifest line ${l.line} is not JSON: ${(e as Error).message}` });
      continue;
    }
    const r = ManifestLine.safeParse(raw);
    if (!r.success) {
      const key = typeof (raw as { key?: unknown })?.key === 'string' ? (raw as { key: string }).key : where(l.line);
      found.push({ key, error: `manifest line ${l.line}: ${r.error.issues.map((x) => `${x.path.join('.') || '(line)'}: ${x.message}`).join('; ')}` });
      continue;
    }
    const { key, ...overrides } = r.data;
    found.push({ key, overrides });
  }
  return { found, next: page.next };
}

/** Runs f over items with at most `n` in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], n: number, f: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

/**
 * Lists up to `limit` sources from `cursor` and plans each: run, skip (a matching .dfc is there)
 * or fail (bad manifest line or parameters). `modelHash` is the job's model, resolved already.
 */
export async function planPage(
  src: ObjectStore, out: ObjectStore, job: BulkArchiveInput, cursor: BulkCursor, limit: number, modelHash: string, opts: PlanOptions = {},
): Promise<PlannedBatch> {
  const o = { ...DEFAULTS, ...opts };
  const { found, next } = job.manifest ? await listManifest(src, job, cursor, limit) : await listSources(src, job, cursor, limit, o.maxScan);
  const outStore = job.outputStore ?? job.store;
  const known: Outcome[] = [];
  const planned: { item: PlannedItem; job: CompressImageInput }[] = [];
  for (const c of found) {
    if (c.error) {
      known.push({ source: c.key, status: 'failed', error: c.error });
      continue;
    }
    const output = outputKeyFor(c.key, job.prefix, job.outputPrefix);
    const item: PlannedItem = {
      workflowId: compressWorkflowId(outStore, output), source: c.key, output,
      ...(c.overrides && Object.keys(c.overrides).length ? { overrides: c.overrides } : {}),
      ...(c.etag ? { sourceVersion: { etag: c.etag } } : {}),
    };
    const parsed = CompressImageInput.safeParse(childJob(job, item, modelHash));
    if (!parsed.success) {
      known.push({ source: c.key, output, status: 'failed', error: `invalid parameters: ${parsed.error.issues.map((x) => `${x.path.join('.') || '(job)'}: ${x.message}`).join('; ')}` });
      continue;
    }
    planned.push({ item, job: parsed.data });
  }

  // Which planned outputs exist: the merge-join (prefix mode) or a HEAD each (manifest mode).
  let exists: (key: string) => boolean = () => true;
  if (!job.manifest && planned.length > 0) {
    const keys = planned.map((p) => p.item.output).sort(compareKeys);
    const listed = await listOutputs(out, job.outputPrefix, keys[0], keys[keys.length - 1]);
    exists = (key) => listed.has(key);
  }
  const run: PlannedItem[] = [];
  const judged = await mapLimit(planned, o.headConcurrency, async (p) => {
    if (!exists(p.item.output)) return null;
    const facts = await readOutputFacts(out, p.item.output);
    return facts === null ? null : judgeOutput(facts, { ...p.job, modelHash });
  });
  planned.forEach((p, i) => {
    const j = judged[i];
    if (j && 'skipped' in j) {
      known.push(outcomeOf(p.item.source, j.skipped));
    } else run.push(p.item);
  });
  return { run, known, next };
}
