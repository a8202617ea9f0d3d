/**
 * A directory as an object store. A key is a relative path under the root. put writes a
 * temporary file (TEMP_MARK + random hex) in the target's directory, fsyncs it, then renames it
 * into place (or, for ifNoneMatch, hard-links it, which fails atomically when the name exists) and
 * fsyncs the directory: readers see the old object or the whole new one, never a part, and a
 * failed put removes its temporary file. Temporary files a crashed writer left behind are never
 * listed or read, and may be deleted by anyone.
 *
 * Keys never leave the root: '..' segments are refused by checkKey, and a symlink whose target
 * lies outside the root is refused on read and write. Listing walks only plain files and
 * directories (symlinks are not followed). Unlike S3, a key cannot be both an object and a prefix
 * of other keys ("a" and "a/b"): the filesystem has one name for both; that put is 'invalid'.
 * contentType is accepted and not stored; head gives no checksum.
 *
 * ETag: a digest of the file's inode number, size and mtime in nanoseconds (localEtag), taken
 * from one stat, so head, list and get's pin cost no read of the data (a content hash would read
 * a manifest of GBs on every pinned page). Every put makes a new inode while the old file still
 * exists, so a put always changes the ETag; so does any in-place edit that moves the mtime. What
 * it cannot see: an in-place edit of the same size within one filesystem timestamp tick (a few
 * ms on Linux), and A-B-A — a third put of the same size in the same tick that reuses the first
 * one's freed inode number.
 *
 * Metadata: put writes it to a sidecar "<dir>/.diffc-meta.<name>" (temporary file + rename, like
 * the object) that names the ETag of the object it belongs to; list never shows it and delete
 * removes it. The object is renamed into place first, then the sidecar, and head returns the
 * metadata only while the sidecar's ETag is the object's: a reader can see no metadata for a
 * moment (or for good, if the writer died between the two renames), never another object's.
 *
 * Pinned reads (ifMatch) compare with the ETag of the open file, so the check and the read are of
 * the same file. An ifMatch put compares the current ETag, then renames: not atomic against a
 * concurrent local writer that replaces the object between the two (S3's ifMatch is). Local
 * stores have no versions: a versionId is 'invalid'.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { BigIntStats, Dirent } from 'node:fs';
import { link, lstat, mkdir, open, readdir, readFile, realpath, rename, rm, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import type { LocalConfig } from './config.js';
import { StorageError } from './errors.js';
import { checkKey, checkPrefix, compareKeys, META_MARK, TEMP_MARK } from './keys.js';
import { checkGetOptions, checkPutOptions, checkRange } from './options.js';
import type { GetOptions, ListOptions, ObjectEntry, ObjectHead, ObjectStore, PutOptions } from './types.js';

/** The local ETag of a file (see the header): 32 hex digits, like an MD5 ETag. */
export function localEtag(st: Pick<BigIntStats, 'ino' | 'size' | 'mtimeNs'>): string {
  return createHash('sha256').update(`${st.ino}:${st.size}:${st.mtimeNs}`).digest('hex').slice(0, 32);
}

const Sidecar = z.object({ etag: z.string(), metadata: z.record(z.string()) });

function sidecarOf(p: string): string {
  return join(dirname(p), META_MARK + basename(p));
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | null)?.code;
}

function toStorageError(e: unknown, what: string): StorageError {
  if (e instanceof StorageError) return e;
  const code = errno(e);
  const msg = `${what}: ${(e as Error)?.message ?? String(e)}`;
  switch (code) {
    case 'ENOENT': return new StorageError('not-found', msg, { cause: e });
    case 'EACCES': case 'EPERM': case 'EROFS': return new StorageError('auth', msg, { cause: e });
    case 'ENAMETOOLONG': case 'ELOOP': return new StorageError('invalid', msg, { cause: e });
    default: return new StorageError('io', msg, { cause: e });
  }
}

function isInside(root: string, p: string): boolean {
  return p === root || p.startsWith(root.endsWith(sep) ? root : root + sep);
}

export class LocalStore implements ObjectStore {
  readonly url: string;
  readonly root: string;
  private realRootCache?: string;

  constructor(root: string, private readonly cfg: LocalConfig) {
    this.root = resolve(root);
    this.url = pathToFileURL(this.root).href.replace(/\/?$/, '/');
  }

  /** The root with symlinks resolved; null while the root does not exist. */
  private async realRoot(): Promise<string | null> {
    if (this.realRootCache) return this.realRootCache;
    try {
      this.realRootCache = await realpath(this.root);
      return this.realRootCache;
    } catch (e) {
      if (errno(e) === 'ENOENT') return null;
      throw toStorageError(e, `cannot open ${this.root}`);
    }
  }

