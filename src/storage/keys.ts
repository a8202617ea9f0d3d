/**
 * Object keys, the same rules for every store so that a key that works locally works on S3:
 * 1..1024 UTF-8 bytes, '/'-separated non-empty segments, none of them '.' or '..', no leading or
 * trailing '/', no backslash, no control characters, and no segment starting with the reserved
 * TEMP_MARK or META_MARK (the local store's in-flight files and metadata sidecars).
 */
import { StorageError } from './errors.js';

export const TEMP_MARK = '.diffc-tmp.';
/** A local store keeps an object's user metadata in "<dir>/META_MARK<name>" next to it. */
export const META_MARK = '.diffc-meta.';
const MAX_KEY_BYTES = 1024;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function problem(s: string, what: string): string | null {
  if (Buffer.byteLength(s) > MAX_KEY_BYTES) return `${what} is longer than ${MAX_KEY_BYTES} bytes`;
  if (CONTROL.test(s)) return `${what} holds a control character`;
  if (s.includes('\\')) return `${what} holds a backslash`;
  if (s.startsWith('/')) return `${what} starts with '/'`;
  return null;
}

export function checkKey(key: string): string {
  if (typeof key !== 'string' || key.length === 0) throw new StorageError('invalid', 'an object key must be a non-empty string');
  const p = problem(key, `key ${JSON.stringify(key)}`);
  if (p) throw new StorageError('invalid', p);
  for (const seg of key.split('/')) {
    if (seg === '' || seg === '.' || seg === '..') {
      throw new StorageError('invalid', `key ${JSON.stringify(key)} has an empty, '.' or '..' segment`);
    }
    for (const mark of [TEMP_MARK, META_MARK]) {
      if (seg.startsWith(mark)) throw new StorageError('invalid', `key ${JSON.stringify(key)} uses the reserved name ${mark}*`);
    }
  }
  return key;
}

/** A list prefix: '' or any start of a valid key (it may end inside a segment or with '/'). */
export function checkPrefix(prefix: string): string {
  if (typeof prefix !== 'string') throw new StorageError('invalid', 'a list prefix must be a string');
  const p = problem(prefix, `prefix ${JSON.stringify(prefix)}`);
  if (p) throw new StorageError('invalid', p);
  const segs = prefix.split('/');
  // Every segment but the last is complete and must be valid; the last may be partial.
  for (const seg of segs.slice(0, -1)) {
    if (seg === '' || seg === '.' || seg === '..') {
      throw new StorageError('invalid', `prefix ${JSON.stringify(prefix)} has an empty, '.' or '..' segment`);
    }
  }
  return prefix;
}

/** Order of keys: bytewise on their UTF-8, which is what S3 lists in. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
