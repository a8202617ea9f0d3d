/**
 * The checksums S3 keeps for an object, computed here so that uploads can send them and callers
 * can compare with head(): CRC32C (Castagnoli, RFC 3720 §B.4; slicing-by-8 tables) and SHA-256,
 * both as base64 of the big-endian digest, S3's x-amz-checksum-* encoding.
 */
import { createHash } from 'node:crypto';

const POLY = 0x82f63b78; // reflected Castagnoli polynomial
const TABLES: Uint32Array[] = (() => {
  const t = Array.from({ length: 8 }, () => new Uint32Array(256));
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[0][i] = c >>> 0;
  }
  for (let i = 0; i < 256; i++) {
    for (let s = 1; s < 8; s++) t[s][i] = (t[s - 1][i] >>> 8) ^ t[0][t[s - 1][i] & 0xff];
  }
  return t;
})();

/** CRC32C of `bytes`, continuing from `crc` (the value of the preceding bytes, 0 at the start). */
export function crc32c(bytes: Uint8Array, crc = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES;
  let c = ~crc >>> 0;
  let i = 0;
  const n = bytes.length;
  for (; i + 8 <= n; i += 8) {
    const lo = (c ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24))) >>> 0;
    c = t7[lo & 0xff] ^ t6[(lo >>> 8) & 0xff] ^ t5[(lo >>> 16) & 0xff] ^ t4[lo >>> 24]
      ^ t3[bytes[i + 4]] ^ t2[bytes[i + 5]] ^ t1[bytes[i + 6]] ^ t0[bytes[i + 7]];
  }
  for (; i < n; i++) c = t0[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

function u32Base64(v: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b.toString('base64');
}

export function crc32cBase64(bytes: Uint8Array): string {
  return u32Base64(crc32c(bytes));
}

export function sha256Base64(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('base64');
}

export function checksumBase64(algorithm: 'CRC32C' | 'SHA256', bytes: Uint8Array): string {
  return algorithm === 'CRC32C' ? crc32cBase64(bytes) : sha256Base64(bytes);
}
