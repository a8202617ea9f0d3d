/**
 * The S3 store against a real MinIO started by infra/dev-up.sh (a private instance: see
 * test/helpers/dev-services.ts). Skips when MinIO is not built, unless DIFFC_REQUIRE_SERVICES=1.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, ListMultipartUploadsCommand, PutBucketVersioningCommand, type S3Client } from '@aws-sdk/client-s3';
import { crc32cBase64, openStore, S3Store, StorageError, type ObjectStore, type StoreConfigInput } from '../src/storage/index.js';
import { needs, privateMinio, servicesRequired, type Minio } from './helpers/dev-services.js';

const MiB = 1024 * 1024;
const { missing, opts } = await needs('minio');
const isCode = (code: string) => (e: unknown) => e instanceof StorageError && e.code === code;
const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

let minio: Minio;
const opened: ObjectStore[] = [];

before(async () => {
  if (missing && servicesRequired) throw new Error(`DIFFC_REQUIRE_SERVICES=1, but ${missing}`);
  if (!missing) minio = await privateMinio();
});
after(async () => {
  for (const s of opened) s.close();
  await minio?.stop();
});

/** A store under a fresh prefix of the instance's bucket, with fast retries. */
function store(s3: NonNullable<StoreConfigInput['s3']> = {}, url?: string): S3Store {
  const prefix = `t-${randomBytes(4).toString('hex')}`;
  const st = openStore(url ?? `s3://${minio.env.S3_BUCKET}/${prefix}`, {
    s3: {
      endpoint: minio.env.S3_ENDPOINT,
      credentials: { accessKeyId: minio.env.S3_ACCESS_KEY_ID, secretAccessKey: minio.env.S3_SECRET_ACCESS_KEY },
      retry: { maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 200, maxElapsedMs: 5_000 },
      ...s3,
    },
  }) as S3Store;
  opened.push(st);
  return st;
}

/** Counts the requests by command name, and lets a test fail chosen ones. */
function instrument(client: S3Client, fail?: (command: string, input: Record<string, unknown>, n: number) => unknown) {
  // `fail` returns an error to throw instead of sending, a promise to await first, or nothing.
  const counts: Record<string, number> = {};
  client.middlewareStack.add((next, context) => async (args) => {
    const name = context.commandName ?? '?';
    counts[name] = (counts[name] ?? 0) + 1;
    const err = await fail?.(name, args.input as Record<string, unknown>, counts[name]);
    if (err) throw err;
    return next(args);
  }, { step: 'initialize', name: `instrument-${randomBytes(3).toString('hex')}` });
  return counts;
}

async function keys(st: ObjectStore, prefix: string, o?: { startAfter?: string; limit?: number }): Promise<string[]> {
  const out: string[] = [];
  for await (const e of st.list(prefix, o)) out.push(e.key);
  return out;
}

test('put, get, head, list, delete', opts, async () => {
  const st = store();
  assert.equal(await st.head('a/b.dfc'), null);
  await assert.rejects(st.get('a/b.dfc'), isCode('not-found'));
  const body = bytes('hello, minio');
  const put = await st.put('a/b.dfc', body, { contentType: 'application/x-dfc' });
  assert.match(put.etag ?? '', /^[0-9a-f]+$/); // no quotes
  assert.equal(text(await st.get('a/b.dfc')), 'hello, minio');
  assert.deepEqual(await st.head('a/b.dfc'), {
    size: body.length, etag: put.etag, checksum: { algorithm: 'CRC32C', value: crc32cBase64(body), type: 'FULL_OBJECT' }, metadata: {},
  });
  await st.put('empty', new Uint8Array(0));
  assert.equal((await st.get('empty')).length, 0);
  assert.deepEqual([...(await st.get('empty'))], []);
  await st.delete('a/b.dfc');
  await st.delete('a/b.dfc'); // deleting a missing key is fine
  assert.equal(await st.head('a/b.dfc'), null);

  const sha = store({ checksumAlgorithm: 'SHA256' });
  await sha.put('x', body);
  const h = await sha.head('x');
  assert.equal(h?.checksum?.algorithm, 'SHA256');
  assert.equal(h?.checksum?.value, (await import('node:crypto')).createHash('sha256').update(body).digest('base64'));

  const missing = store({}, 's3://no-such-bucket-diffc/x');
  await assert.rejects(missing.head('k'), (e) => isCode('not-found')(e) && /bucket no-such-bucket-diffc/.test((e as Error).message));
  await assert.rejects(missing.put('k', body), isCode('not-found'));
});