  private pathOf(key: string): string {
    checkKey(key);
    const p = join(this.root, ...key.split('/'));
    if (!isInside(this.root, p) || p === this.root) throw new StorageError('invalid', `key ${JSON.stringify(key)} leaves ${this.root}`);
    return p;
  }

  /** Refuses a path whose existing part resolves (through symlinks) to outside the root. */
  private async checkResolved(key: string, p: string): Promise<void> {
    const root = await this.realRoot();
    if (root === null) return; // nothing exists yet, so nothing can point outside
    let q = p;
    for (;;) {
      try {
        const real = await realpath(q);
        if (!isInside(root, real)) throw new StorageError('invalid', `key ${JSON.stringify(key)} resolves outside ${this.root} (through a symlink)`);
        return;
      } catch (e) {
        if (e instanceof StorageError) throw e;
        if (errno(e) !== 'ENOENT' || q === this.root) return;
        q = dirname(q);
      }
    }
  }

  async get(key: string, opts?: GetOptions): Promise<Uint8Array> {
    return this.read(key, opts, async (fh, size) => {
      const buf = await fh.readFile();
      // Another writer may have grown the file since the pin's fstat: keep the pinned size.
      return new Uint8Array(buf.buffer, buf.byteOffset, Math.min(buf.byteLength, size));
    });
  }

  async getRange(key: string, start: number, end?: number, opts?: GetOptions): Promise<Uint8Array> {
    checkRange(start, end);
    return this.read(key, opts, async (fh, size) => {
      const from = Math.min(start, size);
      const to = Math.min(end ?? size, size);
      const out = new Uint8Array(to - from);
      let n = 0;
      while (n < out.length) {
        const { bytesRead } = await fh.read(out, n, out.length - n, from + n);
        if (bytesRead === 0) break; // truncated under us: what there is
        n += bytesRead;
      }
      return n === out.length ? out : out.subarray(0, n);
    });
  }

