/**
 * Is the .dfc already at a job's output the one this job would write? Decided with no model and
 * without fetching the file, so it runs on io workers (which mount no model cache) and costs one
 * small request per existing output:
 *   - a HEAD, when the output carries the metadata our final put writes (model hash, seed, image
 *     size, steps and the source version it was made from);
 *   - else a ranged read of the file's first bytes, whose header says the same (less the source).
 * The job names its model by hash (CompressImageInput.modelHash, resolved once on a gpu worker).
 */
import { createHash } from 'node:crypto';
import { readDfcHeader, type DfcConditioning, type DfcHeader } from '../src/codec/format/index.js';
import { DfcError } from '../src/codec/format/errors.js';
import type { ObjectStore } from '../src/storage/index.js';
import type { CompressImageInput, CompressImageResult, SourceVersion } from '../src/orchestration/types.js';
import { sameSource } from '../src/orchestration/source-version.js';
import { meets, QualityTargetSpec, targetSpec, type QualityReport, type QualityTarget } from '../src/pipeline/quality-target.js';

/** User metadata keys on every .dfc the pipeline writes. */
export const OUTPUT_METADATA = {
  modelHash: 'diffc-model-hash',
  seed: 'diffc-seed',
  width: 'diffc-width',
  height: 'diffc-height',
  steps: 'diffc-steps',
  sourceEtag: 'diffc-source-etag',
  sourceVersionId: 'diffc-source-version-id',
  /** `<guidance>,<denoiseGuidance>` when the header has the conditioning field. */
  conditioning: 'diffc-guidance',
  /** promptDigest of the header's prompt ('' for none). */
  prompt: 'diffc-prompt-sha256',
  /** With a quality target: its spec (targetSpec, e.g. ssimulacra2=60) and the value the kept prefix reached. */
  targetQuality: 'diffc-target-quality',
  qualityReached: 'diffc-quality-reached',
} as const;

/** What an output records of its prompt: the first 128 bits of its UTF-8 sha256 in hex, '' for none. */
export function promptDigest(prompt: string | undefined): string {
  return prompt ? createHash('sha256').update(prompt, 'utf8').digest('hex').slice(0, 32) : '';
}

/** What the skip decision needs to know about an existing output. */
export interface OutputFacts {
  readonly bytes: number;
  readonly modelHash: string;
  readonly seed: number;
  readonly width: number;
  readonly height: number;
  readonly steps: number;
  /** The source version the output was made from, when it was recorded. */
  readonly source?: SourceVersion;
  /** promptDigest of its prompt; absent: not recorded (metadata of outputs written before prompts could be). */
  readonly prompt?: string;
  /** Its header's guidance; absent: the header has none (legacy) or the metadata does not say. */
  readonly conditioning?: DfcConditioning;
  /** The quality target it was made for and what it reached (metadata only: a header does not say). */
  readonly quality?: { readonly target: QualityTarget; readonly reached: number };
  /** The output's own ETag when read: what a conditional put that replaces it must match. */
  readonly etag?: string;
}

/** Header bytes read to judge an output without metadata: model and schedule ids are ≤ 255 bytes each. */
export const HEADER_PROBE_BYTES = 1024;
/** ... and when that ends inside the header (a long prompt or coding blob): every header fits (docs/format.md §3.3). */
export const HEADER_MAX_BYTES = 16 * 1024;

export const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** The metadata the final put attaches to a .dfc (`source`: the version it was made from). */
export function outputMetadata(header: DfcHeader, source: SourceVersion | undefined, quality?: QualityReport): Record<string, string> {
  const M = OUTPUT_METADATA;
  return {
    [M.modelHash]: hexOf(header.model.hash),
    [M.seed]: String(header.seed.lo + header.seed.hi * 2 ** 32),
    [M.width]: String(header.image.width),
    [M.height]: String(header.image.height),
    [M.steps]: String(header.stepsCoded),
    [M.prompt]: promptDigest(header.prompt),
    ...(header.conditioning ? { [M.conditioning]: `${header.conditioning.guidance},${header.conditioning.denoiseGuidance}` } : {}),
    ...(source?.etag ? { [M.sourceEtag]: asciiSafe(source.etag) } : {}),
    ...(source?.versionId ? { [M.sourceVersionId]: asciiSafe(source.versionId) } : {}),
    ...(quality ? { [M.targetQuality]: targetSpec({ metric: quality.metric, value: quality.target }), [M.qualityReached]: String(quality.reached) } : {}),
  };
}

