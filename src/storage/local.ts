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
 * contentType is accepted and not stored; head gives the size only (no etag or checksum).
 */
import { randomBytes } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { link, lstat, mkdir, open, readdir, readFile, realpath, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { LocalConfig } from './config.js';
import { StorageError } from './errors.js';
import { checkKey, checkPrefix, compareKeys, TEMP_MARK } from './keys.js';
import type { ListOptions, ObjectEntry, ObjectHead, ObjectStore, PutOptions } from './types.js';

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

  async get(key: string): Promise<Uint8Array> {
    const p = this.pathOf(key);
    await this.checkResolved(key, p);
    try {
      const buf = await readFile(p);
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (e) {
      if (['ENOENT', 'ENOTDIR', 'EISDIR'].includes(errno(e) ?? '')) throw new StorageError('not-found', `no object ${key} in ${this.url}`, { cause: e });
      throw toStorageError(e, `cannot read ${key} from ${this.url}`);
    }
  }

  async head(key: string): Promise<ObjectHead | null> {
    const p = this.pathOf(key);
    await this.checkResolved(key, p);
    try {
      const st = await stat(p);
      return st.isFile() ? { size: st.size } : null;
    } catch (e) {
      if (['ENOENT', 'ENOTDIR'].includes(errno(e) ?? '')) return null;
      throw toStorageError(e, `cannot stat ${key} in ${this.url}`);
    }
  }

  async put(key: string, bytes: Uint8Array, opts: PutOptions = {}): Promise<{ etag?: string }> {
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
    let placed = false;
    try {
      const fh = await open(tmp, 'wx', 0o644);
      try {
        await fh.writeFile(bytes);
        if (this.cfg.fsync) await fh.sync();
      } finally {
        await fh.close();
      }
      if (opts.ifNoneMatch) {
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
      if (this.cfg.fsync) await syncDir(dir);
      return {};
    } catch (e) {
      await rm(tmp, { force: true }).catch(() => undefined);
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
      .filter((d) => (d.isFile() || d.isDirectory()) && !d.name.startsWith(TEMP_MARK))
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
        let size: number;
        try {
          size = (await lstat(join(dir, d.name))).size;
        } catch (e) {
          if (errno(e) === 'ENOENT') continue; // deleted while listing
          throw toStorageError(e, `cannot stat ${key} in ${this.url}`);
        }
        yield { key, size };
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

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

