/**
 * Comparing two versions of one source object, the same way in the workflows (which version a
 * signal names) and the activities (which version an output was made from). Pure: the workflow
 * bundle imports it.
 */
import { normaliseEtag } from '../storage/options.js';
import type { ObjectHead } from '../storage/types.js';
import type { SourceVersion } from './types.js';

/** The version a HEAD reports (ETag, and version id on versioned buckets). */
export function versionOf(head: Pick<ObjectHead, 'etag' | 'versionId'>): SourceVersion {
  return { ...(head.etag ? { etag: head.etag } : {}), ...(head.versionId ? { versionId: head.versionId } : {}) };
}

/** The same object when their version ids (or, failing that, ETags) agree. */
export function sameSource(a: SourceVersion, b: SourceVersion): boolean {
  if (a.versionId && b.versionId) return a.versionId === b.versionId;
  if (a.etag && b.etag) return normaliseEtag(a.etag) === normaliseEtag(b.etag);
  return false;
}

/**
 * S3 sequencers of one key order its events: left-pad the shorter with zeros, then compare as
 * strings (AWS, "Event message structure"). Hex digits compared case-insensitively.
 */
export function compareSequencers(a: string, b: string): number {
  const n = Math.max(a.length, b.length);
  const x = a.toLowerCase().padStart(n, '0'), y = b.toLowerCase().padStart(n, '0');
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * Is `v` a later write of the source than `than`? By sequencer when both have one; otherwise a
 * different version id or ETag is a later write (a key's events come from one bucket, in order,
 * and a run only hears of versions written after it was started for its own).
 */
export function isNewerVersion(v: SourceVersion, than: SourceVersion | undefined): boolean {
  if (!than) return true;
  if (v.sequencer && than.sequencer) return compareSequencers(v.sequencer, than.sequencer) > 0;
  if (v.versionId && than.versionId) return v.versionId !== than.versionId;
  if (v.etag && than.etag) return normaliseEtag(v.etag) !== normaliseEtag(than.etag);
  // Nothing in common to compare by: a signal names a write, and it came after this run began.
  return v.etag !== undefined || v.versionId !== undefined;
}
