/**
 * Reads a JSONL manifest (up to ~10^7 lines, GBs) a page at a time with ranged GETs, never whole:
 * a page holds at most one chunk plus one line in memory.
 *
 * Lines end with '\n' (a '\r' before it is dropped); a UTF-8 BOM at offset 0 is dropped; blank
 * lines are skipped but keep their number; a last line without '\n' is a line. A line longer than
 * maxLineBytes, or not valid UTF-8, becomes an error entry for that line (reading goes on after
 * it) rather than an exception, so one bad line never stops a bulk job. The text is not parsed.
 *
 * The cursor pins the manifest's ETag: the first page (no etag) takes it from a HEAD, and every
 * read, that page's included, is pinned to it, so a manifest replaced mid-job fails with
 * StorageError 'changed' instead of mixing two files. The cursor is three small fields, fit to
 * carry as workflow state across Temporal.
 */
import { z } from 'zod';
import { LocalStore } from '../storage/local.js';
import { StorageError } from '../storage/errors.js';
import type { ObjectStore } from '../storage/types.js';

export const MiB = 1024 * 1024;

/** Where the next page starts: the byte offset and 1-based number of its first line, and the ETag the job pinned. */
export const ManifestCursor = z.object({
  offset: z.number().int().min(0),
  line: z.number().int().min(1),
  etag: z.string().min(1).max(1024).optional(),
}).strict();
export type ManifestCursor = z.infer<typeof ManifestCursor>;

export const ManifestPageOptions = z.object({
  /** Lines a page consumes at most, blank and bad ones included (so it may return fewer entries). */
  maxLines: z.number().int().min(1).max(1_000_000),
  /** Bytes per ranged GET. */
  chunkBytes: z.number().int().min(1).max(64 * MiB).default(MiB),
  /** Longer lines (without their '\r\n') are error entries. */
  maxLineBytes: z.number().int().min(1).max(16 * MiB).default(64 * 1024),
}).strict();
export type ManifestPageOptions = z.input<typeof ManifestPageOptions>;

export interface ManifestLineText {
  /** 1-based line number in the file, blank lines counted. */
  readonly line: number;
  /** Byte offset of the line's first byte (line 1 starts after a BOM). */
  readonly offset: number;
  readonly text: string;
}

export interface ManifestLineError {
  readonly line: number;
  readonly offset: number;
  readonly error: string;
}

export interface ManifestPage {
  /** In file order; errors in their own list, in file order too. */
  readonly lines: ManifestLineText[];
  readonly errors: ManifestLineError[];
  /** The cursor of the next page; null once the file is read to its end. A page that ends just
   *  before the end of the file may give a cursor whose page is empty (and whose next is null). */
  readonly next: { offset: number; line: number; etag: string } | null;
}

