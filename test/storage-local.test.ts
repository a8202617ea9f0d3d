import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LocalStore, openStore, parseS3Url, s3ConfigFromEnv, StorageError, type ObjectStore } from '../src/storage/index.js';
import { crc32c, crc32cBase64 } from '../src/storage/checksum.js';
import { backoffMs, withRetry } from '../src/storage/retry.js';

const isCode = (code: string) => (e: unknown) => e instanceof StorageError && e.code === code;
const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

async function withStore(fn: (store: ObjectStore, dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'diffc-store-'));
  const store = openStore(pathToFileURL(join(dir, 'root')).href);
  try {
    await fn(store, join(dir, 'root'));
  } finally {
    store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function keys(store: ObjectStore, prefix: string, opts?: { startAfter?: string; limit?: number }): Promise<string[]> {
  const out: string[] = [];
  for await (const e of store.list(prefix, opts)) out.push(e.key);
  return out;
}

/** Every file under dir, relative, temporaries included. */
async function filesUnder(dir: string): Promise<string[]> {
  const out = await readdir(dir, { recursive: true, withFileTypes: true });
  return out.filter((d) => d.isFile()).map((d) => join(d.parentPath, d.name).slice(dir.length + 1)).sort();
}

test('put, get, head, delete round trip; missing keys are not-found / null', async () => {
  await withStore(async (store) => {
    assert.equal(await store.head('a/b.dfc'), null);
    await assert.rejects(store.get('a/b.dfc'), isCode('not-found'));
    await store.put('a/b.dfc', bytes('hello'), { contentType: 'application/octet-stream' });
    assert.equal(text(await store.get('a/b.dfc')), 'hello');
    const h1 = await store.head('a/b.dfc');
    assert.deepEqual(h1, { size: 5, etag: h1?.etag, metadata: {} });
    assert.match(h1?.etag ?? '', /^[0-9a-f]{32}$/);
    await store.put('a/b.dfc', bytes('hello, again'));
    assert.equal(text(await store.get('a/b.dfc')), 'hello, again');
    await store.put('empty', new Uint8Array(0));
    assert.equal((await store.head('empty'))?.size, 0);
    await store.delete('a/b.dfc');
    await store.delete('a/b.dfc'); // a second delete is fine, as on S3
    await store.delete('a'); // a name that is only a prefix: nothing to delete
    assert.equal(await store.head('a/b.dfc'), null);
    assert.equal(await store.head('a'), null); // a directory is not an object
    await assert.rejects(store.get('a'), isCode('not-found'));
  });
});

test('ifNoneMatch refuses an existing key and leaves it alone', async () => {
  await withStore(async (store, root) => {
    await store.put('k', bytes('first'), { ifNoneMatch: true });
    await assert.rejects(store.put('k', bytes('second'), { ifNoneMatch: true }), isCode('exists'));
    assert.equal(text(await store.get('k')), 'first');
    assert.deepEqual(await filesUnder(root), ['k']);
    // Concurrent conditional writers: exactly one wins.
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => store.put('race', bytes(`w${i}`), { ifNoneMatch: true })));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    assert.ok(results.every((r) => r.status === 'fulfilled' || isCode('exists')(r.reason)));
    assert.deepEqual(await filesUnder(root), ['k', 'race']);
  });
});

test('a failing write leaves nothing behind and the old object intact', async () => {
  await withStore(async (store, root) => {
    await store.put('d/x', bytes('x'));
    // "d" is a directory (a prefix of d/x): the data is written, then the rename fails.
    await assert.rejects(store.put('d', bytes('will not land')), isCode('invalid'));
    await assert.rejects(store.put('d', bytes('will not land'), { ifNoneMatch: true }), isCode('invalid'));
    // "d/x" is an object, so "d/x/y" cannot be created under it.
    await assert.rejects(store.put('d/x/y', bytes('no')), isCode('invalid'));
    assert.deepEqual(await filesUnder(root), ['d/x']);
    assert.equal(text(await store.get('d/x')), 'x');
    // A writer that crashed mid-way leaves a temporary: never listed, never readable.
    await writeFile(join(root, 'd', '.diffc-tmp.0123456789abcdef'), 'partial');
    assert.deepEqual(await keys(store, ''), ['d/x']);
    await assert.rejects(store.get('d/.diffc-tmp.0123456789abcdef'), isCode('invalid'));
  });
});

