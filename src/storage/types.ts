/**
 * One interface over local directories and S3-compatible buckets. Keys are '/'-separated
 * relative names (see keys.ts); listings come in the byte order of the keys' UTF-8, as S3 gives.
 */

export interface ObjectChecksum {
  algorithm: 'CRC32C' | 'SHA256';
  /** Base64 of the big-endian digest, as S3 reports it. */
  value: string;
  /** FULL_OBJECT: a digest of the whole object, comparable with one computed locally.
   *  COMPOSITE: a digest of the parts' digests (multipart SHA-256); only equal to another
   *  upload's with the same part boundaries. */
  type: 'FULL_OBJECT' | 'COMPOSITE';
}

export interface ObjectHead {
  size: number;
  /** Without surrounding quotes, the same text in list(), head() and put()'s answer. */
  etag?: string;
  /** S3 versioned buckets only. */
  versionId?: string;
  checksum?: ObjectChecksum;
  /** User metadata given to put() (S3: x-amz-meta-*); keys lower-case. Absent on stores that keep none. */
  metadata?: Readonly<Record<string, string>>;
}

export interface ObjectEntry {
  key: string;
  size: number;
  etag?: string;
}

export interface PutOptions {
  /** Refuse with StorageError 'exists' when the key already holds an object. */
  ifNoneMatch?: boolean;
  /** Replace only the object with this ETag; anything else there (or nothing) is StorageError 'changed'. */
  ifMatch?: string;
  contentType?: string;
  /** User metadata (keys [a-z0-9-], ASCII values, 2 KB in all as MinIO counts it: MAX_METADATA_BYTES), returned by head(). */
  metadata?: Readonly<Record<string, string>>;
}

/** A read pinned to one version of the object: a different current object is StorageError 'changed'. */
export interface GetOptions {
  ifMatch?: string;
  /** S3 versioned buckets: read exactly this version (a missing version is 'not-found'). */
  versionId?: string;
}

export interface ListOptions {
  /** Only keys strictly after this one (a key relative to the store, like the ones listed). */
  startAfter?: string;
  /** At most this many entries in all. */
  limit?: number;
}

export interface ObjectStore {
  /** The URL the store was opened with, normalised (file:///abs/dir/ or s3://bucket/prefix/). */
  readonly url: string;
  /** Throws StorageError 'not-found' for a missing key. */
  get(key: string, opts?: GetOptions): Promise<Uint8Array>;
  /** Bytes [start, end) of the object, clamped to its size (end omitted: to the end). */
  getRange(key: string, start: number, end?: number, opts?: GetOptions): Promise<Uint8Array>;
  /** null for a missing key. */
  head(key: string): Promise<ObjectHead | null>;
  /** Whole or not at all: no reader ever sees a partial object, and a failure leaves nothing.
   *  Answers the new object's ETag (and, on versioned buckets, its version id). */
  put(key: string, bytes: Uint8Array, opts?: PutOptions): Promise<{ etag?: string; versionId?: string }>;
  /** Keys starting with `prefix` (a plain string prefix, not only a directory), in key order. */
  list(prefix: string, opts?: ListOptions): AsyncIterable<ObjectEntry>;
  /** Removes an object; a missing key is not an error. Only for outputs and checkpoints, never
   *  for sources. */
  delete(key: string): Promise<void>;
  /** Releases sockets and the like; the store must not be used afterwards. */
  close(): void;
}