const NL = 0x0a;
const CR = 0x0d;
const BOM = [0xef, 0xbb, 0xbf];
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Reads the page of `key` in `store` that starts at `cursor` (the first page: { offset: 0, line: 1 }). */
export async function readManifestPage(
  store: ObjectStore, key: string, cursor: ManifestCursor, options: ManifestPageOptions,
): Promise<ManifestPage> {
  const c = parseOr(ManifestCursor, cursor, 'manifest cursor');
  const { maxLines, chunkBytes, maxLineBytes } = parseOr(ManifestPageOptions, options, 'manifest page options');
  let etag = c.etag;
  if (etag === undefined) {
    const head = await store.head(key);
    if (!head) throw new StorageError('not-found', `no manifest ${key} in ${store.url}`);
    if (!head.etag) throw new StorageError('io', `${store.url} gives no ETag for ${key}, so reads of the manifest cannot be pinned`);
    etag = head.etag;
  }
  const lines: ManifestLineText[] = [];
  const errors: ManifestLineError[] = [];

  let lineNo = c.line;
  let lineStart = c.offset; // offset of the line being assembled
  const parts: Uint8Array[] = []; // its bytes so far (pieces of earlier chunks), while not too long
  let partBytes = 0;
  let tooLong = false; // past maxLineBytes: its bytes are dropped until its '\n'
  let consumed = 0;
  let readAt = c.offset;
  let eof = false;

  const finish = (end: number, bytes: Uint8Array | null) => {
    // `end`: offset just past the line's '\n' (or the end of the file).
    const at = lineStart;
    const n = lineNo;
    lineNo++;
    lineStart = end;
    consumed++;
    if (tooLong) {
      tooLong = false;
      errors.push({ line: n, offset: at, error: `line is longer than ${maxLineBytes} bytes; skipped` });
      return;
    }
    let b = bytes ?? new Uint8Array(0);
    const offset = at;
    if (b.length > 0 && b[b.length - 1] === CR) b = b.subarray(0, b.length - 1);
    if (b.length === 0) return; // blank: counted, not returned
    if (b.length > maxLineBytes) {
      errors.push({ line: n, offset, error: `line is longer than ${maxLineBytes} bytes; skipped` });
      return;
    }
    let text: string;
    try {
      text = utf8.decode(b);
    } catch {
      errors.push({ line: n, offset, error: 'line is not valid UTF-8; skipped' });
      return;
    }
    lines.push({ line: n, offset, text });
  };

  const joined = (tail: Uint8Array): Uint8Array => {
    if (parts.length === 0) return tail;
    const out = new Uint8Array(partBytes + tail.length);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    out.set(tail, o);
    parts.length = 0;
    partBytes = 0;
    return out;
  };

  // Slack over maxLineBytes for the '\r' that finish() strips.
  const keepLimit = maxLineBytes + 1;
  while (consumed < maxLines && !eof) {
    // The first read of the file is at least a BOM long, so that it can be seen whole.
    const want = readAt === 0 ? Math.max(chunkBytes, BOM.length) : chunkBytes;
    const chunk = await store.getRange(key, readAt, readAt + want, { ifMatch: etag });
    const base = readAt;
    readAt += chunk.length;
    if (chunk.length < want) eof = true;
    let from = 0;
    if (base === 0 && startsWithBom(chunk)) {
      from = BOM.length; // line 1 starts after it
      lineStart = BOM.length;
    }
    while (consumed < maxLines) {
      const nl = chunk.indexOf(NL, from);
      if (nl < 0) break;
      const piece = chunk.subarray(from, nl);
      finish(base + nl + 1, tooLong ? null : joined(piece));
      from = nl + 1;
    }
    if (consumed >= maxLines) break;
    // The rest of the chunk begins a line that continues in the next one.
    const rest = chunk.subarray(from);
    if (!tooLong && rest.length > 0) {
      if (partBytes + rest.length > keepLimit) {
        tooLong = true;
        parts.length = 0;
        partBytes = 0;
      } else {
        parts.push(rest.slice()); // a copy: the chunk itself is let go
        partBytes += rest.length;
      }
    }
    if (eof && (partBytes > 0 || tooLong)) finish(readAt, tooLong ? null : joined(new Uint8Array(0)));
  }
  // At the end of the file with nothing left over, there is no next page.
  const done = eof && lineStart >= readAt;
  return { lines, errors, next: done ? null : { offset: lineStart, line: lineNo, etag } };
}

function startsWithBom(b: Uint8Array): boolean {
  return b.length >= 3 && b[0] === BOM[0] && b[1] === BOM[1] && b[2] === BOM[2];
}

function parseOr<T extends z.ZodTypeAny>(schema: T, input: unknown, what: string): z.output<T> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  throw new StorageError('invalid', `bad ${what}: ${r.error.issues.map((i) => `${i.path.join('.') || '(value)'}: ${i.message}`).join('; ')}`);
}

/**
 * Writes a manifest of `count` lines, `lineOf(i)` for i = 0.., to `key` in a local store, for
 * benchmarks and tests: the lines are generated and written ~1 MiB at a time through the store's
 * own streamed put (LocalStore.putStream: a temporary file renamed into place), so no more than
 * that is ever in memory. Local stores only: an S3 put needs the whole body.
 */
export async function writeManifest(
  store: ObjectStore, key: string, count: number,
  lineOf: (i: number) => string = (i) => JSON.stringify({ key: `images/${String(i).padStart(8, '0')}.png` }),
): Promise<{ etag?: string; bytes: number; lines: number }> {
  if (!(store instanceof LocalStore)) throw new StorageError('invalid', `writeManifest needs a local store (file:///dir), not ${store.url}`);
  if (!Number.isSafeInteger(count) || count < 0) throw new StorageError('invalid', `bad line count ${count}`);
  let bytes = 0;
  function* pieces(): Generator<Uint8Array> {
    const enc = new TextEncoder();
    let batch: string[] = [];
    let size = 0;
    for (let i = 0; i < count; i++) {
      const l = `${lineOf(i)}\n`;
      batch.push(l);
      size += l.length;
      if (size >= MiB) {
        const b = enc.encode(batch.join(''));
        bytes += b.length;
        yield b;
        batch = [];
        size = 0;
      }
    }
    if (batch.length > 0) {
      const b = enc.encode(batch.join(''));
      bytes += b.length;
      yield b;
    }
  }
  const { etag } = await store.putStream(key, pieces());
  return { ...(etag ? { etag } : {}), bytes, lines: count };
}
