/**
 * Parsing of the bodies an object store POSTs when an object is written, in the three shapes we
 * are delivered them:
 *   - S3 event notifications ({ Records: [...] }) as AWS S3 and MinIO's webhook target send them
 *     (MinIO adds top-level EventName/Key; Ceph RGW sends the same records with size as a string),
 *     and the s3:TestEvent AWS sends when a notification configuration is saved;
 *   - an SNS envelope (Type: Notification) whose Message is one of the above, as a string;
 *   - an EventBridge event (source aws.s3, detail-type Object Created).
 * Schemas are passthrough: senders add fields over time and we only read the few we need.
 */
import { z } from 'zod';
import { TriggerError } from './errors.js';
import { normaliseEtag } from '../storage/options.js';

export interface ObjectCreatedEvent {
  readonly bucket: string;
  /** Decoded object key, as the store names it (S3 notifications URL-encode it on the wire). */
  readonly key: string;
  readonly size?: number;
  /** Without the surrounding quotes S3 puts on ETags. */
  readonly etag?: string;
  readonly versionId?: string;
  readonly eventName: string;
  readonly sequencer?: string;
}

export interface ParsedEvents {
  readonly events: ObjectCreatedEvent[];
  /** Well-formed events that are not object creations (ObjectRemoved, s3:TestEvent, ...). */
  readonly ignored: number;
}

/** Ceph RGW sends size as a decimal string; AWS and MinIO as a number. */
const Size = z.union([
  z.number().int().nonnegative(),
  z.string().regex(/^\d+$/, 'size must be a decimal integer').transform(Number),
]);

/** Empty strings and JSON null mean "absent" (MinIO sends versionId "" on unversioned buckets). */
const OptText = z.string().nullish().transform((s) => (s ? s : undefined));

export const S3EventRecord = z.object({
  eventVersion: z.string().optional(),
  // aws:s3, minio:s3, ceph:s3: any S3-compatible source, but never another service's record.
  eventSource: z.string().regex(/^[a-z0-9.-]+:s3$/i, "eventSource must be '<vendor>:s3' (aws:s3, minio:s3)"),
  eventName: z.string().min(1),
  s3: z.object({
    bucket: z.object({ name: z.string().min(1) }).passthrough(),
    object: z.object({
      key: z.string().min(1),
      size: Size.optional(),
      eTag: OptText,
      versionId: OptText,
      sequencer: OptText,
    }).passthrough(),
  }).passthrough(),
}).passthrough();

export const S3EventNotification = z.object({ Records: z.array(S3EventRecord) }).passthrough();

/** What AWS sends once when a notification configuration is saved; carries no object. */
export const S3TestEvent = z.object({ Event: z.literal('s3:TestEvent') }).passthrough();

export const SnsEnvelope = z.discriminatedUnion('Type', [
  z.object({ Type: z.literal('Notification'), Message: z.string() }).passthrough(),
  z.object({ Type: z.literal('SubscriptionConfirmation'), SubscribeURL: z.string().optional(), TopicArn: z.string().optional() }).passthrough(),
  z.object({ Type: z.literal('UnsubscribeConfirmation') }).passthrough(),
]);

export const EventBridgeS3Event = z.object({
  source: z.literal('aws.s3'),
  'detail-type': z.string().min(1),
  detail: z.object({
    bucket: z.object({ name: z.string().min(1) }).passthrough(),
    object: z.object({
      key: z.string().min(1),
      size: Size.optional(),
      etag: OptText,
      'version-id': OptText,
      sequencer: OptText,
    }).passthrough(),
    reason: z.string().optional(),
  }).passthrough(),
}).passthrough();

/**
 * The object-created events in `body` (already JSON-parsed). Throws TriggerError 'bad-event' for
 * a shape we do not know or a field that is wrong (the message names the path), and
 * 'sns-subscription' for an SNS subscription that still needs confirming.
 */
export function parseObjectEvents(body: unknown): ParsedEvents {
  return parseAt(body, '', 0);
}