test('list: key order, prefixes, startAfter and limit paging under the store prefix', opts, async () => {
  const st = store();
  const all = ['a.txt', 'a/b', 'a/c/d', 'a0', 'ab/x', 'b', 'z', 'é', 'x/y/z/1', 'x/y/z/2', 'x/yy'];
  await Promise.all(all.map((k) => st.put(k, bytes(k))));
  const sorted = [...all].sort((p, q) => Buffer.compare(Buffer.from(p), Buffer.from(q)));
  assert.deepEqual(await keys(st, ''), sorted);
  assert.deepEqual(await keys(st, 'a'), ['a.txt', 'a/b', 'a/c/d', 'a0', 'ab/x']);
  assert.deepEqual(await keys(st, 'x/y/'), ['x/y/z/1', 'x/y/z/2']);
  assert.deepEqual(await keys(st, '', { limit: 3 }), sorted.slice(0, 3));
  assert.deepEqual(await keys(st, '', { startAfter: 'a/' }), sorted.slice(sorted.indexOf('a/b')));
  const paged: string[] = [];
  for (let after: string | undefined; ;) {
    const page = await keys(st, '', { startAfter: after, limit: 4 });
    paged.push(...page);
    if (page.length < 4) break;
    after = page[page.length - 1];
  }
  assert.deepEqual(paged, sorted);
  const [first] = await (async () => { const o = []; for await (const e of st.list('x/y/z/1')) o.push(e); return o; })();
  assert.equal(first.size, 7);
  assert.equal(first.etag, (await st.head('x/y/z/1'))?.etag);
  assert.match(first.etag ?? '', /^[0-9a-f]+$/);
  // More than one page of the service (1000 keys) without a limit.
  const many = store();
  const names = Array.from({ length: 1005 }, (_, i) => `k/${String(i).padStart(4, '0')}`);
  for (let i = 0; i < names.length; i += 100) await Promise.all(names.slice(i, i + 100).map((k) => many.put(k, new Uint8Array(1))));
  assert.deepEqual(await keys(many, 'k/'), names);
  assert.deepEqual(await keys(many, 'k/', { startAfter: 'k/0998', limit: 3 }), ['k/0999', 'k/1000', 'k/1001']);
});

test('multipart above the threshold: 5 MiB parts of a 12 MiB object, one full-object CRC32C', opts, async () => {
  const st = store({ multipartThreshold: 5 * MiB, partSize: 5 * MiB });
  const counts = instrument(st.client);
  const big = randomBytes(12 * MiB);
  await st.put('big.bin', big);
  assert.equal(counts.UploadPartCommand, 3);
  assert.equal(counts.PutObjectCommand, undefined);
  assert.ok(Buffer.from(await st.get('big.bin')).equals(big));
  const h = await st.head('big.bin');
  assert.equal(h?.size, big.length);
  // The same checksum as a single PUT of these bytes would have.
  assert.deepEqual(h?.checksum, { algorithm: 'CRC32C', value: crc32cBase64(big), type: 'FULL_OBJECT' });

  const sha = store({ multipartThreshold: 5 * MiB, partSize: 5 * MiB, checksumAlgorithm: 'SHA256' });
  await sha.put('big.bin', big.subarray(0, 6 * MiB));
  assert.equal((await sha.head('big.bin'))?.checksum?.type, 'COMPOSITE');
  assert.ok(Buffer.from(await sha.get('big.bin')).equals(big.subarray(0, 6 * MiB)));
});