/** An output's quality report as its metadata records it. */
export function qualityReport(q: NonNullable<OutputFacts['quality']>): QualityReport {
  return { metric: q.target.metric, target: q.target.value, reached: q.reached, target_met: meets(q.target, q.reached) };
}

function qualityFromMetadata(m: Readonly<Record<string, string>>): OutputFacts['quality'] {
  const spec = m[OUTPUT_METADATA.targetQuality], reached = Number(m[OUTPUT_METADATA.qualityReached]);
  const target = spec !== undefined ? QualityTargetSpec.safeParse(spec) : undefined;
  return target?.success && m[OUTPUT_METADATA.qualityReached] !== undefined && Number.isFinite(reached) ? { target: target.data, reached } : undefined;
}

// Metadata values travel as HTTP headers; ETags and version ids are ASCII in practice, but a
// value that is not is recorded escaped rather than rejected.
const asciiSafe = (v: string): string => (/^[\x20-\x7e]*$/.test(v) ? v : encodeURIComponent(v));

function factsFromMetadata(bytes: number, m: Readonly<Record<string, string>>): OutputFacts | undefined {
  const M = OUTPUT_METADATA;
  const int = (k: string) => (m[k] !== undefined && /^\d+$/.test(m[k]) ? Number(m[k]) : undefined);
  const hash = m[M.modelHash];
  const seed = int(M.seed), width = int(M.width), height = int(M.height), steps = int(M.steps);
  if (hash === undefined || !/^[0-9a-f]{16}$/.test(hash) || seed === undefined || width === undefined || height === undefined || steps === undefined) return undefined;
  const etag = m[M.sourceEtag], versionId = m[M.sourceVersionId];
  const source = etag || versionId ? { ...(etag ? { etag } : {}), ...(versionId ? { versionId } : {}) } : undefined;
  const prompt = m[M.prompt] !== undefined && /^([0-9a-f]{32})?$/.test(m[M.prompt]) ? m[M.prompt] : undefined;
  const g = /^([0-9.e+-]+),([0-9.e+-]+)$/.exec(m[M.conditioning] ?? '');
  const conditioning = g && Number.isFinite(Number(g[1])) && Number.isFinite(Number(g[2])) ? { guidance: Number(g[1]), denoiseGuidance: Number(g[2]) } : undefined;
  const quality = qualityFromMetadata(m);
  return {
    bytes, modelHash: hash, seed, width, height, steps, ...(source ? { source } : {}),
    ...(prompt !== undefined ? { prompt } : {}), ...(conditioning ? { conditioning } : {}), ...(quality ? { quality } : {}),
  };
}

/** What is at `key`: nothing (null), the facts of a .dfc, or why it is not one. */
export async function readOutputFacts(store: ObjectStore, key: string): Promise<OutputFacts | { invalid: string; etag?: string } | null> {
  const head = await store.head(key);
  if (!head) return null;
  const etag = head.etag ? { etag: head.etag } : {};
  const fromMeta = head.metadata ? factsFromMetadata(head.size, head.metadata) : undefined;
  if (fromMeta) return { ...fromMeta, ...etag };
  let header: DfcHeader | undefined;
  for (const probe of [HEADER_PROBE_BYTES, HEADER_MAX_BYTES]) {
    try {
      header = readDfcHeader(await store.getRange(key, 0, probe, head.etag ? { ifMatch: head.etag } : {}));
      break;
    } catch (e) {
      if (!(e instanceof DfcError)) throw e;
      if (e.code === 'truncated' && probe < HEADER_MAX_BYTES && head.size > probe) continue;
      return { invalid: `not a valid .dfc (${e.message})`, ...etag };
    }
  }
  if (!header) return { invalid: 'not a valid .dfc (no header)', ...etag };
  return {
    bytes: head.size, modelHash: hexOf(header.model.hash), seed: header.seed.lo + header.seed.hi * 2 ** 32,
    width: header.image.width, height: header.image.height, steps: header.stepsCoded, prompt: promptDigest(header.prompt),
    ...(header.conditioning ? { conditioning: header.conditioning } : {}), ...etag,
  };
}