test('keys that leave the root are refused, symlinks out of it included', async () => {
  await withStore(async (store, root) => {
    for (const bad of ['../x', 'a/../../x', '/etc/passwd', 'a//b', './a', 'a/.', 'a/', '', 'a\\b', 'a\u0000b', 'x'.repeat(1025)]) {
      await assert.rejects(store.put(bad, bytes('no')), isCode('invalid'), bad);
      await assert.rejects(store.get(bad), isCode('invalid'), bad);
      await assert.rejects(store.head(bad), isCode('invalid'), bad);
      await assert.rejects(store.delete(bad), isCode('invalid'), bad);
    }
    await assert.rejects(keys(store, '../'), isCode('invalid'));
    const outside = await mkdtemp(join(tmpdir(), 'diffc-outside-'));
    try {
      await writeFile(join(outside, 'secret'), 'secret');
      await mkdir(root, { recursive: true });
      await symlink(outside, join(root, 'link'));
      await symlink(join(outside, 'secret'), join(root, 'file-link'));
      await assert.rejects(store.get('link/secret'), isCode('invalid'));
      await assert.rejects(store.get('file-link'), isCode('invalid'));
      await assert.rejects(store.head('link/secret'), isCode('invalid'));
      await assert.rejects(store.put('link/new', bytes('no')), isCode('invalid'));
      await assert.rejects(store.put('link/deeper/new', bytes('no')), isCode('invalid'));
      await assert.rejects(store.delete('link/secret'), isCode('invalid'));
      assert.deepEqual(await readdir(outside), ['secret']);
      assert.deepEqual(await keys(store, ''), []); // symlinks are not listed
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });
});

test('list: byte order of the keys, string prefixes, startAfter and limit paging', async () => {
  await withStore(async (store) => {
    assert.deepEqual(await keys(store, ''), []); // no root yet
    // "a.txt" < "a/b" because '.' (0x2e) < '/' (0x2f); "é" (0xc3 0xa9) sorts after "z".
    const all = ['a.txt', 'a/b', 'a/c/d', 'a0', 'ab/x', 'b', 'z', 'é', 'x/y/z/1', 'x/y/z/2', 'x/yy'];
    for (const k of [...all].reverse()) await store.put(k, bytes(k));
    const sorted = [...all].sort((p, q) => Buffer.compare(Buffer.from(p), Buffer.from(q)));
    assert.deepEqual(await keys(store, ''), sorted);
    assert.deepEqual(await keys(store, 'a'), ['a.txt', 'a/b', 'a/c/d', 'a0', 'ab/x']);
    assert.deepEqual(await keys(store, 'a/'), ['a/b', 'a/c/d']);
    assert.deepEqual(await keys(store, 'x/y'), ['x/y/z/1', 'x/y/z/2', 'x/yy']);
    assert.deepEqual(await keys(store, 'x/y/'), ['x/y/z/1', 'x/y/z/2']);
    assert.deepEqual(await keys(store, 'nope/'), []);
    assert.deepEqual(await keys(store, '', { limit: 3 }), sorted.slice(0, 3));
    assert.deepEqual(await keys(store, '', { limit: 0 }), []);
    assert.deepEqual(await keys(store, '', { startAfter: 'a/b' }), sorted.slice(sorted.indexOf('a/b') + 1));
    assert.deepEqual(await keys(store, '', { startAfter: 'a/' }), sorted.slice(sorted.indexOf('a/b')));
    assert.deepEqual(await keys(store, 'x/', { startAfter: 'x/y/z/1' }), ['x/y/z/2', 'x/yy']);
    // Paging through everything in pages of 4 gives every key once, in order.
    const paged: string[] = [];
    for (let after: string | undefined; ;) {
      const page = await keys(store, '', { startAfter: after, limit: 4 });
      paged.push(...page);
      if (page.length < 4) break;
      after = page[page.length - 1];
    }
    assert.deepEqual(paged, sorted);
    const entries = [];
    for await (const e of store.list('x/y/z/')) entries.push(e);
    assert.deepEqual(entries.map(({ key, size }) => ({ key, size })), [{ key: 'x/y/z/1', size: 7 }, { key: 'x/y/z/2', size: 7 }]);
    assert.deepEqual(entries.map((e) => e.etag), [(await store.head('x/y/z/1'))?.etag, (await store.head('x/y/z/2'))?.etag]);
  });
});

test('openStore: URLs and config are validated', () => {
  assert.ok(openStore('file:///tmp/diffc-x') instanceof LocalStore);
  assert.equal(openStore('file:///tmp/diffc-x').url, 'file:///tmp/diffc-x/');
  assert.throws(() => openStore('/tmp/x'), isCode('invalid'));
  assert.throws(() => openStore('http://x/y'), isCode('invalid'));
  assert.throws(() => openStore('file://host/x'), isCode('invalid'));
  assert.deepEqual(parseS3Url('s3://my-bucket'), { bucket: 'my-bucket', prefix: '' });
  assert.deepEqual(parseS3Url('s3://my-bucket/runs/7'), { bucket: 'my-bucket', prefix: 'runs/7/' });
  assert.equal(openStore('s3://my-bucket/runs/', { s3: { region: 'eu-west-1' } }).url, 's3://my-bucket/runs/');
  assert.throws(() => parseS3Url('s3://My_Bucket/x'), isCode('invalid'));
  assert.throws(() => parseS3Url('s3://bucket/a/../b'), isCode('invalid'));
  assert.throws(() => openStore('s3://b-1/x', { s3: { partSize: 1024 } }), (e) => isCode('invalid')(e) && /partSize/.test((e as Error).message));
  assert.throws(() => openStore('s3://b-1/x', { s3: { endpoint: 'ftp://x' } }), isCode('invalid'));
  assert.throws(() => openStore('s3://b-1/x', { s3: { retry: { maxAttempts: 0 } } }), isCode('invalid'));
  assert.throws(() => openStore('s3://b-1/x', { s3: { unknownOption: 1 } as never }), isCode('invalid'));
  assert.deepEqual(s3ConfigFromEnv({ S3_ENDPOINT: 'http://127.0.0.1:9000', S3_FORCE_PATH_STYLE: '1', S3_ACCESS_KEY_ID: 'a', S3_SECRET_ACCESS_KEY: 'b', AWS_REGION: 'eu-north-1' }), {
    endpoint: 'http://127.0.0.1:9000', region: 'eu-north-1', forcePathStyle: true, credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
  });
  assert.deepEqual(s3ConfigFromEnv({}), {});
  assert.throws(() => s3ConfigFromEnv({ S3_ACCESS_KEY_ID: 'a' }), isCode('invalid'));
  assert.throws(() => s3ConfigFromEnv({ S3_FORCE_PATH_STYLE: 'yes' }), isCode('invalid'));
});

test('CRC32C matches RFC 3720 vectors and chains', () => {
  assert.equal(crc32c(bytes('123456789')), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa); // RFC 3720 B.4: 32 bytes of zeros
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.equal(crc32cBase64(bytes('123456789')), Buffer.from([0xe3, 0x06, 0x92, 0x83]).toString('base64'));
  const b = new Uint8Array(1000).map((_, i) => (i * 37) & 255);
  assert.equal(crc32c(b.subarray(13), crc32c(b.subarray(0, 13))), crc32c(b));
});

test('retries: only unavailable, bounded by count and by time', async () => {
  const cfg = { maxAttempts: 4, maxElapsedMs: 10_000, baseDelayMs: 1, maxDelayMs: 4 };
  let n = 0;
  const flaky = async () => {
    if (++n < 3) throw new StorageError('unavailable', 'down');
    return 'ok';
  };
  assert.equal(await withRetry(cfg, 'op', flaky, (e) => e as StorageError), 'ok');
  assert.equal(n, 3);
  n = 0;
  await assert.rejects(withRetry(cfg, 'op', async () => { n++; throw new StorageError('unavailable', 'down'); }, (e) => e as StorageError),
    (e) => isCode('unavailable')(e) && /gave up after 4 tries/.test((e as Error).message));
  assert.equal(n, 4);
  n = 0;
  await assert.rejects(withRetry(cfg, 'op', async () => { n++; throw new StorageError('auth', 'no'); }, (e) => e as StorageError), isCode('auth'));
  assert.equal(n, 1);
  // The time bound stops it before the count does.
  n = 0;
  const t0 = Date.now();
  await assert.rejects(withRetry({ maxAttempts: 20, maxElapsedMs: 150, baseDelayMs: 40, maxDelayMs: 40 }, 'op',
    async () => { n++; throw new StorageError('unavailable', 'down'); }, (e) => e as StorageError), isCode('unavailable'));
  assert.ok(n < 20 && Date.now() - t0 < 1000, `${n} tries in ${Date.now() - t0} ms`);
  assert.equal(backoffMs({ ...cfg, baseDelayMs: 100, maxDelayMs: 1000 }, 1, () => 0), 50);
  assert.equal(backoffMs({ ...cfg, baseDelayMs: 100, maxDelayMs: 1000 }, 10, () => 1), 1000);
});

test('ETags: the same text from put, head and list; every put changes it; in-place edits too', async () => {
  await withStore(async (store, root) => {
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      // Same size every time, and fast: the inode and mtime must still tell them apart.
      const { etag } = await store.put('k', bytes(`v${i % 10}`));
      assert.ok(etag && /^[0-9a-f]{32}$/.test(etag));
      assert.equal((await store.head('k'))?.etag, etag);
      const [listed] = await (async () => { const o = []; for await (const e of store.list('k')) o.push(e); return o; })();
      assert.equal(listed.etag, etag);
      assert.ok(!seen.has(etag), `ETag ${etag} repeated at put ${i}`);
      seen.add(etag);
    }
    const before = (await store.head('k'))?.etag;
    await new Promise((r) => setTimeout(r, 20)); // past the filesystem's timestamp tick
    await writeFile(join(root, 'k'), 'v9'); // an edit in place (same inode, same size)
    assert.notEqual((await store.head('k'))?.etag, before);
    const { etag: nm } = await store.put('fresh', bytes('x'), { ifNoneMatch: true });
    assert.equal((await store.head('fresh'))?.etag, nm);
  });
});