test('a failed multipart upload is aborted and leaves no object; transient part failures are retried', opts, async () => {
  const st = store({ multipartThreshold: 5 * MiB, partSize: 5 * MiB, partConcurrency: 1 });
  const failPart2 = instrument(st.client, (cmd, input) =>
    cmd === 'UploadPartCommand' && input.PartNumber === 2 ? new Error('injected failure of part 2') : undefined);
  await assert.rejects(st.put('big.bin', randomBytes(12 * MiB)), (e) => isCode('io')(e) && /part 2/.test((e as Error).message));
  assert.equal(failPart2.AbortMultipartUploadCommand, 1);
  assert.equal(failPart2.CompleteMultipartUploadCommand, undefined);
  assert.equal(await st.head('big.bin'), null);
  assert.deepEqual(await keys(st, ''), []);
  const uploads = await st.client.send(new ListMultipartUploadsCommand({ Bucket: st.location.bucket, Prefix: st.location.prefix }));
  assert.deepEqual(uploads.Uploads ?? [], [], 'the upload was aborted, not left behind');

  const flaky = store({ multipartThreshold: 5 * MiB, partSize: 5 * MiB, partConcurrency: 1 });
  const counts = instrument(flaky.client, (cmd, _input, n) => (cmd === 'UploadPartCommand' && n === 1
    ? Object.assign(new Error('injected 503'), { name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503 } }) : undefined));
  const big = randomBytes(11 * MiB);
  await flaky.put('big.bin', big);
  assert.equal(counts.UploadPartCommand, 4); // part 1 twice
  assert.ok(Buffer.from(await flaky.get('big.bin')).equals(big));
});

test('ifNoneMatch refuses an existing key, single and multipart', opts, async () => {
  const st = store({ multipartThreshold: 5 * MiB, partSize: 5 * MiB });
  await st.put('k', bytes('first'), { ifNoneMatch: true });
  await assert.rejects(st.put('k', bytes('second'), { ifNoneMatch: true }), isCode('exists'));
  assert.equal(text(await st.get('k')), 'first');
  await st.put('k', bytes('third')); // unconditional put overwrites
  assert.equal(text(await st.get('k')), 'third');
  const big = randomBytes(6 * MiB);
  await st.put('big', big, { ifNoneMatch: true });
  await assert.rejects(st.put('big', randomBytes(6 * MiB), { ifNoneMatch: true }), isCode('exists'));
  await assert.rejects(st.put('k', randomBytes(6 * MiB), { ifNoneMatch: true }), isCode('exists'));
  assert.ok(Buffer.from(await st.get('big')).equals(big));
  // Concurrent conditional writers: exactly one wins.
  const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => st.put('race', bytes(`w${i}`), { ifNoneMatch: true })));
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  assert.ok(results.every((r) => r.status === 'fulfilled' || isCode('exists')(r.reason)));

  // Another writer lands between the parts and the completion: the service refuses to complete,
  // the upload is aborted and the other writer's object stays.
  const rival = store({}, st.url);
  const counts = instrument(st.client, (cmd) => {
    if (cmd === 'CompleteMultipartUploadCommand') return rival.put('late', bytes('rival')).then(() => undefined);
    return undefined;
  });
  await assert.rejects(st.put('late', randomBytes(6 * MiB), { ifNoneMatch: true }), isCode('exists'));
  assert.equal(counts.AbortMultipartUploadCommand, 1);
  assert.equal(text(await st.get('late')), 'rival');
  const uploads = await st.client.send(new ListMultipartUploadsCommand({ Bucket: st.location.bucket, Prefix: st.location.prefix }));
  assert.deepEqual(uploads.Uploads ?? [], []);
});

