import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DEFAULT_MODEL_DIR } from '../src/models/analytic-dct/bundle.js';
import { loadBundle } from '../src/models/bundle.js';
import { ModelError } from '../src/models/errors.js';
import { syncBundle } from '../src/models/sync.js';
import { modelsCommand } from '../src/cli/models.js';
import { openStore } from '../src/storage/index.js';
import { needs, privateMinio, servicesRequired, type Minio } from './helpers/dev-services.js';

const isCode = (code: string) => (e: unknown) => e instanceof ModelError && e.code === code;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const fileUrl = (dir: string) => pathToFileURL(dir).href + '/';

const scratch: string[] = [];
after(async () => {
  for (const d of scratch) await rm(d, { recursive: true, force: true });
});
async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'diffc-sync-'));
  scratch.push(d);
  return d;
}

/** A bundle in `dir`: the embedded default model plus a nested blob of `blobBytes` random bytes. */
async function makeBundle(dir: string, blobBytes = 256 * 1024): Promise<{ blob: Uint8Array }> {
  await cp(DEFAULT_MODEL_DIR, dir, { recursive: true });
  await rm(join(dir, '.diffc-verified.json'), { force: true });
  const blob = new Uint8Array(randomBytes(blobBytes));
  await mkdir(join(dir, 'extra'), { recursive: true });
  await writeFile(join(dir, 'extra', 'blob.bin'), blob);
  const m = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
  m.id = 'sync-test';
  m.files.push({ role: 'params', path: 'extra/blob.bin', sha256: sha(blob), bytes: blob.length });
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(m, null, 2));
  return { blob };
}

/** Flips one byte of a file, keeping its size (so only the sha256 can tell). */
async function corrupt(path: string): Promise<void> {
  const b = await readFile(path);
  b[b.length >> 1] ^= 0xff;
  await writeFile(path, b);
}

test('sync copies a bundle from a file:// store, verifies it, and leaves nothing else behind', async () => {
  const remote = await tmp(), node = await tmp();
  const { blob } = await makeBundle(remote);
  const dir = join(node, 'models', 'sync-test');
  const files: string[] = [];
  const r = await syncBundle(fileUrl(remote), dir, { onFile: (f) => files.push(f.path) });
  assert.equal(r.downloaded, true);
  assert.equal(r.id, 'sync-test');
  assert.equal(r.files, 2);
  assert.deepEqual(files, ['params.json', 'extra/blob.bin']);
  assert.deepEqual(await readFile(join(dir, 'extra', 'blob.bin')), Buffer.from(blob));
  const b = await loadBundle(dir, { verify: true, force: true });
  assert.equal(b.hashHex, r.hashHex);
  assert.equal(b.hashHex, (await loadBundle(remote)).hashHex);
  // No temp dir, no lock, no old copy next to it.
  assert.deepEqual(await readdir(join(node, 'models')), ['sync-test']);
});

