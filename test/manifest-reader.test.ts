/**
 * The streaming manifest reader: line edge cases against a whole-file reference, pages that end
 * mid-line, the ETag pin, bounded memory over 10^6 lines (local store), and the same reads on a
 * real MinIO (skipped without it unless DIFFC_REQUIRE_SERVICES=1).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { readManifestPage, writeManifest, type ManifestCursor, type ManifestPage, type ManifestPageOptions } from '../src/orchestration/manifest-reader.js';
import { LocalStore, openStore, StorageError, type ObjectStore } from '../src/storage/index.js';
import { needs, privateMinio, servicesRequired, type Minio } from './helpers/dev-services.js';

const isCode = (code: string) => (e: unknown) => e instanceof StorageError && e.code === code;
const enc = (s: string) => new TextEncoder().encode(s);

async function withStore(fn: (store: LocalStore, root: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'diffc-manifest-'));
  const store = openStore(pathToFileURL(join(dir, 'root')).href, { local: { fsync: false } }) as LocalStore;
  try {
    await fn(store, join(dir, 'root'));
  } finally {
    store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

type Entry = { line: number; offset: number; text?: string; error?: string };

/** Every page from the start, entries merged in file order. */
async function readAll(store: ObjectStore, key: string, o: ManifestPageOptions): Promise<{ entries: Entry[]; pages: ManifestPage[] }> {
  const pages: ManifestPage[] = [];
  let cursor: ManifestCursor | null = { offset: 0, line: 1 };
  while (cursor) {
    const page = await readManifestPage(store, key, cursor, o);
    pages.push(page);
    if (page.next) {
      assert.ok(page.next.offset > cursor.offset || page.lines.length + page.errors.length > 0, 'every page moves on');
      // The cursor crosses Temporal as JSON: it must survive the trip and stay small.
      cursor = JSON.parse(JSON.stringify(page.next)) as ManifestCursor;
      assert.ok(JSON.stringify(cursor).length < 120);
    } else cursor = null;
    assert.ok(pages.length < 100_000, 'runaway paging');
  }
  const entries: Entry[] = pages.flatMap((p) => [...p.lines.map((l) => ({ ...l })), ...p.errors.map((e) => ({ ...e }))]);
  entries.sort((a, b) => a.line - b.line);
  return { entries, pages };
}

/** The same rules over the whole file at once. */
function reference(buf: Uint8Array, maxLineBytes: number): Entry[] {
  const out: Entry[] = [];
  let start = buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
  for (let n = 1; start < buf.length; n++) {
    const nl = buf.indexOf(0x0a, start);
    let end = nl < 0 ? buf.length : nl;
    const at = start;
    start = nl < 0 ? buf.length : nl + 1;
    if (end > at && buf[end - 1] === 0x0d) end--;
    if (end === at) continue;
    if (end - at > maxLineBytes) {
      out.push({ line: n, offset: at, error: `line is longer than ${maxLineBytes} bytes; skipped` });
      continue;
    }
    try {
      out.push({ line: n, offset: at, text: new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(buf.subarray(at, end)) });
    } catch {
      out.push({ line: n, offset: at, error: 'line is not valid UTF-8; skipped' });
    }
  }
  return out;
}

test('lines: numbers and offsets, blank lines counted, CRLF, BOM, last line without newline', async () => {
  await withStore(async (store) => {
    const body = '\ufeff{"key":"a"}\r\n\n  \n{"key":"é"}\n\r\n{"key":"last"}';
    await store.put('m.jsonl', enc(body));
    const page = await readManifestPage(store, 'm.jsonl', { offset: 0, line: 1 }, { maxLines: 100 });
    assert.deepEqual(page.lines, [
      { line: 1, offset: 3, text: '{"key":"a"}' },
      { line: 3, offset: 17, text: '  ' }, // whitespace is text: the caller's parser judges it
      { line: 4, offset: 20, text: '{"key":"é"}' },
      { line: 6, offset: 35, text: '{"key":"last"}' },
    ]);
    assert.deepEqual(page.errors, []);
    assert.equal(page.next, null);
    // Offsets are byte offsets into the file.
    const bytes = enc(body);
    for (const l of page.lines) assert.equal(new TextDecoder().decode(bytes.subarray(l.offset, l.offset + enc(l.text).length)), l.text);
    await store.put('empty', new Uint8Array(0));
    assert.deepEqual(await readManifestPage(store, 'empty', { offset: 0, line: 1 }, { maxLines: 5 }), { lines: [], errors: [], next: null });
    await store.put('bom-only', enc('\ufeff'));
    assert.equal((await readManifestPage(store, 'bom-only', { offset: 0, line: 1 }, { maxLines: 5, chunkBytes: 1 })).next, null);
    await store.put('blank', enc('\n\n\r\n'));
    const blank = await readAll(store, 'blank', { maxLines: 2, chunkBytes: 1 });
    assert.deepEqual(blank.entries, []);
    assert.equal(blank.pages.at(-1)?.next, null);
  });
});

