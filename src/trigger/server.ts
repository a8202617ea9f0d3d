/**
 * The HTTP receiver for bucket event notifications: transport only. It authenticates, parses and
 * filters each delivery, refuses buckets not on its allow-list, and hands each accepted event and
 * the source version it names to `start` (signal-with-start of compressImage, keyed by output). The
 * status codes are chosen for the senders' retry behaviour: MinIO's webhook target and SNS
 * redeliver on any non-2xx, so
 *   2xx  only once every accepted event was handed to Temporal;
 *   503  when `start` failed: redelivery is safe because each output has one workflow id and a
 *        run given a version it already has ignores it;
 *   4xx  for what a retry cannot fix (bad credentials, bad body, a bucket not served here),
 *        before anything is started.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { SourceVersion } from '../orchestration/types.js';
import { assertAuthConfigured, verifyRequest, type AuthConfig } from './auth.js';
import { isTriggerError, TriggerError } from './errors.js';
import { parseObjectEvents, type ObjectCreatedEvent } from './events.js';
import type { EventFilter } from './filter.js';
import { sourceVersionOf } from './version.js';

/** Which run the event went to. signal-with-start does not say whether it started that run. */
export interface HandedOver {
  readonly workflowId: string;
  readonly runId: string;
  readonly output: string;
}

export type StartWorkflow = (ev: ObjectCreatedEvent, version: SourceVersion) => Promise<HandedOver>;

export interface TriggerServerOptions {
  readonly auth: AuthConfig;
  /** The only buckets whose events are accepted; must not be empty. */
  readonly buckets: readonly string[];
  readonly filter: EventFilter;
  readonly start: StartWorkflow;
  /** Larger bodies are refused with 413 without being read further. Default 1 MiB. */
  readonly maxBodyBytes?: number;
  /** One structured line per notable request outcome; never given secrets or bodies. */
  readonly log?: (line: object) => void;
}

/**
 * An event handed to compressImage by signal-with-start: it started a run for the output when
 * none was running (a new one also after a failed or finished run), else it signalled the running
 * one, which ignores a version it already has and lets a newer one supersede its own.
 */
export interface SignalledRef extends HandedOver {
  readonly bucket: string;
  readonly key: string;
}

/** The 200 answer to POST /events. */
export interface TriggerResult {
  readonly signalled: SignalledRef[];
  readonly filtered: { readonly key: string; readonly reason: string }[];
  readonly ignored: number;
}

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** A server for GET /healthz and POST /events, not yet listening. Throws TriggerError 'config' without a secret or buckets. */
export function createTriggerServer(opts: TriggerServerOptions): Server {
  assertAuthConfigured(opts.auth);
  if (opts.buckets.length === 0) throw new TriggerError('config', 'the trigger receiver needs the buckets it serves (DIFFC_TRIGGER_BUCKETS)');
  const allowed = new Set(opts.buckets);
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const log = opts.log ?? (() => undefined);
  const server = createServer((req, res) => {
    route(req, res).catch((e: unknown) => {
      log({ msg: 'trigger.internal-error', error: String(e) });
      if (!res.headersSent) send(res, 500, { error: 'internal', message: 'internal error' });
      else res.destroy();
    });
  });
  // A sender that trickles its body must not hold a connection open indefinitely.
  server.requestTimeout = 30_000;
  return server;

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://receiver').pathname;
    if (path === '/healthz') {
      if (req.method === 'GET' || req.method === 'HEAD') return sendText(res, 200, 'ok');
      return send(res, 405, { error: 'method', message: 'use GET' }, { Allow: 'GET, HEAD' });
    }
    if (path !== '/events') return send(res, 404, { error: 'not-found', message: 'POST bucket events to /events' });
    if (req.method !== 'POST') return send(res, 405, { error: 'method', message: 'use POST' }, { Allow: 'POST' });
    return events(req, res);
  }

  async function events(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req, maxBody);
    if (body === null) {
      log({ msg: 'trigger.too-large', limit: maxBody });
      // Closing the connection is what stops the sender's upload; we have stopped reading it.
      return send(res, 413, { error: 'too-large', message: `body exceeds ${maxBody} bytes` }, { Connection: 'close' });
    }
    try {
      verifyRequest(req.headers, body, opts.auth);
    } catch (e) {
      if (!isTriggerError(e)) throw e;
      log({ msg: 'trigger.unauthorized', remote: req.socket.remoteAddress, reason: e.message });
      return send(res, 401, { error: e.code, message: e.message }, { 'WWW-Authenticate': 'Bearer' });
    }
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8').replace(/^\uFEFF/, ''));
    } catch {
      return send(res, 400, { error: 'bad-json', message: 'body is not valid JSON' });
    }

    // Everything that can reject the delivery as a whole happens before the first start, so a
    // 4xx never leaves it half-started.
    const todo: { ev: ObjectCreatedEvent; version: SourceVersion }[] = [];
    const filtered: TriggerResult['filtered'] = [];
    let ignored: number;
    try {
      const parsed = parseObjectEvents(json);
      ignored = parsed.ignored;
      const refused = [...new Set(parsed.events.map((ev) => ev.bucket).filter((b) => !allowed.has(b)))];
      if (refused.length > 0) {
        throw new TriggerError('bucket-not-allowed',
          `events for bucket${refused.length > 1 ? 's' : ''} ${refused.join(', ')} are not accepted by this receiver; nothing in this delivery was started`);
      }
      for (const ev of parsed.events) {
        const f = opts.filter(ev);
        if (!f.accept) filtered.push({ key: ev.key, reason: f.reason });
        else todo.push({ ev, version: sourceVersionOf(ev) });
      }
    } catch (e) {
      if (!isTriggerError(e)) throw e;
      if (e.code === 'bucket-not-allowed') {
        // The allow-list goes to the log only: the sender learns that it is refused, not what is served.
        log({ msg: 'trigger.bucket-refused', remote: req.socket.remoteAddress, reason: e.message, allowed: [...allowed] });
        return send(res, 403, { error: e.code, message: e.message });
      }
      log({ msg: 'trigger.rejected', code: e.code, reason: e.message });
      return send(res, 400, { error: e.code, message: e.message });
    }

    const result: TriggerResult = { signalled: [], filtered, ignored };
    for (const { ev, version } of todo) {
      let run: HandedOver;
      try {
        run = await opts.start(ev, version);
      } catch (e) {
        log({ msg: 'trigger.start-failed', bucket: ev.bucket, key: ev.key, error: String(e) });
        return send(res, 503, {
          error: 'unavailable',
          message: `could not hand ${ev.bucket}/${ev.key} to Temporal; retry the delivery`,
          signalled: result.signalled,
        }, { 'Retry-After': '5' });
      }
      const ref: SignalledRef = { bucket: ev.bucket, key: ev.key, ...run };
      result.signalled.push(ref);
      log({ msg: 'trigger.signalled', ...ref, version });
    }
    return send(res, 200, result);
  }
}

/** The body, or null once it is known to exceed `max` (then nothing more is read). */
function readBody(req: IncomingMessage, max: number): Promise<Buffer | null> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) {
    req.pause();
    return Promise.resolve(null);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (): void => {
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
    };
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > max) {
        done();
        req.pause();
        resolve(null);
      } else chunks.push(c);
    };
    const onEnd = (): void => { done(); resolve(Buffer.concat(chunks, size)); };
    const onError = (e: Error): void => { done(); reject(e); };
    const onClose = (): void => { done(); reject(new Error('client closed the connection mid-body')); };
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

function send(res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