test('getRange: clamped to the size, positioned reads, bad ranges invalid, missing not-found', async () => {
  await withStore(async (store) => {
    const body = bytes('0123456789');
    await store.put('r', body);
    assert.equal(text(await store.getRange('r', 0, 4)), '0123');
    assert.equal(text(await store.getRange('r', 3, 7)), '3456');
    assert.equal(text(await store.getRange('r', 7)), '789');
    assert.equal(text(await store.getRange('r', 8, 100)), '89');
    assert.equal((await store.getRange('r', 5, 5)).length, 0);
    assert.equal((await store.getRange('r', 10)).length, 0);
    assert.equal((await store.getRange('r', 50, 60)).length, 0);
    await store.put('e', new Uint8Array(0));
    assert.equal((await store.getRange('e', 0, 10)).length, 0);
    for (const [s, e] of [[-1, 3], [4, 2], [1.5, 3], [0, -1], [Number.NaN, 1], [0, Infinity]] as const) {
      await assert.rejects(store.getRange('r', s, e), isCode('invalid'), `${s}..${e}`);
    }
    await assert.rejects(store.getRange('nope', 0, 3), isCode('not-found'));
    await assert.rejects(store.getRange('nope', 0, 0), isCode('not-found'));
    await assert.rejects(store.getRange('../x', 0, 3), isCode('invalid'));
    // A large object: a range is read from its place, the bytes are the right ones.
    const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 7 + (i >> 12)) & 255);
    await store.put('big', big);
    const mid = await store.getRange('big', 1_000_003, 2_000_017);
    assert.ok(Buffer.from(mid).equals(Buffer.from(big.subarray(1_000_003, 2_000_017))));
  });
});