test('pages that end mid-line and mid-chunk give every line once, for every chunk size and page length', async () => {
  await withStore(async (store) => {
    const body = '\ufeff{"key":"a/1.png"}\r\n\n{"key":"b"}\n{"key":"ünïcödé/ü.png"}\r\n\r\n' + `{"key":"${'x'.repeat(40)}"}\n{"key":"tail"}`;
    await store.put('m', enc(body));
    const want = reference(enc(body), 64 * 1024);
    assert.equal(want.length, 5);
    for (let chunkBytes = 1; chunkBytes <= 24; chunkBytes++) {
      for (const maxLines of [1, 2, 3, 7, 100]) {
        const { entries, pages } = await readAll(store, 'm', { maxLines, chunkBytes });
        assert.deepEqual(entries, want, `chunkBytes ${chunkBytes}, maxLines ${maxLines}`);
        for (const p of pages) assert.ok(p.lines.length + p.errors.length <= maxLines);
      }
    }
  });
});

test('random manifests agree with the whole-file reference (long, bad UTF-8, CR, blank lines)', async () => {
  await withStore(async (store) => {
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let round = 0; round < 40; round++) {
      const parts: Uint8Array[] = [];
      if (rnd(3) === 0) parts.push(new Uint8Array([0xef, 0xbb, 0xbf]));
      const nLines = rnd(30);
      for (let i = 0; i < nLines; i++) {
        const kind = rnd(10);
        if (kind === 0) parts.push(enc(''));
        else if (kind === 1) parts.push(enc('y'.repeat(20 + rnd(40)))); // over maxLineBytes below
        else if (kind === 2) parts.push(new Uint8Array([0x7b, 0xc3, 0x28, 0x7d])); // bad UTF-8
        else if (kind === 3) parts.push(enc('€'.repeat(1 + rnd(4)))); // 3-byte characters split across chunks
        else parts.push(enc(`{"key":"k${i}"}`.slice(0, 1 + rnd(14))));
        parts.push(enc(rnd(4) === 0 ? '\r\n' : '\n'));
      }
      if (rnd(2) === 0 && parts.length > 0) parts.pop(); // last line without its newline
      const buf = Buffer.concat(parts);
      await store.put('r', buf);
      const maxLineBytes = 16 + rnd(10);
      const want = reference(buf, maxLineBytes);
      for (const chunkBytes of [1, 2, 3, 5, 8, 13, 64, 4096]) {
        const { entries } = await readAll(store, 'r', { maxLines: 1 + rnd(6), chunkBytes, maxLineBytes });
        assert.deepEqual(entries, want, `round ${round}, chunkBytes ${chunkBytes}`);
      }
    }
  });
});

