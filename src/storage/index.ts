/**
 * Storage: one ObjectStore interface over local directories (file:///dir) and S3-compatible
 * buckets (s3://bucket/prefix). See types.ts for the contract, errors.ts for StorageError.
 */
import { fileURLToPath } from 'node:url';
import { parseStoreConfig, type StoreConfigInput } from './config.js';
import { StorageError } from './errors.js';
import { checkPrefix } from './keys.js';
import { LocalStore } from './local.js';
import { S3Store, type S3Location } from './s3.js';
import type { ObjectStore } from './types.js';

export { StorageError, isStorageError, type StorageErrorCode } from './errors.js';
export type { ObjectStore, ObjectHead, ObjectEntry, ObjectChecksum, PutOptions, GetOptions, ListOptions } from './types.js';
export { StoreConfig, S3Config, LocalConfig, RetryConfig, parseStoreConfig, s3ConfigFromEnv, type StoreConfigInput } from './config.js';
export { LocalStore } from './local.js';
export { S3Store } from './s3.js';
export { crc32c, crc32cBase64, sha256Base64, checksumBase64 } from './checksum.js';
export { compareKeys } from './keys.js';
export { normaliseEtag, metadataBytes, MAX_METADATA_BYTES } from './options.js';

/** s3://bucket[/prefix]: bucket per S3's naming rules, prefix made to end with '/'. */
export function parseS3Url(url: string): S3Location {
  const m = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(url);
  if (!m) throw new StorageError('invalid', `not an s3:// URL: ${url}`);
  const bucket = m[1];
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) || bucket.includes('..')) {
    throw new StorageError('invalid', `bad bucket name ${JSON.stringify(bucket)} in ${url} (3-63 of a-z 0-9 . -)`);
  }
  let prefix = decodeURIComponent(m[2] ?? '');
  if (prefix !== '' && !prefix.endsWith('/')) prefix += '/';
  if (prefix !== '') checkPrefix(prefix);
  return { bucket, prefix };
}

/**
 * Opens 'file:///abs/dir' or 's3://bucket/prefix'. Nothing is touched until the first call: a
 * local root is created by the first put, and S3 credentials are first used by the first request.
 */
export function openStore(url: string, config?: StoreConfigInput): ObjectStore {
  const cfg = parseStoreConfig(config);
  if (url.startsWith('file:')) {
    let root: string;
    try {
      root = fileURLToPath(url);
    } catch (e) {
      throw new StorageError('invalid', `bad file URL ${url}: ${(e as Error).message}`, { cause: e });
    }
    return new LocalStore(root, cfg.local);
  }
  if (url.startsWith('s3:')) return new S3Store(parseS3Url(url), cfg.s3);
  throw new StorageError('invalid', `unsupported store URL ${JSON.stringify(url)} (expected file:///dir or s3://bucket/prefix)`);
}
