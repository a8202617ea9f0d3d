/** Output files for the CLI: atomic writes (src/fs/atomic.ts) with CLI errors. */
import { AtomicWriteError, exists, writeFileAtomic as atomicWrite } from '../fs/atomic.js';
import { CliError } from './errors.js';

export async function assertWritable(path: string, force: boolean): Promise<void> {
  if (!force && (await exists(path))) throw new CliError(`${path} exists (use --force to overwrite)`);
}

export async function writeFileAtomic(path: string, bytes: Uint8Array, force: boolean): Promise<void> {
  try {
    await atomicWrite(path, bytes, force);
  } catch (e) {
    throw e instanceof AtomicWriteError ? new CliError(e.message) : e;
  }
}
