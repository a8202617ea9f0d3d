/**
 * `diffc models sync`: copy a model bundle from an object store (s3://bucket/prefix/ or
 * file:///dir/) into a local directory, for the model cache of a worker node (docs/deploy.md).
 *
 * The store holds manifest.json and the files it lists under one prefix. A sync
 *   1. reads the remote manifest; when <dir> already holds the same manifest and every file
 *      checks out (size, sha256; unchanged files are skipped by the bundle's verified stamp), it
 *      does nothing, so the pods on a node share one copy;
 *   2. otherwise downloads every file into a fresh temporary directory next to <dir>, hashes each
 *      against the manifest, writes manifest.json last, and renames the directory into place
 *      (replacing an older copy); a mismatch is a ModelError('checksum') and leaves nothing behind.
 * Concurrent syncs into one directory (pods starting together on a node) take turns through a
 * lock directory `<dir>.lock` that the holder touches while it works; a lock left by a killed
 * process goes stale and is taken over.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { LocalStore, openStore, S3Store, s3ConfigFromEnv, StorageError, type ObjectStore, type StoreConfigInput } from '../storage/index.js';
import { s3ToStorageError } from '../storage/s3.js';
import { loadBundle, parseManifest, type Bundle, type BundleFile } from './bundle.js';
import { ModelError } from './errors.js';

export interface SyncOptions {
  /** Store configuration; default: S3 settings from the environment (s3ConfigFromEnv). */
  readonly storeConfig?: StoreConfigInput;
  /** Download again even when <dir> holds a verified copy. */
  readonly force?: boolean;
  /** A lock whose holder has not touched it for this long is taken over (default 60 s). */
  readonly lockStaleMs?: number;
  /** How often the holder touches the lock and waiters look at it (default 5 s). */
  readonly lockPollMs?: number;
  /** Give up waiting for another sync's lock after this long (default 2 h). */
  readonly lockTimeoutMs?: number;
  readonly onFile?: (f: { path: string; bytes: number; index: number; count: number }) => void;
  readonly onWait?: (holder: string) => void;
}

export interface SyncResult {
  readonly id: string;
  readonly dir: string;
  readonly hashHex: string;
  readonly files: number;
  readonly bytes: number;
  /** false: <dir> already held a verified copy of this manifest and nothing was downloaded. */
  readonly downloaded: boolean;
  readonly seconds: number;
}

/** Storage failures in the model layer's terms (the CLI maps ModelError to exit code 1). */
function modelErrorOf(e: unknown, what: string): ModelError {
  if (e instanceof ModelError) return e;
  if (e instanceof StorageError) {
    const code = e.code === 'not-found' ? 'not-found' : e.code === 'unavailable' ? 'offline' : 'download';
    return new ModelError(code, `${what}: ${e.message}`, { cause: e });
  }
  return new ModelError('download', `${what}: ${(e as Error).message}`, { cause: e });
}

const errno = (e: unknown) => (e as NodeJS.ErrnoException | undefined)?.code;

/** Copies one object to a local file without holding it in memory where the store allows. */
async function download(store: ObjectStore, key: string, dest: string, bytes: number): Promise<void> {
  await mkdir(dirname(dest), { recursive: true });
  if (store instanceof LocalStore) {
    const head = await store.head(key); // checks the key stays inside the store
    if (!head) throw new StorageError('not-found', `no object ${key} in ${store.url}`);
    await copyFile(join(store.root, ...key.split('/')), dest);
  } else if (store instanceof S3Store) {
    await downloadS3(store, key, dest, bytes);
  } else {
    await writeFile(dest, await store.get(key));
  }
}

/**
 * Streams an S3 object to a file; a broken transfer resumes with a Range request from the bytes
 * already written (up to 5 tries without progress).
 */
async function downloadS3(store: S3Store, key: string, dest: string, bytes: number): Promise<void> {
  const Key = store.location.prefix + key;
  const what = `get ${store.url}${key}`;
  let written = 0, failures = 0;
  await writeFile(dest, new Uint8Array(0));
  for (;;) {
    const before = written;
    try {
      const out = await store.client.send(new GetObjectCommand({
        Bucket: store.location.bucket, Key, ...(written > 0 ? { Range: `bytes=${written}-` } : { ChecksumMode: 'ENABLED' }),
      }));
      if (!out.Body) throw new StorageError('io', `${what}: the response has no body`);
      const body = out.Body as Readable;
      body.on('data', (c: Buffer) => { written += c.length; });
      await pipeline(body, createWriteStream(dest, { flags: 'a' }));
      if (written !== bytes) throw new StorageError('io', `${what}: got ${written} bytes, the manifest says ${bytes}`);
      return;
    } catch (e) {
      const err = e instanceof StorageError ? e : s3ToStorageError(e, what);
      if (['not-found', 'auth', 'invalid'].includes(err.code) || written > bytes) throw err;
      failures = written > before ? 1 : failures + 1;
      if (failures >= 5) throw err;
      // Resume from what is on disk (a partial chunk may or may not have been flushed).
      written = (await stat(dest)).size;
      await sleep(Math.min(5_000, 200 * 2 ** failures));
    }
  }
}

