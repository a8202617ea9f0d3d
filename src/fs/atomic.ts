/**
 * Files are written whole or not at all: a temporary name in the same directory, fsync, then
 * rename. An existing file is refused unless forced (checked before and again just before the
 * rename). Callers map AtomicWriteError to their own error types.
 */
import { open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

export class AtomicWriteError extends Error {
  override readonly name = 'AtomicWriteError';
  constructor(readonly code: 'exists' | 'io', message: string) {
    super(message);
  }
}

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

export async function writeFileAtomic(path: string, bytes: Uint8Array, force: boolean): Promise<void> {
  if (!force && (await exists(path))) throw new AtomicWriteError('exists', `${path} exists (use --force to overwrite)`);
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'wx');
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (!force && (await exists(path))) throw new AtomicWriteError('exists', `${path} appeared while writing (use --force to overwrite)`);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    if (e instanceof AtomicWriteError) throw e;
    throw new AtomicWriteError('io', `cannot write ${path}: ${(e as Error).message}`);
  }
}
