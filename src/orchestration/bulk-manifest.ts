/**
 * Reading a finished bulk job's manifest: manifest.json indexes its JSONL parts, which in order
 * are the job's one-line-per-object record. One part in memory at a time.
 */
import type { ObjectStore } from '../storage/index.js';
import type { ManifestIndex, Outcome } from './bulk-types.js';

export async function readManifestIndex(store: ObjectStore, indexKey: string): Promise<ManifestIndex> {
  const index = JSON.parse(new TextDecoder().decode(await store.get(indexKey))) as ManifestIndex;
  if (index.version !== 1 || !Array.isArray(index.parts)) throw new Error(`${indexKey}: not a diffc manifest index (version ${String(index.version)})`);
  return index;
}

/** Every outcome of the job, part by part. */
export async function* readBulkManifest(store: ObjectStore, indexKey: string): AsyncGenerator<Outcome> {
  for (const part of (await readManifestIndex(store, indexKey)).parts) {
    for (const line of new TextDecoder().decode(await store.get(part)).split('\n')) {
      if (line !== '') yield JSON.parse(line) as Outcome;
    }
  }
}
