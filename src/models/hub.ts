/**
 * Downloads from the Hugging Face hub (or anything serving its URL layout):
 *   <endpoint>/<repo>/resolve/<revision>/<path>
 * A HEAD without following redirects gives the file's size and, for LFS files, its sha256
 * (X-Linked-Etag / X-Linked-Size, else ETag / Content-Length) and the commit (X-Repo-Commit), as
 * huggingface_hub reads them; the GET then goes to the redirect target (the CDN, without the
 * token) or the same URL. Transfers land in <file>.part and resume with an HTTP Range request;
 * the sha256 is checked before the atomic rename. Unreachable endpoints fail fast (connect
 * timeout) with ModelError 'offline'; HTTP errors and truncated transfers are 'download' errors.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ModelError } from './errors.js';

export const DEFAULT_HUB = 'https://huggingface.co';

/** The hub endpoint: $DIFFC_HF_ENDPOINT, else $HF_ENDPOINT, else huggingface.co. */
export function hubBaseUrl(): string {
  return (process.env.DIFFC_HF_ENDPOINT || process.env.HF_ENDPOINT || DEFAULT_HUB).replace(/\/+$/, '');
}

export function hubFileUrl(repo: string, revision: string, path: string, base = hubBaseUrl()): string {
  const enc = (s: string) => s.split('/').map(encodeURIComponent).join('/');
  return `${base}/${enc(repo)}/resolve/${encodeURIComponent(revision)}/${enc(path)}`;
}

export interface DownloadProgress {
  readonly path: string;
  readonly done: number;
  readonly total: number | undefined;
}

export interface HubOptions {
  readonly baseUrl?: string;
  /** Bearer token for gated or private repos (default $HF_TOKEN). Never sent to redirect targets. */
  readonly token?: string;
  /** Time allowed for the connection and response headers (default 10 s). */
  readonly connectTimeoutMs?: number;
  /** Abort a transfer that receives nothing for this long (default 60 s); the .part file stays for a resume. */
  readonly stallTimeoutMs?: number;
  readonly onProgress?: (p: DownloadProgress) => void;
}

export interface RemoteFile {
  /** Where to GET the bytes (the redirect target when the hub redirects). */
  readonly url: string;
  /** Whether `url` is the hub itself (gets the token) rather than a redirect target. */
  readonly sameOrigin: boolean;
  readonly size?: number;
  /** sha256 the hub states for LFS files. */
  readonly sha256?: string;
  readonly commit?: string;
}

const OFFLINE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ENETUNREACH', 'EHOSTUNREACH', 'ECONNRESET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET']);

function networkError(e: unknown, url: string, timedOut: boolean): ModelError {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code ?? (e as { code?: string }).code;
  if (timedOut || (code && OFFLINE_CODES.has(code)) || (e as Error).name === 'TypeError') {
    return new ModelError('offline', `cannot reach ${new URL(url).origin} (${timedOut ? 'connect timeout' : code ?? cause?.message ?? (e as Error).message}); check the network or $DIFFC_HF_ENDPOINT`, { cause: e });
  }
  return new ModelError('download', `${url}: ${(e as Error).message}`, { cause: e });
}

/** fetch with a deadline on the response headers only (the body may take as long as it needs). */
async function fetchHeaders(url: string, init: RequestInit, timeoutMs: number): Promise<Response> {
  const ac = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => { timedOut = true; ac.abort(); }, timeoutMs);
  try {
    return await fetch(url, { ...init, signal: ac.signal });
  } catch (e) {
    throw networkError(e, url, timedOut);
  } finally {
    clearTimeout(timer);
  }
}

function authHeaders(opts: HubOptions): Record<string, string> {
  const token = opts.token ?? process.env.HF_TOKEN;
  return token ? { authorization: `Bearer ${token}` } : {};
}

function httpError(res: Response, url: string): ModelError {
  const what = res.status === 404 ? 'not found' : res.status === 401 || res.status === 403 ? 'not authorized (gated repo? set $HF_TOKEN)' : `HTTP ${res.status}`;
  return new ModelError('download', `${url}: ${what}`);
}