test('a line over maxLineBytes is an error entry, skipped without holding it, and reading resumes after it', async () => {
  await withStore(async (store) => {
    const huge = 'z'.repeat(3 * 1024 * 1024);
    await store.put('m', enc(`{"key":"a"}\n${huge}\n{"key":"b"}\r\n${'q'.repeat(100)}`));
    const page = await readManifestPage(store, 'm', { offset: 0, line: 1 }, { maxLines: 10, chunkBytes: 64 * 1024, maxLineBytes: 1024 });
    assert.deepEqual(page.lines.map((l) => [l.line, l.text]), [[1, '{"key":"a"}'], [3, '{"key":"b"}'], [4, 'q'.repeat(100)]]);
    assert.deepEqual(page.errors, [{ line: 2, offset: 12, error: 'line is longer than 1024 bytes; skipped' }]);
    assert.equal(page.next, null);
    // Exactly maxLineBytes is fine, with or without a '\r'; one more is not.
    await store.put('edge', enc(`${'a'.repeat(8)}\n${'b'.repeat(8)}\r\n${'c'.repeat(9)}\n${'d'.repeat(9)}`));
    for (const chunkBytes of [1, 3, 8, 9, 10, 100]) {
      const { entries } = await readAll(store, 'edge', { maxLines: 10, chunkBytes, maxLineBytes: 8 });
      assert.deepEqual(entries.map((e) => e.text ?? e.error), ['a'.repeat(8), 'b'.repeat(8), 'line is longer than 8 bytes; skipped', 'line is longer than 8 bytes; skipped']);
    }
    await store.put('bad', new Uint8Array([...enc('{"key":"ok"}\n'), 0xff, 0xfe, 0x0a, ...enc('{"key":"ok2"}')]));
    const bad = await readManifestPage(store, 'bad', { offset: 0, line: 1 }, { maxLines: 10 });
    assert.deepEqual(bad.errors, [{ line: 2, offset: 13, error: 'line is not valid UTF-8; skipped' }]);
    assert.deepEqual(bad.lines.map((l) => l.text), ['{"key":"ok"}', '{"key":"ok2"}']);
  });
});

test('the cursor pins the ETag: a manifest replaced mid-job is changed; bad cursors are invalid', async () => {
  await withStore(async (store) => {
    const { etag } = await writeManifest(store, 'm', 50);
    const p1 = await readManifestPage(store, 'm', { offset: 0, line: 1 }, { maxLines: 10 });
    assert.equal(p1.next?.etag, etag);
    assert.deepEqual(p1.next && { offset: p1.next.offset, line: p1.next.line }, { offset: p1.lines[9].offset + enc(p1.lines[9].text).length + 1, line: 11 });
    const p2 = await readManifestPage(store, 'm', p1.next!, { maxLines: 10 });
    assert.equal(p2.lines[0].line, 11);
    assert.equal(p2.lines[0].text, JSON.stringify({ key: 'images/00000010.png' }));
    await writeManifest(store, 'm', 60, (i) => JSON.stringify({ key: `other/${i}` }));
    await assert.rejects(readManifestPage(store, 'm', p2.next!, { maxLines: 10 }), isCode('changed'));
    await assert.rejects(readManifestPage(store, 'nope', { offset: 0, line: 1 }, { maxLines: 10 }), isCode('not-found'));
    await assert.rejects(readManifestPage(store, 'nope', { offset: 0, line: 1, etag: 'abc' }, { maxLines: 10 }), isCode('not-found'));
    for (const bad of [{ offset: -1, line: 1 }, { offset: 0, line: 0 }, { offset: 1.5, line: 1 }, { offset: 0, line: 1, etag: '' }, { offset: 0, line: 1, extra: 1 }]) {
      await assert.rejects(readManifestPage(store, 'm', bad as ManifestCursor, { maxLines: 10 }), isCode('invalid'), JSON.stringify(bad));
    }
    await assert.rejects(readManifestPage(store, 'm', { offset: 0, line: 1 }, { maxLines: 0 }), isCode('invalid'));
    await assert.rejects(readManifestPage(store, 'm', { offset: 0, line: 1 }, { maxLines: 1, chunkBytes: 0 }), isCode('invalid'));
    await assert.rejects(writeManifest(openStore('s3://some-bucket/x'), 'm', 1), isCode('invalid'));
  });
});

