/** Small helpers the activities share for store access and (de)serialising work objects. */
import { openStore, s3ConfigFromEnv, type ObjectStore } from '../src/storage/index.js';

// One store per URL and S3 settings for the life of the worker: a client per activity would pay
// for a new client and new connections on every step range.
const stores = new Map<string, ObjectStore>();
const MAX_STORES = 64;

/** Runs f with the store for `url` under the worker's S3 settings (S3_* environment, read per call). */
export async function withStore<T>(url: string, f: (s: ObjectStore) => Promise<T>): Promise<T> {
  const config = { s3: s3ConfigFromEnv() };
  const key = `${url}\0${JSON.stringify(config)}`;
  let store = stores.get(key);
  if (!store) {
    if (stores.size >= MAX_STORES) {
      // Jobs name few stores; a worker that sees many forgets the oldest without closing it, as
      // an activity may still be using it (its idle sockets time out on their own).
      stores.delete(stores.keys().next().value as string);
    }
    store = openStore(url, config);
    stores.set(key, store);
  }
  return f(store);
}

export const f32ToBytes = (a: Float32Array): Uint8Array => new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
export const bytesToF32 = (b: Uint8Array): Float32Array => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
export const json = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));
export const parse = <T>(b: Uint8Array): T => JSON.parse(new TextDecoder().decode(b)) as T;