  /** Opens the object, checks the pin against that open file, then hands it to `body`. */
  private async read(key: string, opts: GetOptions | undefined, body: (fh: FileHandle, size: number) => Promise<Uint8Array>): Promise<Uint8Array> {
    const { ifMatch, versionId } = checkGetOptions(opts);
    if (versionId !== undefined) throw new StorageError('invalid', `a local store keeps no versions (versionId ${JSON.stringify(versionId)} for ${key})`);
    const p = this.pathOf(key);
    await this.checkResolved(key, p);
    let fh: FileHandle | undefined;
    try {
      fh = await open(p, 'r');
      const st = await fh.stat({ bigint: true });
      if (!st.isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
      if (ifMatch !== undefined && localEtag(st) !== ifMatch) {
        throw new StorageError('changed', `${key} in ${this.url} is no longer the version read before (ETag ${localEtag(st)}, not ${ifMatch})`);
      }
      return await body(fh, Number(st.size));
    } catch (e) {
      if (['ENOENT', 'ENOTDIR', 'EISDIR'].includes(errno(e) ?? '')) throw new StorageError('not-found', `no object ${key} in ${this.url}`, { cause: e });
      throw toStorageError(e, `cannot read ${key} from ${this.url}`);
    } finally {
      await fh?.close();
    }
  }

  async head(key: string): Promise<ObjectHead | null> {
    const p = this.pathOf(key);
    await this.checkResolved(key, p);
    let etag: string;
    let size: number;
    try {
      const st = await stat(p, { bigint: true });
      if (!st.isFile()) return null;
      etag = localEtag(st);
      size = Number(st.size);
    } catch (e) {
      if (['ENOENT', 'ENOTDIR'].includes(errno(e) ?? '')) return null;
      throw toStorageError(e, `cannot stat ${key} in ${this.url}`);
    }
    return { size, etag, metadata: await this.metadataOf(key, p, etag) };
  }

  /** The sidecar's metadata when it belongs to the object with `etag`, else none (see the header). */
  private async metadataOf(key: string, p: string, etag: string): Promise<Record<string, string>> {
    let text: string;
    try {
      text = await readFile(sidecarOf(p), 'utf8');
    } catch (e) {
      if (['ENOENT', 'ENOTDIR', 'EISDIR'].includes(errno(e) ?? '')) return {};
      throw toStorageError(e, `cannot read the metadata of ${key} in ${this.url}`);
    }
    let parsed: z.infer<typeof Sidecar> | undefined;
    try {
      parsed = Sidecar.parse(JSON.parse(text));
    } catch {
      parsed = undefined; // not one we wrote whole: it vouches for no object
    }
    return parsed && parsed.etag === etag ? parsed.metadata : {};
  }

  /** The ETag of what is at `p` now; null when nothing (or a directory) is. */
  private async currentEtag(p: string): Promise<string | null> {
    try {
      const st = await stat(p, { bigint: true });
      return st.isFile() ? localEtag(st) : null;
    } catch (e) {
      if (['ENOENT', 'ENOTDIR'].includes(errno(e) ?? '')) return null;
      throw e;
    }
  }

  async put(key: string, bytes: Uint8Array, opts?: PutOptions): Promise<{ etag?: string }> {
    return this.place(key, opts, (fh) => fh.writeFile(bytes));
  }

  /**
   * put() of bytes that come in pieces, for objects too large to hold in memory (a generated
   * manifest of GBs): the same temporary file, rename and guarantees, written as `source` yields.
   * Local stores only: S3's put needs the whole body (or a multipart upload) up front.
   */
  async putStream(key: string, source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, opts?: PutOptions): Promise<{ etag?: string }> {
    return this.place(key, opts, async (fh) => {
      // writeFile on a handle writes from the current position, and all of the piece.
      for await (const piece of source) await fh.writeFile(piece);
    });
  }

  private async place(key: string, opts: PutOptions | undefined, fill: (fh: FileHandle) => Promise<unknown>): Promise<{ etag: string }> {
    const { ifNoneMatch, ifMatch, metadata } = checkPutOptions(opts);
    const p = this.pathOf(key);
    const dir = dirname(p);
    await this.checkResolved(key, dir);
    try {
      await mkdir(dir, { recursive: true });
    } catch (e) {
      if (['EEXIST', 'ENOTDIR'].includes(errno(e) ?? '')) {
        throw new StorageError('invalid', `cannot put ${key}: part of its path is an object, and a local store cannot hold both "a" and "a/b"`, { cause: e });
      }
      throw toStorageError(e, `cannot create the directory of ${key} in ${this.url}`);
    }
    await this.checkResolved(key, dir);
    const tmp = join(dir, `${TEMP_MARK}${randomBytes(8).toString('hex')}`);
    const tmpMeta = metadata ? join(dir, `${TEMP_MARK}${randomBytes(8).toString('hex')}`) : undefined;
    let placed = false;
    try {
      const fh = await open(tmp, 'wx', 0o644);
      let etag: string;
      try {
        await fill(fh);
        if (this.cfg.fsync) await fh.sync();
        // The mtime is final once the data is written; rename and link leave it alone.
        etag = localEtag(await fh.stat({ bigint: true }));
      } finally {
        await fh.close();
      }
      if (tmpMeta) await writeSynced(tmpMeta, JSON.stringify({ etag, metadata }), this.cfg.fsync);
      if (ifMatch !== undefined) {
        // Check, then rename: a local writer replacing the object in between is not seen.
        const current = await this.currentEtag(p);
        if (current !== ifMatch) {
          throw new StorageError('changed', current === null
            ? `${key} is not in ${this.url} (expected the version with ETag ${ifMatch})`
            : `${key} in ${this.url} has changed (ETag ${current}, not ${ifMatch})`);
        }
      }
      if (ifNoneMatch) {
        try {
          await link(tmp, p);
        } catch (e) {
          if (errno(e) === 'EEXIST') {
            const isDir = await lstat(p).then((s) => s.isDirectory(), () => false);
            throw isDir
              ? new StorageError('invalid', `cannot put ${key}: it is a prefix of other keys in ${this.url}`, { cause: e })
              : new StorageError('exists', `${key} already exists in ${this.url}`, { cause: e });
          }
          throw e;
        }
        placed = true;
        await unlink(tmp);
      } else {
        try {
          await rename(tmp, p);
        } catch (e) {
          if (['EISDIR', 'ENOTEMPTY', 'EEXIST'].includes(errno(e) ?? '')) {
            throw new StorageError('invalid', `cannot put ${key}: it is a prefix of other keys in ${this.url}`, { cause: e });
          }
          throw e;
        }
        placed = true;
      }
      if (tmpMeta) await rename(tmpMeta, sidecarOf(p));
      // An old sidecar names the old ETag and so vouches for nothing; removed only to keep it tidy.
      else await rm(sidecarOf(p), { force: true }).catch(() => undefined);
      if (this.cfg.fsync) await syncDir(dir);
      return { etag };
    } catch (e) {
      await rm(tmp, { force: true }).catch(() => undefined);
      if (tmpMeta) await rm(tmpMeta, { force: true }).catch(() => undefined);
      if (placed) throw toStorageError(e, `wrote ${key} in ${this.url} but could not finish`);
      throw toStorageError(e, `cannot write ${key} in ${this.url}`);
    }
  }

  async *list(prefix: string, opts: ListOptions = {}): AsyncIterable<ObjectEntry> {
    checkPrefix(prefix);
    const { startAfter } = opts;
    const limit = opts.limit ?? Infinity;
    if (limit <= 0) return;
    const root = await this.realRoot();
    if (root === null) return;
    // Start at the deepest directory the prefix names in full.
    const cut = prefix.lastIndexOf('/');
    const baseKey = cut < 0 ? '' : prefix.slice(0, cut + 1);
    const baseDir = join(this.root, ...baseKey.split('/').filter(Boolean));
    await this.checkResolved(baseKey || '.', baseDir);
    let n = 0;
    for await (const entry of this.walk(baseDir, baseKey, prefix, startAfter)) {
      yield entry;
      if (++n >= limit) return;
    }
  }

  /**
   * Depth first, siblings sorted with directories compared as "name/": that visits the keys in
   * exactly their global byte order, since every key under directory d starts with "d/".
   */
  private async *walk(dir: string, dirKey: string, prefix: string, startAfter: string | undefined): AsyncGenerator<ObjectEntry> {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      if (['ENOENT', 'ENOTDIR'].includes(errno(e) ?? '')) return;
      throw toStorageError(e, `cannot list ${dirKey || '/'} in ${this.url}`);
    }
    const items = entries
      .filter((d) => (d.isFile() || d.isDirectory()) && !d.name.startsWith(TEMP_MARK) && !d.name.startsWith(META_MARK))
      .map((d) => ({ d, sortKey: d.isDirectory() ? `${d.name}/` : d.name }))
      .sort((a, b) => compareKeys(a.sortKey, b.sortKey));
    for (const { d, sortKey } of items) {
      const key = dirKey + sortKey;
      if (!validKey(d.isDirectory() ? key.slice(0, -1) : key)) continue;
      if (d.isDirectory()) {
        if (!key.startsWith(prefix) && !prefix.startsWith(key)) continue;
        // Every key below is longer than `key` and starts with it: all of them sort before
        // startAfter unless startAfter starts with `key` too.
        if (startAfter !== undefined && !startAfter.startsWith(key) && compareKeys(startAfter, key) > 0) continue;
        yield* this.walk(join(dir, d.name), key, prefix, startAfter);
      } else {
        if (!key.startsWith(prefix)) continue;
        if (startAfter !== undefined && compareKeys(key, startAfter) <= 0) continue;
        let st: BigIntStats;
        try {
          st = await lstat(join(dir, d.name), { bigint: true });
        } catch (e) {
          if (errno(e) === 'ENOENT') continue; // deleted while listing
          throw toStorageError(e, `cannot stat ${key} in ${this.url}`);
        }
        if (!st.isFile()) continue; // replaced by a directory while listing
        yield { key, size: Number(st.size), etag: localEtag(st) };
      }
    }
  }

