/**
 * An S3 bucket (AWS or any S3-compatible service such as MinIO) under an optional key prefix as
 * an object store.
 *
 * Uploads carry a checksum that the service verifies (CRC32C by default, or SHA-256). Objects up
 * to multipartThreshold go up in one PUT; larger ones as a multipart upload that only becomes
 * visible on CompleteMultipartUpload and is aborted on any failure before that, so a reader never
 * sees a partial object. With CRC32C the multipart checksum is a FULL_OBJECT one, equal to the
 * single-PUT checksum of the same bytes.
 *
 * Every request is retried on transient failures (5xx, throttling, refused or reset connections,
 * timeouts) with exponential backoff, bounded by retry.maxAttempts and retry.maxElapsedMs; the SDK's
 * own retries are off so that these bounds hold. A conditional put (ifNoneMatch, ifMatch) whose
 * retry is refused checks whether the object there is its own earlier try (same size, checksum
 * and metadata) before it reports 'exists' / 'changed'.
 *
 * ETags are given without their quotes everywhere (normaliseEtag) and quoted again for If-Match.
 * HTTP 412 means what the caller asked for: 'exists' for ifNoneMatch, 'changed' for ifMatch and
 * pinned reads. Pinned reads send If-Match (and VersionId), so the check and the read are one
 * request.
 */
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectCommand,
  GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client,
  UploadPartCommand, type CompletedPart, type HeadObjectCommandOutput,
} from '@aws-sdk/client-s3';
import { checksumBase64 } from './checksum.js';
import { MAX_PARTS, type S3Config } from './config.js';
import { StorageError } from './errors.js';
import { checkKey, checkPrefix } from './keys.js';
import { checkGetOptions, checkPutOptions, checkRange, normaliseEtag, quoteEtag } from './options.js';
import { withRetry } from './retry.js';
import type { GetOptions, ListOptions, ObjectChecksum, ObjectEntry, ObjectHead, ObjectStore, PutOptions } from './types.js';

const TRANSIENT_NET = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN',
  'ECONNABORTED', 'ENOTFOUND', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'ERR_STREAM_PREMATURE_CLOSE',
]);
const TRANSIENT_NAMES = new Set([
  'TimeoutError', 'RequestTimeout', 'RequestTimeoutException', 'SlowDown', 'ServiceUnavailable', 'InternalError',
  'ThrottlingException', 'Throttling', 'RequestLimitExceeded', 'BadDigest', 'XMinioServerNotInitialized',
  'ConditionalRequestConflict',
]);
const AUTH_NAMES = new Set([
  'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'ExpiredToken', 'InvalidToken', 'CredentialsProviderError',
  'AuthorizationHeaderMalformed', 'InvalidClientTokenId',
]);

interface SdkErrorLike {
  name?: string;
  code?: string;
  message?: string;
  errors?: unknown[];
  cause?: unknown;
  $metadata?: { httpStatusCode?: number };
}

/** The errno-style code of a network failure, looking through AggregateError and causes. */
function netCode(e: unknown, depth = 0): string | undefined {
  if (!e || typeof e !== 'object' || depth > 4) return undefined;
  const x = e as SdkErrorLike;
  if (x.code && TRANSIENT_NET.has(x.code)) return x.code;
  for (const inner of x.errors ?? []) {
    const c = netCode(inner, depth + 1);
    if (c) return c;
  }
  return netCode(x.cause, depth + 1);
}

/** The HTTP status of an SDK error (or of the one a StorageError wraps). */
function statusOf(e: unknown): number | undefined {
  const x = e as SdkErrorLike | undefined;
  return x?.$metadata?.httpStatusCode ?? (e instanceof StorageError ? statusOf(e.cause) : undefined);
}

/** `onPrecondition`: what a 412 means to the caller — 'exists' (ifNoneMatch) or 'changed' (ifMatch, pinned reads). */
export function s3ToStorageError(e: unknown, what: string, onPrecondition: 'exists' | 'changed' = 'exists'): StorageError {
  if (e instanceof StorageError) return e;
  const x = (e ?? {}) as SdkErrorLike;
  const name = x.name ?? '';
  const status = x.$metadata?.httpStatusCode;
  const detail = [name && name !== 'Error' ? name : undefined, status ? `HTTP ${status}` : undefined, netCode(e), x.message]
    .filter(Boolean).join(': ');
  const msg = `${what}: ${detail || String(e)}`;
  const make = (code: StorageError['code']) => new StorageError(code, msg, { cause: e });
  if (netCode(e) || TRANSIENT_NAMES.has(name)) return make('unavailable');
  if (AUTH_NAMES.has(name) || status === 401 || status === 403) return make('auth');
  if (status === 404 || name === 'NoSuchKey' || name === 'NotFound' || name === 'NoSuchBucket' || name === 'NoSuchUpload') return make('not-found');
  if (status === 412 || name === 'PreconditionFailed') return make(onPrecondition);
  if (status === 429 || (status !== undefined && status >= 500)) return make('unavailable');
  if (status !== undefined && status >= 400) return make('invalid');
  return make('io');
}