test('a retried conditional put that finds its own earlier write succeeds', opts, async () => {
  const st = store();
  // The first PUT reaches the service but its answer is "lost": the retry then meets 412.
  let lost = false;
  st.client.middlewareStack.add((next, context) => async (args) => {
    const out = await next(args);
    if (context.commandName === 'PutObjectCommand' && !lost) {
      lost = true;
      throw Object.assign(new Error('injected: connection reset after the request'), { code: 'ECONNRESET' });
    }
    return out;
  }, { step: 'initialize', name: 'lose-first-answer' });
  await st.put('once', bytes('payload'), { ifNoneMatch: true });
  assert.equal(text(await st.get('once')), 'payload');
  await assert.rejects(st.put('once', bytes('other'), { ifNoneMatch: true }), isCode('exists'));
});

test('wrong credentials are auth errors, not retried', opts, async () => {
  const st = store({ credentials: { accessKeyId: minio.env.S3_ACCESS_KEY_ID, secretAccessKey: 'not-the-secret' } });
  const counts = instrument(st.client);
  await assert.rejects(st.get('k'), isCode('auth'));
  await assert.rejects(st.put('k', bytes('x')), isCode('auth'));
  await assert.rejects(keys(st, ''), isCode('auth'));
  await assert.rejects(st.head('k'), isCode('auth'));
  const unknown = store({ credentials: { accessKeyId: 'nobody', secretAccessKey: 'nothing-at-all' } });
  await assert.rejects(unknown.get('k'), isCode('auth'));
  assert.deepEqual(counts, { GetObjectCommand: 1, PutObjectCommand: 1, ListObjectsV2Command: 1, HeadObjectCommand: 1 });
});

test('MinIO stopped: unavailable after bounded retries; restarted: the data is back', opts, async () => {
  const st = store({ retry: { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 400, maxElapsedMs: 5_000 } });
  await st.put('kept', bytes('survives a restart'));
  await minio.kill();
  try {
    const counts = instrument(st.client);
    const t0 = Date.now();
    await assert.rejects(st.get('kept'), (e) => isCode('unavailable')(e) && /gave up after 4 tries/.test((e as Error).message));
    const ms = Date.now() - t0;
    assert.equal(counts.GetObjectCommand, 4);
    assert.ok(ms >= 150 && ms < 5_000, `${ms} ms`);
    await assert.rejects(st.put('new', bytes('x')), isCode('unavailable'));
    await assert.rejects(keys(st, ''), isCode('unavailable'));
    // The time bound: no try starts after maxElapsedMs.
    const quick = store({ retry: { maxAttempts: 20, baseDelayMs: 200, maxDelayMs: 200, maxElapsedMs: 500 } });
    const t1 = Date.now();
    await assert.rejects(quick.head('kept'), isCode('unavailable'));
    assert.ok(Date.now() - t1 < 2_000, `${Date.now() - t1} ms`);
  } finally {
    const endpoint = minio.env.S3_ENDPOINT;
    await minio.restart();
    assert.equal(minio.env.S3_ENDPOINT, endpoint, 'restarted on the same port');
  }
  assert.equal(text(await st.get('kept')), 'survives a restart');
});

/** Fails the first `command` after the service has done it, as a lost answer would. */
function loseFirstAnswer(client: S3Client, command: string): void {
  let lost = false;
  client.middlewareStack.add((next, context) => async (args) => {
    const out = await next(args);
    if (context.commandName === command && !lost) {
      lost = true;
      throw Object.assign(new Error('injected: connection reset after the request'), { code: 'ECONNRESET' });
    }
    return out;
  }, { step: 'initialize', name: `lose-${randomBytes(3).toString('hex')}` });
}

