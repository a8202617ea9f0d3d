/**
 * Where a source's .dfc goes, and the one workflow id that may write it. Bulk jobs, sweeps and
 * bucket triggers all derive both from here, so the same object always maps to the same output
 * and to the same writer: two paths into the pipeline can never compress one object twice or
 * interleave on one output.
 */
import { createHash } from 'node:crypto';

/** `<outputPrefix><key minus sourcePrefix>.dfc`; a key outside sourcePrefix keeps its full name. */
export function outputKeyFor(key: string, sourcePrefix: string, outputPrefix: string): string {
  const rel = sourcePrefix !== '' && key.startsWith(sourcePrefix) ? key.slice(sourcePrefix.length) : key;
  return `${outputPrefix}${rel}.dfc`;
}

/** Bumping this changes every id: only when the meaning of an id changes. */
const DOMAIN = 'diffc-output-v1';

/**
 * The compressImage workflow id for an output: a pure function of (output store, output key), so
 * at most one run writes a given .dfc at any time. Length-prefixed parts: 'a/b'+'c' differs from
 * 'a'+'b/c'. Hashed because keys (1024 bytes) may be longer than a workflow id may be.
 */
export function compressWorkflowId(outputStore: string, output: string): string {
  const h = createHash('sha256');
  for (const part of [DOMAIN, outputStore.replace(/\/+$/, ''), output]) {
    const bytes = Buffer.from(part, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32BE(bytes.length);
    h.update(len).update(bytes);
  }
  return `compress-${h.digest('hex').slice(0, 40)}`;
}
