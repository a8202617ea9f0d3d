/**
 * bulkArchive's activities (io queue): list a batch of sources and decide what each needs,
 * write a run's manifest part, and join the parts into the job's manifest.
 *
 * Planning validates each object's job with zod (a bad manifest line or bad parameters become a
 * 'failed' outcome, not a failed job) and skips objects whose output already holds a matching
 * .dfc, so a rerun of the same job does no encode work for what is done.
 */
import { createHash } from 'node:crypto';
import { CompressImageInput, ENCODE_SETTING_KEYS } from '../src/orchestration/types.js';
import {
  jobFolder, ManifestLine, type BulkArchiveInput, type BulkCursor, type BulkTotals, type Outcome, type PlannedBatch,
} from '../src/orchestration/bulk-types.js';
import type { ObjectStore } from '../src/storage/index.js';
import { activity } from './failures.js';
import { existingOutput } from './compress.js';
import { withStore, json } from './store-io.js';

interface Candidate {
  readonly key: string;
  readonly overrides: Record<string, unknown>;
  readonly error?: string;
}

const PART_DIGITS = 6;
export const partKey = (job: BulkArchiveInput, run: number): string => `${jobFolder(job)}part-${String(run).padStart(PART_DIGITS, '0')}.jsonl`;
export const manifestKey = (job: BulkArchiveInput): string => `${jobFolder(job)}manifest.jsonl`;

/** The child's workflow id: one per (job, source key), stable across reruns and retries. */
function childId(job: BulkArchiveInput, key: string): string {
  return `${job.jobId}/${createHash('sha256').update(key).digest('hex').slice(0, 32)}`;
}

function outputFor(job: BulkArchiveInput, key: string): string {
  const rel = key.startsWith(job.prefix) ? key.slice(job.prefix.length) : key;
  return `${job.outputPrefix}${rel}.dfc`;
}

async function listPrefix(store: ObjectStore, job: BulkArchiveInput, cursor: BulkCursor, limit: number): Promise<{ found: Candidate[]; next: BulkCursor | null }> {
  const found: Candidate[] = [];
  const suffixes = job.suffixes.map((s) => s.toLowerCase());
  const outDir = job.outputStore === undefined || job.outputStore === job.store ? job.outputPrefix : undefined;
  let last: string | undefined;
  for await (const e of store.list(job.prefix, { startAfter: cursor.after })) {
    last = e.key;
    // Our own outputs never count as sources, even when they live under the source prefix.
    if (outDir !== undefined && e.key.startsWith(outDir)) continue;
    if (!suffixes.some((s) => e.key.toLowerCase().endsWith(s))) continue;
    found.push({ key: e.key, overrides: {} });
    if (found.length >= limit) return { found, next: { after: last } };
  }
  return { found, next: null };
}

async function listManifest(store: ObjectStore, job: BulkArchiveInput, cursor: BulkCursor, limit: number): Promise<{ found: Candidate[]; next: BulkCursor | null }> {
  const lines = new TextDecoder().decode(await store.get(job.manifest!)).split('\n');
  const found: Candidate[] = [];
  let i = cursor.line ?? 0;
  for (; i < lines.length && found.length < limit; i++) {
    const text = lines[i].trim();
    if (text === '') continue;
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (e) {
      found.push({ key: `${job.manifest}#line${i + 1}`, overrides: {}, error: `manifest line ${i + 1} is not JSON: ${(e as Error).message}` });
      continue;
    }
    const r = ManifestLine.safeParse(raw);
    if (!r.success) {
      const key = typeof (raw as { key?: unknown })?.key === 'string' ? (raw as { key: string }).key : `${job.manifest}#line${i + 1}`;
      found.push({ key, overrides: {}, error: `manifest line ${i + 1}: ${r.error.issues.map((x) => `${x.path.join('.') || '(line)'}: ${x.message}`).join('; ')}` });
      continue;
    }
    const { key, ...overrides } = r.data;
    found.push({ key, overrides });
  }
  return { found, next: i < lines.length ? { line: i } : null };
}

/** Lists up to `limit` sources from `cursor` and plans each: run, skip (done already) or fail. */
export async function planBatch(input: { job: BulkArchiveInput; cursor: BulkCursor; limit: number }): Promise<PlannedBatch> {
  return activity(async () => {
    const { job, cursor, limit } = input;
    const { found, next } = await withStore(job.store, (s) => (job.manifest ? listManifest(s, job, cursor, limit) : listPrefix(s, job, cursor, limit)));
    const settings = Object.fromEntries(ENCODE_SETTING_KEYS.map((k) => [k, job[k]]));
    const run: { workflowId: string; job: CompressImageInput }[] = [];
    const known: Outcome[] = [];
    await withStore(job.outputStore ?? job.store, async (out) => {
      for (const c of found) {
        if (c.error) {
          known.push({ source: c.key, status: 'failed', error: c.error });
          continue;
        }
        const output = outputFor(job, c.key);
        const parsed = CompressImageInput.safeParse({
          store: job.store, source: c.key, outputStore: job.outputStore, output,
          bpp: job.bpp, steps: job.steps, seed: job.seed, ...c.overrides, ...settings,
        });
        if (!parsed.success) {
          known.push({ source: c.key, output, status: 'failed', error: `invalid parameters: ${parsed.error.issues.map((x) => `${x.path.join('.') || '(job)'}: ${x.message}`).join('; ')}` });
          continue;
        }
        const existing = await existingOutput(out, parsed.data);
        if (existing && 'skipped' in existing) {
          const r = existing.skipped;
          known.push({ source: c.key, output, status: 'skipped', bytes: r.bytes, bpp: r.bpp, steps: r.steps });
          continue;
        }
        run.push({ workflowId: childId(job, c.key), job: parsed.data });
      }
    });
    return { run, known, next };
  });
}

/** One run's outcomes as JSONL, under a name fixed by the run number (a retry rewrites the same object). */
export async function writeManifestPart(input: { job: BulkArchiveInput; run: number; outcomes: readonly Outcome[] }): Promise<string> {
  return activity(async () => {
    const key = partKey(input.job, input.run);
    const text = input.outcomes.map((o) => JSON.stringify(o)).join('\n') + (input.outcomes.length ? '\n' : '');
    await withStore(input.job.outputStore ?? input.job.store, (s) => s.put(key, new TextEncoder().encode(text), { contentType: 'application/x-ndjson' }));
    return key;
  });
}

/** Joins the parts of runs 1..runs into manifest.jsonl and writes summary.json next to it. */
export async function finishManifest(input: { job: BulkArchiveInput; runs: number; totals: BulkTotals }): Promise<string> {
  return activity(() => withStore(input.job.outputStore ?? input.job.store, async (s) => {
    const parts: Uint8Array[] = [];
    for (let r = 1; r <= input.runs; r++) parts.push(await s.get(partKey(input.job, r)));
    const all = Buffer.concat(parts);
    const key = manifestKey(input.job);
    await s.put(key, all, { contentType: 'application/x-ndjson' });
    await s.put(`${jobFolder(input.job)}summary.json`, json({ ...input.totals, manifest: key }), { contentType: 'application/json' });
    return key;
  }));
}
