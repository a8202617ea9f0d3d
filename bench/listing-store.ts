/**
 * A read-only ObjectStore over a synthetic archive listing, for bench:bulk-plan: N sources
 * `photos/<9 digits>.jpg` and, for every `doneEvery`-th source, its output
 * `dfc/<9 digits>.jpg.dfc` whose HEAD carries the metadata diffc's final put writes. Keys are made
 * on the fly in the order S3 lists them, so a listing of 10^6 objects costs no memory and the
 * benchmark measures the planner itself. Counts the requests a real bucket would have served.
 */
import { OUTPUT_METADATA } from '../activities/existing-output.js';
import { StorageError, type ObjectEntry, type ObjectHead, type ObjectStore } from '../src/storage/index.js';

export interface ListingSpec {
  readonly objects: number;
  /** Sources with an existing, matching output: every doneEvery-th (0: none). */
  readonly doneEvery: number;
  readonly modelHash: string;
  readonly seed: number;
}

const SRC = 'photos/', OUT = 'dfc/';
const DIGITS = 9;
const name = (i: number) => String(i).padStart(DIGITS, '0');
const etagOf = (i: number) => `e${name(i)}`;

export class ListingStore implements ObjectStore {
  readonly url = 's3://synthetic-listing/';
  readonly requests = { list: 0, head: 0 };
  constructor(private readonly spec: ListingSpec) {}

  private done(i: number): boolean {
    return this.spec.doneEvery > 0 && i % this.spec.doneEvery === 0;
  }

  /** Index of the first entry of `prefix`'s listing after `startAfter` (keys of index n sort by n). */
  private first(prefix: string, startAfter: string | undefined, keyOf: (i: number) => string): number {
    if (startAfter === undefined || !startAfter.startsWith(prefix)) return 0;
    const digits = startAfter.slice(prefix.length, prefix.length + DIGITS);
    if (!/^\d+$/.test(digits)) return 0;
    let n = Number(digits.padEnd(DIGITS, '0'));
    while (n < this.spec.objects && keyOf(n) <= startAfter) n++;
    return n;
  }

  async *list(prefix: string, opts: { startAfter?: string; limit?: number } = {}): AsyncIterable<ObjectEntry> {
    const kind = prefix.startsWith(SRC) ? 'src' : prefix.startsWith(OUT) ? 'out' : null;
    if (kind === null) return;
    const keyOf = kind === 'src' ? (i: number) => `${SRC}${name(i)}.jpg` : (i: number) => `${OUT}${name(i)}.jpg.dfc`;
    let i = this.first(kind === 'src' ? SRC : OUT, opts.startAfter, keyOf);
    let given = 0;
    for (; i < this.spec.objects; i++) {
      // One request per 1000 keys, as ListObjectsV2 pages.
      if (given % 1000 === 0) this.requests.list++;
      if (kind === 'out' && !this.done(i)) continue;
      given++;
      yield kind === 'src' ? { key: keyOf(i), size: 3_000_000, etag: etagOf(i) } : { key: keyOf(i), size: 20_000 };
      if (opts.limit !== undefined && given >= opts.limit) return;
    }
  }

  async head(key: string): Promise<ObjectHead | null> {
    this.requests.head++;
    const m = /^dfc\/(\d+)\.jpg\.dfc$/.exec(key);
    if (!m || !this.done(Number(m[1]))) return null;
    const M = OUTPUT_METADATA;
    return {
      size: 20_000,
      metadata: {
        [M.modelHash]: this.spec.modelHash, [M.seed]: String(this.spec.seed), [M.width]: '4000', [M.height]: '3000',
        [M.steps]: '40', [M.sourceEtag]: etagOf(Number(m[1])),
      },
    };
  }

  async get(key: string): Promise<Uint8Array> {
    throw new StorageError('not-found', `synthetic listing: no body for ${key}`);
  }

  async getRange(key: string): Promise<Uint8Array> {
    throw new StorageError('not-found', `synthetic listing: no body for ${key}`);
  }

  async put(): Promise<{ etag?: string }> {
    throw new StorageError('invalid', 'synthetic listing is read-only');
  }

  async delete(): Promise<void> {
    throw new StorageError('invalid', 'synthetic listing is read-only');
  }

  close(): void {}
}
