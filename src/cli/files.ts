/**
 * Output files are written whole or not at all: a temporary name in the same directory, fsync,
 * then rename. An existing output is refused unless forced.
 */
import { open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CliError } from './errors.js';

export async function assertWritable(path: string, force: boolean): Promise<void> {
  if (force) return;
  const exists = await stat(path).then(() => true, () => false);
  if (exists) throw new CliError(`${path} exists (use --force to overwrite)`);
}

export async function writeFileAtomic(path: string, bytes: Uint8Array, force: boolean): Promise<void> {
  await assertWritable(path, force);
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'wx');
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (!force) await assertWritable(path, false);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    if (e instanceof CliError) throw e;
    throw new CliError(`cannot write ${path}: ${(e as Error).message}`);
  }
}