/** Forces a full GC (the flag is set at run time, so the test needs no node option). */
function gc(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

test('memory: 10^6 lines read page by page; growth does not scale with the lines read', { timeout: 300_000 }, async () => {
  await withStore(async (store, root) => {
    const N = 1_000_000;
    const t0 = Date.now();
    const written = await writeManifest(store, 'big.jsonl', N, (i) => JSON.stringify({ key: `photos/2026/${String(i).padStart(7, '0')}.png`, bpp: 0.05 }));
    const genMs = Date.now() - t0;
    assert.equal((await stat(join(root, 'big.jsonl'))).size, written.bytes);
    gc();
    const base = process.memoryUsage();
    let cursor: ManifestCursor | null = { offset: 0, line: 1 };
    let seen = 0;
    let last = 0;
    let at2e5: NodeJS.MemoryUsage | undefined;
    const t1 = Date.now();
    while (cursor) {
      const page = await readManifestPage(store, 'big.jsonl', cursor, { maxLines: 5000 });
      for (const l of page.lines) {
        assert.equal(l.line, ++last);
        seen++;
      }
      assert.equal(page.errors.length, 0);
      cursor = page.next;
      if (!at2e5 && seen >= 200_000) {
        gc();
        at2e5 = process.memoryUsage();
      }
    }
    const readMs = Date.now() - t1;
    gc();
    const end = process.memoryUsage();
    assert.equal(seen, N);
    const MiB = 1024 * 1024;
    const heap1 = (at2e5!.heapUsed - base.heapUsed) / MiB, heap2 = (end.heapUsed - base.heapUsed) / MiB;
    const rss1 = (at2e5!.rss - base.rss) / MiB, rss2 = (end.rss - base.rss) / MiB;
    console.log(`manifest memory: ${(written.bytes / MiB).toFixed(1)} MiB, ${N} lines written in ${genMs} ms, read in ${readMs} ms; `
      + `heap growth ${heap1.toFixed(1)} MiB at 2e5 lines, ${heap2.toFixed(1)} MiB at 1e6; rss growth ${rss1.toFixed(1)} / ${rss2.toFixed(1)} MiB`);
    // Holding the lines would cost >100 MiB of heap by 10^6 (file: ~60 MiB); scaling with the
    // lines read would make the 10^6 growth ~5x the 2*10^5 one. Bounds are generous on purpose.
    assert.ok(heap2 - heap1 < 24, `heap grew ${(heap2 - heap1).toFixed(1)} MiB between 2e5 and 1e6 lines`);
    assert.ok(heap2 < 48, `heap grew ${heap2.toFixed(1)} MiB over 1e6 lines`);
    assert.ok(rss2 - rss1 < 96, `rss grew ${(rss2 - rss1).toFixed(1)} MiB between 2e5 and 1e6 lines`);
  });
});

// The same reader over S3 ranged GETs on a real MinIO.
const { missing, opts } = await needs('minio');
let minio: Minio | undefined;
before(async () => {
  if (missing && servicesRequired) throw new Error(`DIFFC_REQUIRE_SERVICES=1, but ${missing}`);
});
after(async () => {
  await minio?.stop();
});

test('S3: pages over ranged GETs, pinned with If-Match: a replaced manifest is changed', opts, async () => {
  minio = await privateMinio();
  const st = openStore(`s3://${minio.env.S3_BUCKET}/m-${randomBytes(4).toString('hex')}`, {
    s3: {
      endpoint: minio.env.S3_ENDPOINT,
      credentials: { accessKeyId: minio.env.S3_ACCESS_KEY_ID, secretAccessKey: minio.env.S3_SECRET_ACCESS_KEY },
      retry: { maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 200, maxElapsedMs: 5_000 },
    },
  });
  try {
    const body = '\ufeff' + Array.from({ length: 300 }, (_, i) => (i % 17 === 0 ? '' : JSON.stringify({ key: `k/${i}` }))).join('\r\n') + '\n' + 'x'.repeat(500);
    await st.put('m.jsonl', enc(body));
    const want = reference(enc(body), 400);
    for (const [chunkBytes, maxLines] of [[64, 7], [1000, 50], [1 << 20, 1000]]) {
      const { entries } = await readAll(st, 'm.jsonl', { maxLines, chunkBytes, maxLineBytes: 400 });
      assert.deepEqual(entries, want, `chunkBytes ${chunkBytes}`);
    }
    const p1 = await readManifestPage(st, 'm.jsonl', { offset: 0, line: 1 }, { maxLines: 20, chunkBytes: 256 });
    assert.equal(p1.next?.etag, (await st.head('m.jsonl'))?.etag);
    await st.put('m.jsonl', enc('{"key":"replaced"}\n'));
    await assert.rejects(readManifestPage(st, 'm.jsonl', p1.next!, { maxLines: 20 }), isCode('changed'));
    // A cursor at the end of the file: an empty last page (S3 answers 416 past the end).
    const end = await st.head('m.jsonl');
    assert.deepEqual(await readManifestPage(st, 'm.jsonl', { offset: end!.size, line: 2, etag: end!.etag }, { maxLines: 5 }), { lines: [], errors: [], next: null });
    await assert.rejects(readManifestPage(st, 'm.jsonl', { offset: end!.size, line: 2, etag: 'stale' }, { maxLines: 5 }), isCode('changed'));
  } finally {
    st.close();
  }
});
