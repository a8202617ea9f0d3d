/**
 * Checks of the options both stores take (ranges, ETags, user metadata), so that a request a
 * local store accepts is one S3 accepts too, and the other way round.
 */
import { z } from 'zod';
import { StorageError } from './errors.js';
import type { GetOptions, PutOptions } from './types.js';

/** S3's limit on user metadata, in bytes. Counted as MinIO counts it, the stricter of the two:
 *  each key with its "x-amz-meta-" header prefix, plus its value (AWS leaves the prefix out). */
export const MAX_METADATA_BYTES = 2048;
const HEADER_PREFIX_BYTES = 'x-amz-meta-'.length;

export function metadataBytes(m: Readonly<Record<string, string>>): number {
  return Object.entries(m).reduce((n, [k, v]) => n + HEADER_PREFIX_BYTES + k.length + v.length, 0);
}

/** An ETag as every store reports it: without the surrounding quotes HTTP puts on it. */
export function normaliseEtag(etag: string): string {
  return etag.replace(/^"(.*)"$/, '$1');
}

/** As HTTP's If-Match wants it: quoted (S3 compares quoted ETags; MinIO accepts both). */
export function quoteEtag(etag: string): string {
  return `"${normaliseEtag(etag)}"`;
}

const Etag = z.string().min(1).max(1024).refine((s) => normaliseEtag(s) !== '', 'an empty ETag')
  // Travels as an HTTP header: printable ASCII only.
  .refine((s) => /^[\x20-\x7e]+$/.test(s), 'an ETag is printable ASCII');

const Metadata = z.record(
  z.string().regex(/^[a-z0-9-]+$/, 'metadata keys are lower-case letters, digits and -'),
  z.string().regex(/^[\x20-\x7e]*$/, 'metadata values are printable ASCII'),
).refine((m) => metadataBytes(m) <= MAX_METADATA_BYTES,
  `metadata is at most ${MAX_METADATA_BYTES} bytes (each key with its x-amz-meta- prefix, and its value)`);

const GetOpts = z.object({
  ifMatch: Etag.optional(),
  versionId: z.string().min(1).max(1024).regex(/^[\x20-\x7e]+$/, 'a version id is printable ASCII').optional(),
}).strict();

const PutOpts = z.object({
  ifNoneMatch: z.boolean().optional(),
  ifMatch: Etag.optional(),
  contentType: z.string().optional(),
  metadata: Metadata.optional(),
}).strict().refine((o) => !(o.ifNoneMatch && o.ifMatch !== undefined), 'ifNoneMatch and ifMatch cannot be combined');

function parse<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const r = schema.safeParse(input ?? {});
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => `${i.path.join('.') || '(options)'}: ${i.message}`).join('; ');
  throw new StorageError('invalid', `bad ${what} options: ${issues}`);
}

export function checkGetOptions(opts: GetOptions | undefined): GetOptions {
  const o = parse(GetOpts, opts, 'read');
  return { ...o, ...(o.ifMatch !== undefined ? { ifMatch: normaliseEtag(o.ifMatch) } : {}) };
}

export function checkPutOptions(opts: PutOptions | undefined): PutOptions {
  const o = parse(PutOpts, opts, 'put');
  return { ...o, ...(o.ifMatch !== undefined ? { ifMatch: normaliseEtag(o.ifMatch) } : {}) };
}

/** [start, end) as given to getRange: non-negative integers, end >= start (end omitted: to the end). */
export function checkRange(start: number, end: number | undefined): void {
  const ok = (n: number) => Number.isSafeInteger(n) && n >= 0;
  if (!ok(start)) throw new StorageError('invalid', `bad range start ${start} (a non-negative integer)`);
  if (end !== undefined && (!ok(end) || end < start)) throw new StorageError('invalid', `bad range end ${end} (an integer >= the start ${start})`);
}