export interface S3Location {
  bucket: string;
  /** '' or ending with '/'. */
  prefix: string;
}

export class S3Store implements ObjectStore {
  readonly url: string;
  /** The SDK client, for callers that need another S3 call (and tests that add middleware). */
  readonly client: S3Client;
  private bucketChecked = false;

  constructor(readonly location: S3Location, private readonly cfg: S3Config) {
    this.url = `s3://${location.bucket}/${location.prefix}`;
    this.client = new S3Client({
      region: cfg.region,
      ...(cfg.endpoint ? { endpoint: cfg.endpoint } : {}),
      forcePathStyle: cfg.forcePathStyle ?? cfg.endpoint !== undefined,
      ...(cfg.credentials ? { credentials: cfg.credentials } : {}),
      maxAttempts: 1, // withRetry does the retrying, within its bounds
      requestHandler: { connectionTimeout: cfg.connectTimeoutMs, requestTimeout: cfg.requestTimeoutMs },
      // We send our own checksums on uploads; verify the ones the service sends back on reads.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_SUPPORTED',
    });
  }

  private keyOf(key: string): string {
    return this.location.prefix + checkKey(key);
  }

  private retry<T>(what: string, fn: (attempt: number) => Promise<T>, onPrecondition: 'exists' | 'changed' = 'exists'): Promise<T> {
    return withRetry(this.cfg.retry, what, fn, (e) => s3ToStorageError(e, what, onPrecondition));
  }

  async get(key: string, opts?: GetOptions): Promise<Uint8Array> {
    return this.read(key, checkGetOptions(opts));
  }

  async getRange(key: string, start: number, end?: number, opts?: GetOptions): Promise<Uint8Array> {
    checkRange(start, end);
    const pin = checkGetOptions(opts);
    // An empty range has no Range header to send; the HEAD still says whether (that version of) it is there.
    if (end !== undefined && end === start) {
      await this.pinnedHead(key, pin);
      return new Uint8Array(0);
    }
    try {
      return await this.read(key, pin, `bytes=${start}-${end === undefined ? '' : end - 1}`);
    } catch (e) {
      // 416: the object is there but shorter than `start` (or empty), so the clamped range is empty.
      // Whether the pin held is asked again, as a service may judge the range before the precondition.
      if (e instanceof StorageError && statusOf(e) === 416) {
        await this.pinnedHead(key, pin);
        return new Uint8Array(0);
      }
      throw e;
    }
  }

  private async read(key: string, pin: GetOptions, Range?: string): Promise<Uint8Array> {
    const Key = this.keyOf(key);
    const what = `get ${this.url}${key}${Range ? ` (${Range})` : ''}`;
    return this.retry(what, async () => {
      const out = await this.client.send(new GetObjectCommand({
        Bucket: this.location.bucket, Key, ...pinOf(pin),
        // A range's bytes cannot be checked against the whole object's checksum.
        ...(Range ? { Range } : { ChecksumMode: 'ENABLED' }),
      }));
      if (!out.Body) throw new StorageError('io', `${what}: the response has no body`);
      return out.Body.transformToByteArray();
    }, 'changed').catch((e: StorageError) => { throw this.readError(e, key, pin); });
  }

  /** A HEAD with the read's pin: throws as the read would, for a read that needs no body. */
  private async pinnedHead(key: string, pin: GetOptions): Promise<void> {
    const Key = this.keyOf(key);
    await this.retry(`head ${this.url}${key}`, () =>
      this.client.send(new HeadObjectCommand({ Bucket: this.location.bucket, Key, ...pinOf(pin) })), 'changed')
      .catch(async (e: StorageError) => {
        if (e.code === 'not-found') await this.checkBucket(); // HEAD's 404 names neither key nor bucket
        throw this.readError(e, key, pin);
      });
  }

