/**
 * What one SQS message body asks of the consumer, decided before anything is started (so a
 * message is never half-refused): the same parsing, bucket allow-list and filter as the HTTP
 * receiver (`parseObjectEvents`, `sourceVersionOf`, the trigger's filter), in the shapes SQS
 * delivers them: an S3 event notification as the body (S3 -> SQS, or SNS with raw delivery), an
 * SNS envelope whose Message is one (SNS -> SQS), or an EventBridge event (EventBridge -> SQS).
 *
 *   events      the created objects to hand over (possibly none: all filtered or ignored)
 *   test-event  the s3:TestEvent S3 sends when the notification is saved: delete, start nothing
 *   poison      a message no redelivery can fix; `code` says why (the DLQ gets it as an attribute)
 */
import type { SourceVersion } from '../orchestration/types.js';
import { isTriggerError } from './errors.js';
import { parseObjectEvents, type ObjectCreatedEvent } from './events.js';
import type { EventFilter } from './filter.js';
import { sourceVersionOf } from './version.js';

export type PoisonCode = 'not-json' | 'bad-event' | 'sns-subscription' | 'bucket-not-allowed' | 'bad-job';

export interface AcceptedEvent<J> {
  readonly ev: ObjectCreatedEvent;
  readonly version: SourceVersion;
  readonly job: J;
}

export type MessageClass<J> =
  | { readonly kind: 'events'; readonly todo: AcceptedEvent<J>[]; readonly filtered: { key: string; reason: string }[]; readonly ignored: number }
  | { readonly kind: 'test-event' }
  | { readonly kind: 'poison'; readonly code: PoisonCode; readonly reason: string };

export interface ClassifyOptions<J> {
  readonly buckets: ReadonlySet<string>;
  readonly filter: EventFilter;
  /** The job for an accepted event; a throw means the event can never make a valid job (poison). */
  readonly prepare: (ev: ObjectCreatedEvent, version: SourceVersion) => J;
}

export function classifyMessage<J>(body: string | undefined, o: ClassifyOptions<J>): MessageClass<J> {
  let json: unknown;
  try {
    json = JSON.parse((body ?? '').replace(/^\uFEFF/, ''));
  } catch {
    return { kind: 'poison', code: 'not-json', reason: 'the message body is not JSON' };
  }
  if (isTestEvent(json)) return { kind: 'test-event' };
  let parsed;
  try {
    parsed = parseObjectEvents(json);
  } catch (e) {
    if (isTriggerError(e, 'bad-event')) return { kind: 'poison', code: 'bad-event', reason: e.message };
    if (isTriggerError(e, 'sns-subscription')) return { kind: 'poison', code: 'sns-subscription', reason: e.message };
    throw e;
  }
  const refused = [...new Set(parsed.events.map((ev) => ev.bucket).filter((b) => !o.buckets.has(b)))];
  if (refused.length > 0) {
    return { kind: 'poison', code: 'bucket-not-allowed', reason: `events for bucket${refused.length > 1 ? 's' : ''} ${refused.join(', ')} are not accepted by this consumer` };
  }
  const todo: AcceptedEvent<J>[] = [];
  const filtered: { key: string; reason: string }[] = [];
  for (const ev of parsed.events) {
    const f = o.filter(ev);
    if (!f.accept) {
      filtered.push({ key: ev.key, reason: f.reason });
      continue;
    }
    let version: SourceVersion;
    try {
      version = sourceVersionOf(ev);
    } catch (e) {
      if (isTriggerError(e)) return { kind: 'poison', code: 'bad-event', reason: e.message };
      throw e;
    }
    try {
      todo.push({ ev, version, job: o.prepare(ev, version) });
    } catch (e) {
      return { kind: 'poison', code: 'bad-job', reason: `no valid job for ${ev.bucket}/${ev.key}: ${(e as Error).message}` };
    }
  }
  return { kind: 'events', todo, filtered, ignored: parsed.ignored };
}

/** s3:TestEvent as the body, or inside an SNS Notification's Message (S3 -> SNS -> SQS). */
function isTestEvent(json: unknown): boolean {
  if (!isObject(json)) return false;
  if (json.Event === 's3:TestEvent') return true;
  if (json.Type === 'Notification' && typeof json.Message === 'string') {
    try {
      const inner: unknown = JSON.parse(json.Message);
      return isObject(inner) && inner.Event === 's3:TestEvent';
    } catch {
      return false;
    }
  }
  return false;
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