test('pinned reads: ifMatch of the current ETag reads, another is changed; versionId is invalid locally', async () => {
  await withStore(async (store) => {
    const { etag } = await store.put('p', bytes('first version'));
    assert.ok(etag);
    assert.equal(text(await store.get('p', { ifMatch: etag })), 'first version');
    assert.equal(text(await store.get('p', { ifMatch: `"${etag}"` })), 'first version'); // quotes are fine
    assert.equal(text(await store.getRange('p', 6, 13, { ifMatch: etag })), 'version');
    await store.put('p', bytes('second version'));
    await assert.rejects(store.get('p', { ifMatch: etag }), isCode('changed'));
    await assert.rejects(store.getRange('p', 0, 5, { ifMatch: etag }), isCode('changed'));
    await assert.rejects(store.getRange('p', 0, 0, { ifMatch: etag }), isCode('changed'));
    await assert.rejects(store.get('p', { versionId: 'v1' }), isCode('invalid'));
    await assert.rejects(store.getRange('p', 0, 1, { versionId: 'v1' }), isCode('invalid'));
    await assert.rejects(store.get('gone', { ifMatch: etag }), isCode('not-found'));
    await assert.rejects(store.get('p', { ifMatch: '' }), isCode('invalid'));
  });
});

test('ifMatch put replaces only the version named; anything else (or nothing) is changed', async () => {
  await withStore(async (store, root) => {
    const { etag: e1 } = await store.put('m', bytes('one'));
    const { etag: e2 } = await store.put('m', bytes('two'), { ifMatch: e1 });
    assert.ok(e2 && e2 !== e1);
    assert.equal(text(await store.get('m')), 'two');
    await assert.rejects(store.put('m', bytes('three'), { ifMatch: e1 }), isCode('changed'));
    assert.equal(text(await store.get('m')), 'two');
    await assert.rejects(store.put('absent', bytes('x'), { ifMatch: e2 }), isCode('changed'));
    assert.equal(await store.head('absent'), null);
    await assert.rejects(store.put('m', bytes('x'), { ifMatch: e2, ifNoneMatch: true }), isCode('invalid'));
    // Concurrent writers with the same ifMatch: no more than one lands (the local check is not
    // atomic, so this is best effort, but none of them may leave a temporary behind).
    await Promise.allSettled(Array.from({ length: 6 }, (_, i) => store.put('m', bytes(`w${i}`), { ifMatch: e2 })));
    assert.deepEqual(await filesUnder(root), ['m']);
  });
});