  async delete(key: string): Promise<void> {
    const p = this.pathOf(key);
    await this.checkResolved(key, p);
    try {
      await unlink(p);
    } catch (e) {
      // A missing key, or a name that is only a prefix of other keys: nothing to delete, as on S3.
      if (['ENOENT', 'ENOTDIR', 'EISDIR'].includes(errno(e) ?? '')) return;
      throw toStorageError(e, `cannot delete ${key} from ${this.url}`);
    }
    try {
      await unlink(sidecarOf(p));
    } catch (e) {
      if (errno(e) !== 'ENOENT') throw toStorageError(e, `deleted ${key} from ${this.url} but not its metadata`);
    }
    // Directories are only an artefact of '/' in keys: drop the ones this delete emptied, as a
    // bucket has no empty "folders" either (rmdir refuses a non-empty one, so this never loses data).
    for (let d = dirname(p); d.startsWith(this.root + sep); d = dirname(d)) {
      try {
        await rmdir(d);
      } catch {
        break;
      }
    }
  }

  close(): void {}
}

function validKey(key: string): boolean {
  try {
    checkKey(key);
    return true;
  } catch {
    return false;
  }
}

async function writeSynced(path: string, text: string, fsync: boolean): Promise<void> {
  const fh = await open(path, 'wx', 0o644);
  try {
    await fh.writeFile(text);
    if (fsync) await fh.sync();
  } finally {
    await fh.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

