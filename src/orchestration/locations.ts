/**
 * Object URLs as people type them -> (store URL, key) as the workflows take them.
 *   s3://bucket/a/b.png      -> store s3://bucket,            key a/b.png
 *   file:///data/a/b.png     -> store file:///data/a,         key b.png
 *   /data/a/b.png, ./b.png   -> as file:// URLs
 * A prefix (ending in '/') splits the same way: s3://bucket/photos/ -> (s3://bucket, photos/),
 * /data/photos/ -> (file:///data, photos/).
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export class LocationError extends Error {
  override readonly name = 'LocationError';
}

export interface Location {
  readonly store: string;
  readonly key: string;
}

function toUrl(s: string): string {
  if (/^s3:\/\//.test(s) || /^file:\/\//.test(s)) return s;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) throw new LocationError(`${s}: only s3:// and file:// locations (or local paths) are supported`);
  const url = pathToFileURL(resolve(s)).href;
  return s.endsWith('/') && !url.endsWith('/') ? `${url}/` : url;
}

export function splitObjectUrl(s: string): Location {
  const url = toUrl(s);
  if (url.endsWith('/')) throw new LocationError(`${s}: names a folder, not an object`);
  return split(url, s);
}

/** A folder-like prefix; the key part ends with '/'. */
export function splitPrefixUrl(s: string): Location {
  const url = toUrl(s.endsWith('/') ? s : `${s}/`);
  return split(url, s);
}

function split(url: string, given: string): Location {
  const s3 = /^s3:\/\/([^/]+)\/(.+)$/.exec(url);
  if (s3) return { store: `s3://${s3[1]}`, key: decodeURIComponent(s3[2]) };
  if (url.startsWith('s3://')) throw new LocationError(`${given}: give a key or prefix inside the bucket (s3://bucket/key)`);
  const body = url.endsWith('/') ? url.slice(0, -1) : url;
  const cut = body.lastIndexOf('/');
  const dir = body.slice(0, cut), name = decodeURIComponent(body.slice(cut + 1));
  if (dir === 'file://' || name === '') throw new LocationError(`${given}: no parent directory to use as the store`);
  return { store: dir, key: url.endsWith('/') ? `${name}/` : name };
}