test('metadata: kept in a sidecar that list never shows, bound to its object, removed by delete', async () => {
  await withStore(async (store, root) => {
    const meta = { 'diffc-model-hash': '0123456789abcdef', 'diffc-seed': '7' };
    const { etag } = await store.put('d/x.dfc', bytes('dfc'), { metadata: meta });
    assert.deepEqual(await store.head('d/x.dfc'), { size: 3, etag, metadata: meta });
    assert.deepEqual(await keys(store, ''), ['d/x.dfc']);
    assert.deepEqual(await filesUnder(root), ['d/.diffc-meta.x.dfc', 'd/x.dfc']);
    await assert.rejects(store.get('d/.diffc-meta.x.dfc'), isCode('invalid'));
    await assert.rejects(store.put('.diffc-meta.y', bytes('no')), isCode('invalid'));
    // A put without metadata: the old metadata is not the new object's.
    await store.put('d/x.dfc', bytes('new'));
    assert.deepEqual((await store.head('d/x.dfc'))?.metadata, {});
    assert.deepEqual(await filesUnder(root), ['d/x.dfc']);
    // A sidecar of another version (a writer that died between its two renames) vouches for nothing.
    await store.put('d/x.dfc', bytes('abc'), { metadata: { a: '1' } });
    await new Promise((r) => setTimeout(r, 20)); // past the filesystem's timestamp tick
    await writeFile(join(root, 'd', 'x.dfc'), 'xyz'); // edited behind the store's back
    await writeFile(join(root, 'd', 'x.dfc.tmp'), 'q');
    assert.deepEqual((await store.head('d/x.dfc'))?.metadata, {}, 'an edited object keeps no stale metadata');
    await writeFile(join(root, 'd', '.diffc-meta.x.dfc'), '{ not json');
    assert.deepEqual((await store.head('d/x.dfc'))?.metadata, {});
    await store.put('d/x.dfc', bytes('abc'), { metadata: { a: '1' }, ifNoneMatch: false });
    await store.delete('d/x.dfc');
    await store.delete('d/x.dfc.tmp');
    assert.deepEqual(await filesUnder(root), []);
    // ifNoneMatch and ifMatch puts keep metadata too.
    const { etag: n1 } = await store.put('n', bytes('1'), { ifNoneMatch: true, metadata: { v: '1' } });
    assert.deepEqual((await store.head('n'))?.metadata, { v: '1' });
    await store.put('n', bytes('2'), { ifMatch: n1, metadata: { v: '2' } });
    assert.deepEqual((await store.head('n'))?.metadata, { v: '2' });
    // A refused put leaves the object and its metadata as they were, and no temporaries.
    await assert.rejects(store.put('n', bytes('3'), { ifMatch: n1, metadata: { v: '3' } }), isCode('changed'));
    await assert.rejects(store.put('n', bytes('3'), { ifNoneMatch: true, metadata: { v: '3' } }), isCode('exists'));
    assert.deepEqual((await store.head('n'))?.metadata, { v: '2' });
    assert.deepEqual(await filesUnder(root), ['.diffc-meta.n', 'n']);
  });
});