test('getRange: Range requests clamped to the size, across parts; bad ranges invalid; missing not-found', opts, async () => {
  const st = store({ multipartThreshold: 5 * MiB, partSize: 5 * MiB });
  await st.put('r', bytes('0123456789'));
  assert.equal(text(await st.getRange('r', 0, 4)), '0123');
  assert.equal(text(await st.getRange('r', 3, 7)), '3456');
  assert.equal(text(await st.getRange('r', 7)), '789');
  assert.equal(text(await st.getRange('r', 8, 100)), '89');
  assert.equal((await st.getRange('r', 5, 5)).length, 0);
  assert.equal((await st.getRange('r', 10)).length, 0);
  assert.equal((await st.getRange('r', 50, 60)).length, 0);
  await st.put('e', new Uint8Array(0));
  assert.equal((await st.getRange('e', 0, 10)).length, 0);
  const counts = instrument(st.client);
  for (const [a, b] of [[-1, 3], [4, 2], [1.5, 3], [0, Number.NaN]] as const) await assert.rejects(st.getRange('r', a, b), isCode('invalid'));
  assert.deepEqual(counts, {}, 'refused before any request');
  await assert.rejects(st.getRange('nope', 0, 3), isCode('not-found'));
  await assert.rejects(st.getRange('nope', 0, 0), isCode('not-found'));
  await assert.rejects(st.getRange('nope', 5), isCode('not-found'));
  await assert.rejects(store({}, 's3://no-such-bucket-diffc/x').getRange('k', 0, 1), (e) => isCode('not-found')(e) && /bucket|NoSuchBucket/.test((e as Error).message));
  // A multipart object (checksum per part): a range across the part boundary, both algorithms.
  const big = randomBytes(11 * MiB);
  await st.put('big', big);
  assert.ok(Buffer.from(await st.getRange('big', 5 * MiB - 10, 5 * MiB + 10)).equals(big.subarray(5 * MiB - 10, 5 * MiB + 10)));
  assert.ok(Buffer.from(await st.getRange('big', 11 * MiB - 3)).equals(big.subarray(11 * MiB - 3)));
  const sha = store({ checksumAlgorithm: 'SHA256', multipartThreshold: 5 * MiB, partSize: 5 * MiB });
  await sha.put('big', big.subarray(0, 6 * MiB));
  await sha.put('small', big.subarray(0, 1000));
  assert.ok(Buffer.from(await sha.getRange('big', 100, 5 * MiB + 100)).equals(big.subarray(100, 5 * MiB + 100)));
  assert.ok(Buffer.from(await sha.getRange('small', 10, 20)).equals(big.subarray(10, 20)));
});

test('pinned reads: If-Match of the current ETag reads, another is changed (412 is not exists here)', opts, async () => {
  const st = store();
  const { etag } = await st.put('p', bytes('first version'));
  assert.ok(etag);
  assert.equal(text(await st.get('p', { ifMatch: etag })), 'first version');
  assert.equal(text(await st.get('p', { ifMatch: `"${etag}"` })), 'first version');
  assert.equal(text(await st.getRange('p', 6, 13, { ifMatch: etag })), 'version');
  await st.put('p', bytes('second version'));
  await assert.rejects(st.get('p', { ifMatch: etag }), isCode('changed'));
  await assert.rejects(st.getRange('p', 0, 5, { ifMatch: etag }), isCode('changed'));
  await assert.rejects(st.getRange('p', 0, 0, { ifMatch: etag }), isCode('changed'));
  await assert.rejects(st.getRange('p', 1000, undefined, { ifMatch: etag }), isCode('changed')); // out of range and stale
  assert.equal((await st.getRange('p', 1000, undefined, { ifMatch: (await st.head('p'))?.etag })).length, 0);
  await assert.rejects(st.get('gone', { ifMatch: etag }), isCode('not-found'));
  await assert.rejects(st.get('p', { ifMatch: 'bad\netag' }), isCode('invalid'));
});

