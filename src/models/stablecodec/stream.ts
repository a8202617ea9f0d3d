/**
 * A StableCodec code as .dfc field 17 holds it (docs/format.md §3.9, docs/models.md
 * "StableCodec"): a version byte (1), then five length-prefixed streams: the hyper-latent z's
 * factorized stream (docs/learned-entropy.md §5), then one Gaussian-conditional stream (§4) per
 * context group 0..3, in decoding order (group k's scales need groups 0..k-1 decoded).
 */
import { ByteReader, ByteWriter } from '../../codec/format/bytes.js';
import { EntropyError } from '../../codec/entropy/learned/index.js';
import { GROUPS } from './groups.js';

export const STREAM_VERSION = 1;

export interface StableCodecStreams {
  readonly z: Uint8Array;
  readonly groups: readonly Uint8Array[];
}

export function writeStreams(s: StableCodecStreams): Uint8Array {
  if (s.groups.length !== GROUPS) throw new RangeError(`${s.groups.length} group streams, expected ${GROUPS}`);
  const w = new ByteWriter();
  w.u8(STREAM_VERSION);
  w.lengthPrefixed(s.z);
  for (const g of s.groups) w.lengthPrefixed(g);
  return w.finish();
}

/** EntropyError('corrupt') for anything that is not exactly this layout. */
export function readStreams(bytes: Uint8Array): StableCodecStreams {
  try {
    const r = new ByteReader(bytes);
    const v = r.u8('stablecodec.version');
    if (v !== STREAM_VERSION) throw new EntropyError('corrupt', `StableCodec stream version ${v}, expected ${STREAM_VERSION}`);
    const z = r.lengthPrefixed(bytes.length, 'stablecodec.z');
    const groups = Array.from({ length: GROUPS }, (_, k) => r.lengthPrefixed(bytes.length, `stablecodec.group${k}`));
    if (r.remaining !== 0) throw new EntropyError('corrupt', `${r.remaining} bytes after the StableCodec streams`);
    return { z, groups };
  } catch (e) {
    if (e instanceof EntropyError) throw e;
    throw new EntropyError('corrupt', `the StableCodec streams do not parse: ${(e as Error).message}`, { cause: e });
  }
}