test('a second sync of the same manifest downloads nothing; a changed manifest replaces the copy', async () => {
  const remote = await tmp(), node = await tmp();
  await makeBundle(remote);
  const dir = join(node, 'sync-test');
  assert.equal((await syncBundle(fileUrl(remote), dir)).downloaded, true);
  const again = await syncBundle(fileUrl(remote), dir);
  assert.equal(again.downloaded, false);
  // The remote bundle changes (new defaults, so a new model hash): the local copy is replaced.
  const m = JSON.parse(await readFile(join(remote, 'manifest.json'), 'utf8'));
  m.defaults.maxChunkBits = 9;
  await writeFile(join(remote, 'manifest.json'), JSON.stringify(m));
  const changed = await syncBundle(fileUrl(remote), dir);
  assert.equal(changed.downloaded, true);
  assert.notEqual(changed.hashHex, again.hashHex);
  assert.equal(JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')).defaults.maxChunkBits, 9);
  assert.deepEqual(await readdir(node), ['sync-test']);
});

test('a local copy damaged on disk is noticed and downloaded again', async () => {
  const remote = await tmp(), node = await tmp();
  const { blob } = await makeBundle(remote);
  const dir = join(node, 'sync-test');
  await syncBundle(fileUrl(remote), dir);
  await corrupt(join(dir, 'extra', 'blob.bin'));
  const r = await syncBundle(fileUrl(remote), dir);
  assert.equal(r.downloaded, true);
  assert.deepEqual(await readFile(join(dir, 'extra', 'blob.bin')), Buffer.from(blob));
});

test('a corrupted file in the store fails with a checksum error and leaves no directory', async () => {
  const remote = await tmp(), node = await tmp();
  await makeBundle(remote);
  await corrupt(join(remote, 'extra', 'blob.bin'));
  const dir = join(node, 'sync-test');
  await assert.rejects(syncBundle(fileUrl(remote), dir), (e) => isCode('checksum')(e) && /extra\/blob\.bin/.test((e as Error).message));
  assert.deepEqual(await readdir(node), []);
});

test('a failed forced sync keeps the good copy that was there', async () => {
  const remote = await tmp(), node = await tmp();
  const { blob } = await makeBundle(remote);
  const dir = join(node, 'sync-test');
  await syncBundle(fileUrl(remote), dir);
  await corrupt(join(remote, 'extra', 'blob.bin'));
  await assert.rejects(syncBundle(fileUrl(remote), dir, { force: true }), isCode('checksum'));
  assert.deepEqual(await readFile(join(dir, 'extra', 'blob.bin')), Buffer.from(blob));
  assert.deepEqual(await readdir(node), ['sync-test']);
});

test('missing bundle, missing file, wrong size and bad manifest are typed errors', async () => {
  const remote = await tmp(), node = await tmp();
  await assert.rejects(syncBundle(fileUrl(join(remote, 'nothing')), join(node, 'a')), isCode('not-found'));
  await makeBundle(remote);
  await rm(join(remote, 'extra', 'blob.bin'));
  await assert.rejects(syncBundle(fileUrl(remote), join(node, 'b')), isCode('not-found'));
  await writeFile(join(remote, 'extra', 'blob.bin'), 'short');
  await assert.rejects(syncBundle(fileUrl(remote), join(node, 'c')), isCode('checksum'));
  await writeFile(join(remote, 'manifest.json'), '{"schema": 1}');
  await assert.rejects(syncBundle(fileUrl(remote), join(node, 'd')), isCode('manifest'));
  await assert.rejects(syncBundle('ftp://example/x/', join(node, 'e')), isCode('download'));
  assert.deepEqual(await readdir(node), []);
});

test('syncs started together into one directory take turns: one downloads, the others reuse it', async () => {
  const remote = await tmp(), node = await tmp();
  await makeBundle(remote, 4 * 1024 * 1024);
  const dir = join(node, 'sync-test');
  const rs = await Promise.all([1, 2, 3].map(() => syncBundle(fileUrl(remote), dir, { lockPollMs: 20 })));
  assert.deepEqual(rs.map((r) => r.downloaded).sort(), [false, false, true]);
  assert.deepEqual(await readdir(node), ['sync-test']);
});

test('a lock left by a killed sync goes stale and is taken over', async () => {
  const remote = await tmp(), node = await tmp();
  await makeBundle(remote);
  const dir = join(node, 'sync-test');
  await mkdir(`${dir}.lock`);
  const old = new Date(Date.now() - 120_000);
  await utimes(`${dir}.lock`, old, old);
  const r = await syncBundle(fileUrl(remote), dir, { lockPollMs: 20, lockStaleMs: 60_000 });
  assert.equal(r.downloaded, true);
  // A live (fresh) lock is waited for, up to the timeout.
  await mkdir(`${dir}.lock`);
  await assert.rejects(syncBundle(fileUrl(remote), dir, { lockPollMs: 20, lockTimeoutMs: 200 }), (e) => isCode('download')(e) && /waiting/.test((e as Error).message));
  await rm(`${dir}.lock`, { recursive: true });
});

test('diffc models sync: exit 0 with JSON, exit 1 on a corrupt bundle, exit 2 on bad usage', async () => {
  const remote = await tmp(), node = await tmp();
  await makeBundle(remote);
  const dir = join(node, 'sync-test');
  const out: string[] = [], err: string[] = [];
  assert.equal(await modelsCommand(['sync', fileUrl(remote), dir, '--json', '-q'], (s) => out.push(s), (s) => err.push(s)), 0);
  const r = JSON.parse(out.at(-1)!);
  assert.equal(r.downloaded, true);
  assert.equal(r.id, 'sync-test');
  assert.equal(await modelsCommand(['sync', fileUrl(remote), dir], (s) => out.push(s), (s) => err.push(s)), 0);
  assert.match(out.at(-1)!, /already/);
  await corrupt(join(remote, 'extra', 'blob.bin'));
  assert.equal(await modelsCommand(['sync', fileUrl(remote), join(node, 'other')], (s) => out.push(s), (s) => err.push(s)), 1);
  assert.match(err.at(-1)!, /sha256/);
  assert.equal(await modelsCommand(['sync', fileUrl(remote)], () => undefined, (s) => err.push(s)), 2);
  assert.deepEqual(await readdir(node), ['sync-test']);
});

// The S3 path (streamed, resumable GetObject) against a private MinIO, when one is built.
const { missing, opts } = await needs('minio');
let minio: Minio | undefined;
before(async () => {
  if (missing && servicesRequired) throw new Error(`DIFFC_REQUIRE_SERVICES=1, but ${missing}`);
});
after(async () => {
  await minio?.stop();
});

test('sync from s3:// (MinIO): streamed download, verified, then reused', opts, async () => {
  minio = await privateMinio();
  const remote = await tmp(), node = await tmp();
  const { blob } = await makeBundle(remote, 20 * 1024 * 1024 + 123);
  const s3 = { endpoint: minio.env.S3_ENDPOINT, credentials: { accessKeyId: minio.env.S3_ACCESS_KEY_ID, secretAccessKey: minio.env.S3_SECRET_ACCESS_KEY } };
  const url = `s3://${minio.env.S3_BUCKET}/bundles/sync-test/`;
  const store = openStore(url, { s3 });
  try {
    for (const name of ['manifest.json', 'params.json', 'extra/blob.bin']) await store.put(name, await readFile(join(remote, name)));
  } finally {
    store.close();
  }
  const dir = join(node, 'sync-test');
  const r = await syncBundle(url, dir, { storeConfig: { s3 } });
  assert.equal(r.downloaded, true);
  assert.equal((await stat(join(dir, 'extra', 'blob.bin'))).size, blob.length);
  assert.equal(sha(await readFile(join(dir, 'extra', 'blob.bin'))), sha(blob));
  assert.equal((await syncBundle(url, dir, { storeConfig: { s3 } })).downloaded, false);
  await assert.rejects(syncBundle(`s3://${minio.env.S3_BUCKET}/bundles/none/`, join(node, 'x'), { storeConfig: { s3 } }), isCode('not-found'));
});