test('versioned bucket: head and put give version ids; reads pinned to a version', opts, async () => {
  const base = store();
  const bucket = `diffc-v-${randomBytes(4).toString('hex')}`;
  await base.client.send(new CreateBucketCommand({ Bucket: bucket }));
  await base.client.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  const st = store({}, `s3://${bucket}/p`);
  const v1 = await st.put('k', bytes('one'), { metadata: { n: '1' } });
  const v2 = await st.put('k', bytes('two'));
  assert.ok(v1.versionId && v2.versionId && v1.versionId !== v2.versionId);
  const h = await st.head('k');
  assert.equal(h?.versionId, v2.versionId);
  assert.equal(h?.etag, v2.etag);
  assert.equal(text(await st.get('k', { versionId: v1.versionId })), 'one');
  assert.equal(text(await st.getRange('k', 1, 3, { versionId: v1.versionId })), 'ne');
  assert.equal(text(await st.get('k', { versionId: v1.versionId, ifMatch: v1.etag })), 'one');
  await assert.rejects(st.get('k', { versionId: v1.versionId, ifMatch: v2.etag }), isCode('changed'));
  const missing = '00000000-0000-4000-8000-000000000000';
  await assert.rejects(st.get('k', { versionId: missing }), isCode('not-found'));
  await assert.rejects(st.getRange('k', 0, 0, { versionId: missing }), isCode('not-found'));
  // An unversioned bucket has no version ids to give.
  const plain = await base.put('k', bytes('x'));
  assert.equal(plain.versionId, undefined);
  assert.equal((await base.head('k'))?.versionId, undefined);
});

test('ifMatch put: replaces only the version named, single PUT and multipart; 412 is changed', opts, async () => {
  const st = store({ multipartThreshold: 5 * MiB, partSize: 5 * MiB });
  const { etag: e1 } = await st.put('m', bytes('one'));
  const { etag: e2 } = await st.put('m', bytes('two'), { ifMatch: e1 });
  assert.ok(e2 && e2 !== e1);
  assert.equal((await st.head('m'))?.etag, e2);
  await assert.rejects(st.put('m', bytes('three'), { ifMatch: e1 }), isCode('changed'));
  assert.equal(text(await st.get('m')), 'two');
  await assert.rejects(st.put('absent', bytes('x'), { ifMatch: e2 }), isCode('changed'));
  assert.equal(await st.head('absent'), null);
  // The same 412 on an ifNoneMatch put still means exists.
  await assert.rejects(st.put('m', bytes('x'), { ifNoneMatch: true }), isCode('exists'));
  await assert.rejects(st.put('m', bytes('x'), { ifNoneMatch: true, ifMatch: e2 }), isCode('invalid'));

  const big = randomBytes(6 * MiB);
  const counts = instrument(st.client);
  const { etag: e3 } = await st.put('m', big, { ifMatch: `"${e2}"` });
  assert.equal(counts.CompleteMultipartUploadCommand, 1);
  assert.ok(Buffer.from(await st.get('m')).equals(big));
  await assert.rejects(st.put('m', randomBytes(6 * MiB), { ifMatch: e2 }), isCode('changed'));
  assert.equal(counts.UploadPartCommand, 2, 'the stale ifMatch was refused before uploading parts');
  await assert.rejects(st.put('absent', randomBytes(6 * MiB), { ifMatch: e2 }), isCode('changed'));
  assert.equal((await st.head('m'))?.etag, e3);

  // Concurrent writers with the same ifMatch: exactly one wins (S3's check is atomic).
  const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => st.put('m', bytes(`w${i}`), { ifMatch: e3 })));
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  assert.ok(results.every((r) => r.status === 'fulfilled' || isCode('changed')(r.reason)));
});

test('ifMatch multipart: another writer between the parts and the completion makes it changed', opts, async () => {
  const st = store({ multipartThreshold: 5 * MiB, partSize: 5 * MiB });
  const { etag } = await st.put('late', bytes('original'));
  const rival = store({}, st.url);
  const counts = instrument(st.client, (cmd) => {
    if (cmd === 'CompleteMultipartUploadCommand') return rival.put('late', bytes('rival')).then(() => undefined);
    return undefined;
  });
  await assert.rejects(st.put('late', randomBytes(6 * MiB), { ifMatch: etag }), isCode('changed'));
  assert.equal(counts.AbortMultipartUploadCommand, 1);
  assert.equal(text(await st.get('late')), 'rival');
  const uploads = await st.client.send(new ListMultipartUploadsCommand({ Bucket: st.location.bucket, Prefix: st.location.prefix }));
  assert.deepEqual(uploads.Uploads ?? [], []);
});