  private readError(e: StorageError, key: string, pin: GetOptions): StorageError {
    if (e.code === 'not-found' && !/NoSuchBucket/.test(e.message)) {
      const which = pin.versionId !== undefined ? ` (version ${pin.versionId})` : '';
      return new StorageError('not-found', `no object ${key}${which} in ${this.url}`, { cause: e });
    }
    if (e.code === 'changed') {
      return new StorageError('changed', `${key} in ${this.url} is no longer the version with ETag ${pin.ifMatch}`, { cause: e });
    }
    return e;
  }

  async head(key: string): Promise<ObjectHead | null> {
    const Key = this.keyOf(key);
    try {
      const out = await this.retry(`head ${this.url}${key}`, () =>
        this.client.send(new HeadObjectCommand({ Bucket: this.location.bucket, Key, ChecksumMode: 'ENABLED' })));
      return headOf(out);
    } catch (e) {
      if (!(e instanceof StorageError) || e.code !== 'not-found') throw e;
      // HEAD's 404 has no body, so it cannot tell a missing key from a missing bucket.
      await this.checkBucket();
      return null;
    }
  }

  private async checkBucket(): Promise<void> {
    if (this.bucketChecked) return;
    const what = `check bucket ${this.location.bucket}`;
    try {
      await this.retry(what, () => this.client.send(new HeadBucketCommand({ Bucket: this.location.bucket })));
    } catch (e) {
      if (e instanceof StorageError && e.code === 'not-found') throw new StorageError('not-found', `bucket ${this.location.bucket} does not exist`, { cause: e });
      throw e;
    }
    this.bucketChecked = true;
  }

  async put(key: string, bytes: Uint8Array, opts?: PutOptions): Promise<{ etag?: string; versionId?: string }> {
    const o = checkPutOptions(opts);
    const Key = this.keyOf(key);
    const algorithm = this.cfg.checksumAlgorithm;
    if (bytes.byteLength > this.cfg.multipartThreshold) return this.putMultipart(key, Key, bytes, o);
    const sum = checksumBase64(algorithm, bytes);
    const cond = conditionOf(o);
    let tries = 0;
    try {
      const out = await this.retry(`put ${this.url}${key}`, (attempt) => {
        tries = attempt;
        return this.client.send(new PutObjectCommand({
          Bucket: this.location.bucket, Key, Body: bytes, ContentLength: bytes.byteLength,
          ...(o.contentType ? { ContentType: o.contentType } : {}),
          ...(o.metadata ? { Metadata: { ...o.metadata } } : {}),
          ...cond.input,
          ChecksumAlgorithm: algorithm,
          ...(algorithm === 'CRC32C' ? { ChecksumCRC32C: sum } : { ChecksumSHA256: sum }),
        }));
      }, cond.onPrecondition);
      return putResult(out);
    } catch (e) {
      if (e instanceof StorageError && refusedCondition(e, o)) {
        if (tries > 1) {
          const mine = await this.isOwnEarlierTry(key, bytes.byteLength, algorithm, sum, o.metadata);
          if (mine) return mine;
        }
        throw this.conditionError(e, key, o);
      }
      throw e;
    }
  }

  /** The 'exists' / 'changed' a refused conditional put reports. */
  private conditionError(e: StorageError, key: string, o: PutOptions): StorageError {
    return o.ifMatch !== undefined
      ? new StorageError('changed', `${key} in ${this.url} is not the version with ETag ${o.ifMatch} (changed or gone)`, { cause: e })
      : new StorageError('exists', `${key} already exists in ${this.url}`, { cause: e });
  }

  /** After a retried conditional write is refused: is the object there the one we sent? */
  private async isOwnEarlierTry(
    key: string, size: number, algorithm: ObjectChecksum['algorithm'], sum: string, metadata: PutOptions['metadata'],
  ): Promise<{ etag?: string; versionId?: string } | null> {
    const h = await this.head(key);
    if (!h || h.size !== size || h.checksum?.algorithm !== algorithm || h.checksum.value !== sum) return null;
    if (!sameMetadata(h.metadata ?? {}, metadata ?? {})) return null;
    return { ...(h.etag ? { etag: h.etag } : {}), ...(h.versionId ? { versionId: h.versionId } : {}) };
  }