const stripQuotes = (s: string | null) => s?.replace(/^W\//, '').replace(/"/g, '') || undefined;

/** HEAD a hub file: size, LFS sha256, commit and where the bytes are. Follows relative redirects. */
export async function headFile(url: string, opts: HubOptions = {}): Promise<RemoteFile> {
  let current = url;
  for (let hop = 0; hop < 5; hop++) {
    const res = await fetchHeaders(current, { method: 'HEAD', redirect: 'manual', headers: { ...authHeaders(opts), 'accept-encoding': 'identity' } }, opts.connectTimeoutMs ?? 10_000);
    const loc = res.headers.get('location');
    const etag = stripQuotes(res.headers.get('x-linked-etag')) ?? stripQuotes(res.headers.get('etag'));
    const sizeHeader = res.headers.get('x-linked-size') ?? (res.status < 300 ? res.headers.get('content-length') : null);
    const info = {
      size: sizeHeader !== null ? Number(sizeHeader) : undefined,
      sha256: etag && /^[0-9a-f]{64}$/.test(etag) ? etag : undefined,
      commit: res.headers.get('x-repo-commit') ?? undefined,
    };
    if (res.status >= 300 && res.status < 400 && loc) {
      const target = new URL(loc, current);
      if (target.origin === new URL(current).origin && !res.headers.get('x-linked-etag')) {
        current = target.href; // renamed repo or branch: ask again
        continue;
      }
      return { url: target.href, sameOrigin: target.origin === new URL(url).origin, ...info };
    }
    if (!res.ok) throw httpError(res, current);
    return { url: current, sameOrigin: true, ...info };
  }
  throw new ModelError('download', `${url}: too many redirects`);
}

async function hashExisting(path: string, h: Hash): Promise<number> {
  let n = 0;
  for await (const c of createReadStream(path)) {
    h.update(c as Buffer);
    n += (c as Buffer).length;
  }
  return n;
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/**
 * GETs `remote` into `dest`, resuming `<dest>.part`. Verifies the size and the sha256 (the
 * caller's `expect`, else the hub's LFS sha256) before renaming into place. Returns the sha256
 * and size of what was written.
 */
export async function downloadTo(remote: RemoteFile, dest: string, label: string, expect: { sha256?: string; bytes?: number } = {}, opts: HubOptions = {}): Promise<{ sha256: string; bytes: number }> {
  const part = `${dest}.part`;
  await mkdir(dirname(dest), { recursive: true });
  const total = expect.bytes ?? remote.size;
  const wantSha = expect.sha256 ?? remote.sha256;
  for (let attempt = 0; attempt < 2; attempt++) {
    const h = createHash('sha256');
    let have = await sizeOf(part);
    if (total !== undefined && have > total) {
      await rm(part, { force: true });
      have = 0;
    }
    const headers: Record<string, string> = { 'accept-encoding': 'identity', ...(remote.sameOrigin ? authHeaders(opts) : {}) };
    if (have > 0) headers.range = `bytes=${have}-`;
    const res = await fetchHeaders(remote.url, { headers }, opts.connectTimeoutMs ?? 10_000);
    if (res.status === 416 && have > 0) {
      // Nothing left to send: the part is complete (checked below) or stale (start over).
      await res.body?.cancel();
      if (total === undefined || have !== total) {
        await rm(part, { force: true });
        continue;
      }
      await hashExisting(part, h);
    } else {
      if (res.status !== 200 && res.status !== 206) throw httpError(res, remote.url);
      const resumed = res.status === 206 && have > 0 && (res.headers.get('content-range') ?? '').startsWith(`bytes ${have}-`);
      if (resumed) await hashExisting(part, h);
      else have = 0;
      await streamInto(res, part, resumed, h, have, total, label, opts);
    }
    const got = await sizeOf(part);
    if (total !== undefined && got !== total) throw new ModelError('download', `${label}: transfer ended at ${got} of ${total} bytes (run the pull again to resume)`);
    const sha = h.digest('hex');
    if (wantSha && sha !== wantSha) {
      await rm(part, { force: true });
      throw new ModelError('checksum', `${label}: sha256 ${sha} does not match the expected ${wantSha} (the partial download was removed)`);
    }
    await rename(part, dest);
    return { sha256: sha, bytes: got };
  }
  throw new ModelError('download', `${label}: the server does not honour range requests consistently`);
}

async function streamInto(res: Response, part: string, append: boolean, h: Hash, start: number, total: number | undefined, label: string, opts: HubOptions): Promise<void> {
  if (!res.body) throw new ModelError('download', `${label}: empty response`);
  const out = createWriteStream(part, { flags: append ? 'a' : 'w' });
  const reader = res.body.getReader();
  const stallMs = opts.stallTimeoutMs ?? 60_000;
  let done = start;
  const write = (chunk: Uint8Array) => new Promise<void>((resolve, reject) => out.write(chunk, (e) => (e ? reject(e) : resolve())));
  try {
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const stalled = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ModelError('download', `${label}: no data for ${stallMs / 1000}s (run the pull again to resume)`)), stallMs);
      });
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await Promise.race([reader.read(), stalled]);
      } catch (e) {
        if (e instanceof ModelError) throw e;
        throw new ModelError('download', `${label}: transfer interrupted at ${done} bytes (run the pull again to resume): ${(e as Error).message}`, { cause: e });
      } finally {
        clearTimeout(timer);
      }
      if (r.done) break;
      h.update(r.value);
      await write(r.value);
      done += r.value.length;
      opts.onProgress?.({ path: label, done, total });
    }
  } finally {
    reader.releaseLock?.();
    await new Promise<void>((resolve) => out.end(resolve));
  }
}

/** HEAD + GET of one repo file into `dest`. */
export async function downloadHubFile(repo: string, revision: string, path: string, dest: string, expect: { sha256?: string; bytes?: number } = {}, opts: HubOptions = {}): Promise<{ sha256: string; bytes: number; commit?: string }> {
  const url = hubFileUrl(repo, revision, path, opts.baseUrl);
  const remote = await headFile(url, opts);
  if (expect.bytes !== undefined && remote.size !== undefined && remote.size !== expect.bytes) {
    throw new ModelError('checksum', `${repo}/${path}: the hub has ${remote.size} bytes, the manifest says ${expect.bytes}`);
  }
  const r = await downloadTo(remote, dest, path, expect, opts);
  return { ...r, commit: remote.commit };
}