function parseAt(body: unknown, where: string, depth: number): ParsedEvents {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new TriggerError('bad-event', `${where || 'body'} is not a JSON object`);
  }
  const o = body as Record<string, unknown>;
  if ('Records' in o) return fromS3(check(S3EventNotification, o, where));
  if (o.Event === 's3:TestEvent') return { events: [], ignored: 1 };
  if ('Type' in o && depth === 0) return fromSns(check(SnsEnvelope, o, where), depth);
  if (o.source === 'aws.s3' || 'detail-type' in o) return fromEventBridge(check(EventBridgeS3Event, o, where));
  throw new TriggerError('bad-event',
    `${where || 'body'} is not an S3 event notification (Records), SNS envelope (Type) or EventBridge S3 event (source: aws.s3)`);
}

function fromS3(n: z.infer<typeof S3EventNotification>): ParsedEvents {
  const events: ObjectCreatedEvent[] = [];
  let ignored = 0;
  n.Records.forEach((r, i) => {
    if (!isCreated(r.eventName)) { ignored++; return; }
    const o = r.s3.object;
    events.push(clean({
      bucket: r.s3.bucket.name,
      key: decodeKey(o.key, `Records.${i}.s3.object.key`),
      size: o.size,
      etag: unquote(o.eTag),
      versionId: o.versionId,
      eventName: r.eventName,
      sequencer: o.sequencer,
    }));
  });
  return { events, ignored };
}

function fromSns(env: z.infer<typeof SnsEnvelope>, depth: number): ParsedEvents {
  switch (env.Type) {
    case 'Notification': {
      let inner: unknown;
      try {
        inner = JSON.parse(env.Message);
      } catch {
        throw new TriggerError('bad-event', 'SNS Message is not JSON');
      }
      return parseAt(inner, 'SNS Message', depth + 1);
    }
    case 'SubscriptionConfirmation':
      throw new TriggerError('sns-subscription',
        `SNS subscription${env.TopicArn ? ` to ${env.TopicArn}` : ''} is not confirmed: confirm it by visiting its SubscribeURL ` +
        `(${env.SubscribeURL ?? 'missing from the message'}); this receiver never fetches URLs itself`);
    case 'UnsubscribeConfirmation':
      return { events: [], ignored: 1 };
  }
}

function fromEventBridge(e: z.infer<typeof EventBridgeS3Event>): ParsedEvents {
  if (e['detail-type'] !== 'Object Created') return { events: [], ignored: 1 };
  const o = e.detail.object;
  return {
    events: [clean({
      bucket: e.detail.bucket.name,
      key: o.key, // EventBridge keys are not URL-encoded
      size: o.size,
      etag: unquote(o.etag),
      versionId: o['version-id'],
      eventName: e.detail.reason ? `Object Created:${e.detail.reason}` : 'Object Created',
      sequencer: o.sequencer,
    })],
    ignored: 0,
  };
}

/** 's3:ObjectCreated:Put' (AWS, MinIO) or 'ObjectCreated:Put' (AWS in Lambda/SNS docs, Ceph). */
function isCreated(eventName: string): boolean {
  return /^(s3:)?ObjectCreated:/.test(eventName);
}

/** S3 notifications form-encode keys: '+' is a space, and a literal '+' arrives as %2B. */
function decodeKey(raw: string, path: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    throw new TriggerError('bad-event', `${path}: not a valid URL-encoded key: ${JSON.stringify(raw)}`);
  }
}

function unquote(etag: string | undefined): string | undefined {
  const s = etag === undefined ? undefined : normaliseEtag(etag);
  return s ? s : undefined;
}

/** Drops undefined fields so events compare and serialise cleanly. */
function clean(e: ObjectCreatedEvent): ObjectCreatedEvent {
  return Object.fromEntries(Object.entries(e).filter(([, v]) => v !== undefined)) as unknown as ObjectCreatedEvent;
}

function check<T extends z.ZodTypeAny>(schema: T, value: unknown, where: string): z.infer<T> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issues = r.error.issues.slice(0, 5).map((i) => {
    const path = [where, ...i.path].filter((p) => p !== '').join('.');
    return `${path || 'body'}: ${i.message}`;
  });
  throw new TriggerError('bad-event', `invalid event: ${issues.join('; ')}`);
}
