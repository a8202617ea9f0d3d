/**
 * The source version an object-created event names. It is what the compressImage run is told to
 * compress (and records on its .dfc), so a redelivered event is recognised by the run, or by the
 * output it left, instead of by a workflow id per version.
 */
import { SourceVersion } from '../orchestration/types.js';
import { TriggerError } from './errors.js';
import type { ObjectCreatedEvent } from './events.js';

/** S3's sequencer is hex; only then does comparing two of them order writes of a key. */
const HEX = /^[0-9A-Fa-f]{1,64}$/;

/** Throws TriggerError 'bad-event' when the event names no version (neither versionId nor eTag). */
export function sourceVersionOf(ev: Pick<ObjectCreatedEvent, 'bucket' | 'key' | 'etag' | 'versionId' | 'sequencer'>): SourceVersion {
  if (!ev.versionId && !ev.etag) {
    throw new TriggerError('bad-event', `event for ${ev.bucket}/${ev.key} has neither versionId nor eTag: cannot tell which version to compress`);
  }
  const r = SourceVersion.safeParse({
    etag: ev.etag || undefined,
    versionId: ev.versionId || undefined,
    // A sequencer we cannot order by is dropped rather than failing the event.
    sequencer: ev.sequencer && HEX.test(ev.sequencer) ? ev.sequencer : undefined,
  });
  if (!r.success) {
    throw new TriggerError('bad-event', `event for ${ev.bucket}/${ev.key}: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return Object.fromEntries(Object.entries(r.data).filter(([, v]) => v !== undefined)) as SourceVersion;
}