export type Judgement = { readonly skipped: CompressImageResult } | { readonly redo: string };

/**
 * Keep or redo: the output is kept when it was coded with the job's model and seed, for the
 * image's size when known, within its rate, with the job's prompt, with the guidance the job names
 * (a job that names none takes the model's defaults, which an io worker cannot resolve: any
 * recorded guidance is kept), and (when the job names a source version) from that version.
 * `job.modelHash` must be resolved.
 */
export function judgeOutput(
  facts: OutputFacts | { invalid: string },
  job: Pick<CompressImageInput, 'output' | 'seed' | 'bpp' | 'steps' | 'targetQuality' | 'sourceVersion' | 'prompt' | 'guidance' | 'denoiseGuidance'> & { readonly modelHash: string },
  size?: { width: number; height: number },
): Judgement {
  if ('invalid' in facts) return { redo: facts.invalid };
  if (facts.modelHash !== job.modelHash) return { redo: `coded with another model (hash ${facts.modelHash}, not ${job.modelHash})` };
  if (facts.seed !== job.seed) return { redo: `seed ${facts.seed}, not ${job.seed}` };
  const { width, height } = facts;
  if (size && (size.width !== width || size.height !== height)) return { redo: `image ${width}x${height}, not ${size.width}x${size.height}` };
  const bpp = (8 * facts.bytes) / (width * height);
  if (job.bpp !== undefined && bpp > job.bpp) return { redo: 'over the bpp budget' };
  // With a target, steps is a cap on the chain the prefix was chosen from.
  if (job.steps !== undefined && (job.targetQuality ? facts.steps > job.steps : facts.steps !== job.steps)) return { redo: `${facts.steps} steps, not ${job.targetQuality ? 'at most ' : ''}${job.steps}` };
  // A target's prefix is only known by decoding: an output is kept when it was chosen for the same target.
  if (job.targetQuality) {
    const want = targetSpec(job.targetQuality);
    if (!facts.quality) return { redo: `made without a quality target, ${want} asked for` };
    const had = targetSpec(facts.quality.target);
    if (had !== want) return { redo: `made for ${had}, not ${want}` };
  }
  // Outputs whose metadata predates prompts were made by jobs that could not give one.
  const prompt = facts.prompt ?? '';
  if (prompt !== promptDigest(job.prompt)) return { redo: job.prompt ? 'coded with another prompt or none' : 'coded with a prompt' };
  for (const key of ['guidance', 'denoiseGuidance'] as const) {
    const want = job[key];
    if (want === undefined) continue;
    const had = facts.conditioning?.[key];
    if (had !== Math.fround(want)) return { redo: had === undefined ? `${key} not recorded, ${want} asked for` : `${key} ${had}, not ${want}` };
  }
  if (job.sourceVersion && (job.sourceVersion.etag || job.sourceVersion.versionId)) {
    if (!facts.source) return { redo: 'made from an unrecorded source version' };
    if (!sameSource(facts.source, job.sourceVersion)) return { redo: 'made from another version of the source' };
  }
  return { skipped: { output: job.output, bytes: facts.bytes, bpp, steps: facts.steps, skipped: true, ...(facts.quality ? { target_quality: qualityReport(facts.quality) } : {}) } };
}
