/** Small helpers the activities share for store access and (de)serialising work objects. */
import { openStore, s3ConfigFromEnv, type ObjectStore } from '../src/storage/index.js';

/** Opens `url` with the worker's S3 settings (S3_* environment, read per call), runs f, closes. */
export async function withStore<T>(url: string, f: (s: ObjectStore) => Promise<T>): Promise<T> {
  const store = openStore(url, { s3: s3ConfigFromEnv() });
  try {
    return await f(store);
  } finally {
    store.close();
  }
}

export const f32ToBytes = (a: Float32Array): Uint8Array => new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
export const bytesToF32 = (b: Uint8Array): Float32Array => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
export const json = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));
export const parse = <T>(b: Uint8Array): T => JSON.parse(new TextDecoder().decode(b)) as T;