test('metadata: x-amz-meta-* on single and multipart puts, returned lower-case by head; validated before sending', opts, async () => {
  const st = store({ multipartThreshold: 5 * MiB, partSize: 5 * MiB });
  const meta = { 'diffc-model-hash': '0123456789abcdef', 'diffc-seed': '42', 'diffc-source-etag': 'abc-3' };
  const { etag } = await st.put('d.dfc', bytes('dfc'), { metadata: meta, contentType: 'application/x-dfc' });
  assert.deepEqual(await st.head('d.dfc'), {
    size: 3, etag, checksum: { algorithm: 'CRC32C', value: crc32cBase64(bytes('dfc')), type: 'FULL_OBJECT' }, metadata: meta,
  });
  await st.put('big.dfc', randomBytes(6 * MiB), { metadata: meta });
  assert.deepEqual((await st.head('big.dfc'))?.metadata, meta);
  await st.put('d.dfc', bytes('new'));
  assert.deepEqual((await st.head('d.dfc'))?.metadata, {});
  const counts = instrument(st.client);
  const bads: Record<string, string>[] = [{ Upper: 'x' }, { 'a_b': 'x' }, { k: 'é' }, { k: 'a\nb' }, { k: 'x'.repeat(2048) }];
  for (const bad of bads) await assert.rejects(st.put('k', bytes('x'), { metadata: bad }), isCode('invalid'));
  assert.deepEqual(counts, {}, 'refused before any request');
  // 2048 bytes as MinIO counts them ("x-amz-meta-k" + the value): accepted; one more is not.
  await st.put('k', bytes('x'), { metadata: { k: 'x'.repeat(2048 - 12) } });
  assert.equal((await st.head('k'))?.metadata?.k.length, 2036);
  await assert.rejects(st.put('k', bytes('x'), { metadata: { k: 'x'.repeat(2048 - 11) } }), isCode('invalid'));
});

test('a retried ifMatch put whose first try landed succeeds, single and multipart; a real change still fails', opts, async () => {
  const st = store({ multipartThreshold: 5 * MiB, partSize: 5 * MiB });
  const { etag: e1 } = await st.put('once', bytes('v1'));
  loseFirstAnswer(st.client, 'PutObjectCommand');
  const r = await st.put('once', bytes('v2 payload'), { ifMatch: e1, metadata: { a: '1' } });
  assert.equal(text(await st.get('once')), 'v2 payload');
  assert.equal(r.etag, (await st.head('once'))?.etag);
  await assert.rejects(st.put('once', bytes('v3'), { ifMatch: e1 }), isCode('changed'));

  const mp = store({ multipartThreshold: 5 * MiB, partSize: 5 * MiB });
  const { etag: m1 } = await mp.put('big', bytes('small first'));
  loseFirstAnswer(mp.client, 'CompleteMultipartUploadCommand');
  const big = randomBytes(6 * MiB);
  await mp.put('big', big, { ifMatch: m1 });
  assert.ok(Buffer.from(await mp.get('big')).equals(big));

  // The first try landed, but the retry finds someone else's object: changed, not success.
  const other = store({}, st.url);
  let raced = false;
  st.client.middlewareStack.add((next, context) => async (args) => {
    const out = await next(args);
    if (context.commandName === 'PutObjectCommand' && !raced) {
      raced = true;
      await other.put('once', bytes('someone else'));
      throw Object.assign(new Error('injected: reset'), { code: 'ECONNRESET' });
    }
    return out;
  }, { step: 'initialize', name: 'race-then-lose' });
  const cur = (await st.head('once'))?.etag;
  await assert.rejects(st.put('once', bytes('mine'), { ifMatch: cur }), isCode('changed'));
  assert.equal(text(await st.get('once')), 'someone else');
});
