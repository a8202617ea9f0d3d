/**
 * The Temporal workflow id for an object-created event. Stores deliver events at least once
 * (retries, SNS redelivery), so the id must be a pure function of *which object version* was
 * written: a redelivery maps to the running/finished workflow and is reported as a duplicate,
 * while a new upload (new versionId, or new ETag on an unversioned bucket) gets a new id.
 */
import { createHash } from 'node:crypto';
import { TriggerError } from './errors.js';
import type { ObjectCreatedEvent } from './events.js';

/** Bumping this changes every id: only do it when the meaning of a trigger changes. */
const DOMAIN = 'diffc-trigger-v1';

export function triggerWorkflowId(ev: Pick<ObjectCreatedEvent, 'bucket' | 'key' | 'versionId' | 'etag'>): string {
  // Tagged so that a versionId and an ETag with the same text never collide.
  const version = ev.versionId ? `v:${ev.versionId}` : ev.etag ? `e:${ev.etag}` : undefined;
  if (version === undefined) {
    throw new TriggerError('bad-event', `event for ${ev.bucket}/${ev.key} has neither versionId nor eTag: cannot deduplicate deliveries`);
  }
  const h = createHash('sha256');
  // Length-prefixed so part boundaries are unambiguous ('a/b' + 'c' differs from 'a' + 'b/c').
  for (const part of [DOMAIN, ev.bucket, ev.key, version]) {
    const bytes = Buffer.from(part, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32BE(bytes.length);
    h.update(len).update(bytes);
  }
  return `compress-${h.digest('hex').slice(0, 32)}`;
}