test('metadata is validated the same on every store: [a-z0-9-] keys, ASCII values, 2 KB', async () => {
  await withStore(async (store) => {
    const bads: Record<string, string>[] = [{ Upper: 'x' }, { 'a_b': 'x' }, { '': 'x' }, { k: 'é' }, { k: 'line\nbreak' }, { k: 'x'.repeat(2048) }];
    for (const bad of bads) {
      await assert.rejects(store.put('k', bytes('x'), { metadata: bad }), isCode('invalid'), JSON.stringify(bad).slice(0, 40));
    }
    // 2048 bytes as MinIO counts them ("x-amz-meta-k" + the value): accepted; one more is not.
    await store.put('k', bytes('x'), { metadata: { k: 'x'.repeat(2048 - 12) } });
    assert.equal((await store.head('k'))?.metadata?.k.length, 2036);
    await assert.rejects(store.put('k', bytes('x'), { metadata: { k: 'x'.repeat(2048 - 11) } }), isCode('invalid'));
    await assert.rejects(store.put('k', bytes('x'), { unknown: 1 } as never), isCode('invalid'));
  });
});

test('putStream: pieces written as they come, the same atomic placement; a failing source leaves nothing', async () => {
  await withStore(async (store, root) => {
    const local = store as LocalStore;
    async function* pieces(n: number, failAt = -1) {
      for (let i = 0; i < n; i++) {
        if (i === failAt) throw new Error('source failed');
        yield bytes(`piece ${i}\n`);
      }
    }
    const { etag } = await local.putStream('s/big.txt', pieces(1000), { metadata: { lines: '1000' } });
    const got = text(await store.get('s/big.txt'));
    assert.equal(got.split('\n').length, 1001);
    assert.ok(got.startsWith('piece 0\npiece 1\n') && got.endsWith('piece 999\n'));
    assert.deepEqual(await store.head('s/big.txt'), { size: got.length, etag, metadata: { lines: '1000' } });
    await assert.rejects(local.putStream('s/big.txt', pieces(10, 5)), /source failed/);
    await assert.rejects(local.putStream('s/big.txt', pieces(1), { ifNoneMatch: true }), isCode('exists'));
    assert.equal(text(await store.get('s/big.txt')), got);
    assert.deepEqual(await filesUnder(root), ['s/.diffc-meta.big.txt', 's/big.txt']);
  });
});