/** Holds `<dir>.lock` while fn runs, touching it so that waiters can tell a live holder. */
async function withLock<T>(lockDir: string, opts: SyncOptions, fn: () => Promise<T>): Promise<T> {
  const staleMs = opts.lockStaleMs ?? 60_000;
  const pollMs = opts.lockPollMs ?? 5_000;
  const deadline = Date.now() + (opts.lockTimeoutMs ?? 2 * 3600_000);
  await mkdir(dirname(lockDir), { recursive: true });
  for (;;) {
    try {
      await mkdir(lockDir);
      break;
    } catch (e) {
      if (errno(e) !== 'EEXIST') throw new ModelError('download', `cannot create the lock ${lockDir}: ${(e as Error).message}`);
    }
    const st = await stat(lockDir).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs > staleMs) {
      // Taken over by renaming first, so that two waiters cannot both remove a fresh lock.
      const gone = `${lockDir}.stale-${randomBytes(4).toString('hex')}`;
      if (await rename(lockDir, gone).then(() => true, () => false)) await rm(gone, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new ModelError('download', `gave up waiting for ${lockDir} (another sync holds it)`);
    opts.onWait?.(await readFile(join(lockDir, 'owner'), 'utf8').catch(() => '?'));
    await sleep(pollMs);
  }
  await writeFile(join(lockDir, 'owner'), `pid ${process.pid} since ${new Date().toISOString()}`).catch(() => undefined);
  const beat = setInterval(() => { const t = new Date(); utimes(lockDir, t, t).catch(() => undefined); }, pollMs);
  try {
    return await fn();
  } finally {
    clearInterval(beat);
    await rm(lockDir, { recursive: true, force: true });
  }
}

/** The bundle in dir when its manifest is byte-for-byte `manifestText` and every file checks out. */
async function verifiedCopy(dir: string, manifestText: string): Promise<Bundle | undefined> {
  const local = await readFile(join(dir, 'manifest.json'), 'utf8').catch(() => undefined);
  if (local !== manifestText) return undefined;
  try {
    return await loadBundle(dir, { verify: true, stamp: true });
  } catch (e) {
    if (e instanceof ModelError && (e.code === 'checksum' || e.code === 'not-found')) return undefined;
    throw e;
  }
}

const total = (files: readonly BundleFile[]) => files.reduce((s, f) => s + f.bytes, 0);

/** Syncs the bundle at `url` (s3://bucket/prefix/ or file:///dir/) into `dir`. */
export async function syncBundle(url: string, dir: string, opts: SyncOptions = {}): Promise<SyncResult> {
  const t0 = Date.now();
  const target = resolve(dir);
  let store: ObjectStore;
  try {
    store = openStore(url.endsWith('/') ? url : `${url}/`, opts.storeConfig ?? { s3: s3ConfigFromEnv() });
  } catch (e) {
    throw modelErrorOf(e, `cannot open ${url}`);
  }
  try {
    let manifestBytes: Uint8Array;
    try {
      manifestBytes = await store.get('manifest.json');
    } catch (e) {
      throw modelErrorOf(e, `no model bundle at ${store.url}`);
    }
    const manifestText = Buffer.from(manifestBytes).toString('utf8');
    let raw: unknown;
    try {
      raw = JSON.parse(manifestText);
    } catch (e) {
      throw new ModelError('manifest', `${store.url}manifest.json is not JSON: ${(e as Error).message}`);
    }
    const manifest = parseManifest(raw, store.url);
    const result = (b: Bundle, downloaded: boolean): SyncResult => ({
      id: b.manifest.id, dir: b.dir, hashHex: b.hashHex, files: b.manifest.files.length, bytes: total(b.manifest.files), downloaded, seconds: (Date.now() - t0) / 1000,
    });

    return await withLock(`${target}.lock`, opts, async () => {
      if (!opts.force) {
        const have = await verifiedCopy(target, manifestText);
        if (have) return result(have, false);
      }
      const tmp = await mkdtemp(join(dirname(target), `.${basename(target)}.sync-`));
      try {
        for (const [index, f] of manifest.files.entries()) {
          opts.onFile?.({ path: f.path, bytes: f.bytes, index, count: manifest.files.length });
          try {
            await download(store, f.path, join(tmp, f.path), f.bytes);
          } catch (e) {
            throw modelErrorOf(e, `${manifest.id}: cannot download ${f.path}`);
          }
        }
        await writeFile(join(tmp, 'manifest.json'), manifestBytes);
        // Sizes and sha256 of every file against the manifest; records the verified stamp so
        // that later syncs and worker starts on this node do not hash the files again.
        await loadBundle(tmp, { verify: true, force: true, stamp: true });
        const old = `${dirname(target)}/.${basename(target)}.old-${randomBytes(4).toString('hex')}`;
        const hadOld = await rename(target, old).then(() => true, (e) => {
          if (errno(e) === 'ENOENT') return false;
          throw new ModelError('download', `cannot move the old copy ${target} aside: ${(e as Error).message}`);
        });
        await rename(tmp, target);
        if (hadOld) await rm(old, { recursive: true, force: true });
      } catch (e) {
        await rm(tmp, { recursive: true, force: true });
        throw e;
      }
      // The stamp written in tmp survives the rename (mtimes are kept), so this does not re-hash.
      return result(await loadBundle(target, { verify: true, stamp: true }), true);
    });
  } finally {
    store.close();
  }
}