  private async putMultipart(key: string, Key: string, bytes: Uint8Array, opts: PutOptions): Promise<{ etag?: string; versionId?: string }> {
    const { bucket } = this.location;
    const algorithm = this.cfg.checksumAlgorithm;
    const where = `${this.url}${key}`;
    // Checked before the parts go up, to spare uploading them for nothing; the completion checks again.
    if (opts.ifNoneMatch && (await this.head(key))) throw new StorageError('exists', `${key} already exists in ${this.url}`);
    if (opts.ifMatch !== undefined) {
      const h = await this.head(key);
      if (h?.etag !== opts.ifMatch) throw this.conditionError(new StorageError('changed', `ETag ${h?.etag ?? '(no object)'}`), key, opts);
    }
    const cond = conditionOf(opts);
    const size = bytes.byteLength;
    const partSize = Math.max(this.cfg.partSize, Math.ceil(size / MAX_PARTS));
    const nParts = Math.ceil(size / partSize);
    const fullObject = algorithm === 'CRC32C';
    const created = await this.retry(`start multipart upload of ${where}`, () => this.client.send(new CreateMultipartUploadCommand({
      Bucket: bucket, Key, ChecksumAlgorithm: algorithm, ...(fullObject ? { ChecksumType: 'FULL_OBJECT' } : {}),
      ...(opts.contentType ? { ContentType: opts.contentType } : {}),
      ...(opts.metadata ? { Metadata: { ...opts.metadata } } : {}),
    })));
    const UploadId = created.UploadId;
    if (!UploadId) throw new StorageError('io', `start multipart upload of ${where}: the response has no upload id`);
    let completed = false;
    try {
      const parts: CompletedPart[] = new Array(nParts);
      let next = 0;
      const worker = async () => {
        while (next < nParts) {
          const i = next++;
          const body = bytes.subarray(i * partSize, Math.min(size, (i + 1) * partSize));
          const sum = checksumBase64(algorithm, body);
          const PartNumber = i + 1;
          const out = await this.retry(`upload part ${PartNumber}/${nParts} of ${where}`, () => this.client.send(new UploadPartCommand({
            Bucket: bucket, Key, UploadId, PartNumber, Body: body, ContentLength: body.byteLength,
            ChecksumAlgorithm: algorithm, ...(algorithm === 'CRC32C' ? { ChecksumCRC32C: sum } : { ChecksumSHA256: sum }),
          })));
          parts[i] = { PartNumber, ETag: out.ETag, ...(algorithm === 'CRC32C' ? { ChecksumCRC32C: sum } : { ChecksumSHA256: sum }) };
        }
      };
      // One failed part stops the others from starting new parts; the abort below cleans up.
      const results = await Promise.allSettled(Array.from({ length: Math.min(this.cfg.partConcurrency, nParts) }, async () => {
        try {
          await worker();
        } catch (e) {
          next = nParts;
          throw e;
        }
      }));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;

      const whole = fullObject ? checksumBase64('CRC32C', bytes) : undefined;
      let tries = 0;
      try {
        const out = await this.retry(`complete multipart upload of ${where}`, (attempt) => {
          tries = attempt;
          return this.client.send(new CompleteMultipartUploadCommand({
            Bucket: bucket, Key, UploadId, MultipartUpload: { Parts: parts },
            ...cond.input,
            ...(whole ? { ChecksumCRC32C: whole, ChecksumType: 'FULL_OBJECT' } : {}),
          }));
        }, cond.onPrecondition);
        completed = true;
        return putResult(out);
      } catch (e) {
        // A completion whose answer was lost looks like NoSuchUpload (or, conditional, 412) on retry.
        if (tries > 1 && e instanceof StorageError && (e.code === 'not-found' || refusedCondition(e, opts)) && whole) {
          const mine = await this.isOwnEarlierTry(key, size, 'CRC32C', whole, opts.metadata);
          if (mine) {
            completed = true;
            return mine;
          }
        }
        if (e instanceof StorageError && refusedCondition(e, opts)) throw this.conditionError(e, key, opts);
        throw e;
      }
    } catch (e) {
      throw s3ToStorageError(e, `multipart upload of ${where}`);
    } finally {
      if (!completed) await this.abort(Key, UploadId);
    }
  }

  /** Best effort: a failed abort leaves invisible parts (a lifecycle rule with
   *  AbortIncompleteMultipartUpload removes them), never a visible object. */
  private async abort(Key: string, UploadId: string): Promise<void> {
    try {
      await this.retry(`abort multipart upload of ${Key}`, () =>
        this.client.send(new AbortMultipartUploadCommand({ Bucket: this.location.bucket, Key, UploadId })));
    } catch {
      // The upload's own error is the one to report.
    }
  }

  async *list(prefix: string, opts: ListOptions = {}): AsyncIterable<ObjectEntry> {
    checkPrefix(prefix);
    let remaining = opts.limit ?? Infinity;
    if (remaining <= 0) return;
    const base = this.location.prefix;
    let token: string | undefined;
    do {
      const MaxKeys = Math.min(1000, remaining);
      const out = await this.retry(`list ${this.url}${prefix}`, () => this.client.send(new ListObjectsV2Command({
        Bucket: this.location.bucket, Prefix: base + prefix, MaxKeys,
        ...(token ? { ContinuationToken: token } : opts.startAfter !== undefined ? { StartAfter: base + opts.startAfter } : {}),
      })));
      for (const o of out.Contents ?? []) {
        if (!o.Key) continue;
        yield { key: o.Key.slice(base.length), size: o.Size ?? 0, ...(o.ETag ? { etag: normaliseEtag(o.ETag) } : {}) };
        if (--remaining <= 0) return;
      }
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
  }

  async delete(key: string): Promise<void> {
    const Key = this.keyOf(key);
    try {
      await this.retry(`delete ${this.url}${key}`, () => this.client.send(new DeleteObjectCommand({ Bucket: this.location.bucket, Key })));
    } catch (e) {
      if (e instanceof StorageError && e.code === 'not-found' && !/NoSuchBucket/.test(e.message)) return;
      throw e;
    }
  }

  close(): void {
    this.client.destroy();
  }
}

/** If-Match / VersionId of a pinned read. */
function pinOf(pin: GetOptions): { IfMatch?: string; VersionId?: string } {
  return {
    ...(pin.ifMatch !== undefined ? { IfMatch: quoteEtag(pin.ifMatch) } : {}),
    ...(pin.versionId !== undefined ? { VersionId: pin.versionId } : {}),
  };
}

/** The request's condition headers, and what a 412 to them means. */
function conditionOf(o: PutOptions): { input: { IfMatch?: string; IfNoneMatch?: string }; onPrecondition: 'exists' | 'changed' } {
  if (o.ifMatch !== undefined) return { input: { IfMatch: quoteEtag(o.ifMatch) }, onPrecondition: 'changed' };
  return { input: o.ifNoneMatch ? { IfNoneMatch: '*' } : {}, onPrecondition: 'exists' };
}

/**
 * Did the service refuse the put's condition? 412 (mapped to the caller's code), and for ifMatch
 * also the 404 NoSuchKey that S3 answers when there is no object to match at all.
 */
function refusedCondition(e: StorageError, o: PutOptions): boolean {
  if (o.ifMatch !== undefined) return e.code === 'changed' || (e.code === 'not-found' && /NoSuchKey|HTTP 404/.test(e.message) && !/NoSuchBucket|NoSuchUpload/.test(e.message));
  return o.ifNoneMatch === true && e.code === 'exists';
}

function putResult(out: { ETag?: string; VersionId?: string }): { etag?: string; versionId?: string } {
  return { ...(out.ETag ? { etag: normaliseEtag(out.ETag) } : {}), ...(out.VersionId ? { versionId: out.VersionId } : {}) };
}

function sameMetadata(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

function headOf(out: HeadObjectCommandOutput): ObjectHead {
  const head: ObjectHead = { size: out.ContentLength ?? 0 };
  if (out.ETag) head.etag = normaliseEtag(out.ETag);
  if (out.VersionId && out.VersionId !== 'null') head.versionId = out.VersionId;
  head.metadata = Object.fromEntries(Object.entries(out.Metadata ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const [algorithm, value] = out.ChecksumCRC32C ? ['CRC32C', out.ChecksumCRC32C] as const
    : out.ChecksumSHA256 ? ['SHA256', out.ChecksumSHA256] as const : [undefined, undefined];
  if (algorithm && value) {
    // A composite checksum reads "<base64>-<parts>" on some services; S3 also says so in ChecksumType.
    const composite = out.ChecksumType === 'COMPOSITE' || /-\d+$/.test(value);
    head.checksum = { algorithm, value: value.replace(/-\d+$/, ''), type: composite ? 'COMPOSITE' : 'FULL_OBJECT' };
  }
  return head;
}
