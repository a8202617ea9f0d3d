/**
 * StableCodec's space-channel context groups (LatentCodec.get_mask_four_parts and its
 * squeeze / unsqueeze): y's M channels are four chunks of M/4; group k codes, at each position
 * of a 2x2 cell, one chunk, so every group is M/4 x H x W elements and the four groups together
 * cover y once. The element order of a group is its squeezed tensor's (chunk channel, row,
 * column), which is the order the symbols are coded in.
 */

export interface YShape {
  readonly channels: number;
  readonly height: number;
  readonly width: number;
}

export const GROUPS = 4;

/** POSITION[k][j]: the 2x2 position (2 * row parity + column parity) chunk j takes in group k. */
const POSITION: readonly (readonly number[])[] = [[0, 1, 2, 3], [3, 2, 1, 0], [2, 3, 0, 1], [1, 0, 3, 2]];

/** CHUNK[k][p]: the chunk group k takes at 2x2 position p. */
const CHUNK = POSITION.map((row) => {
  const inv = [0, 0, 0, 0];
  row.forEach((p, j) => { inv[p] = j; });
  return inv;
});

export function checkYShape(s: YShape): void {
  if (!(s.channels > 0 && s.channels % GROUPS === 0)) throw new RangeError(`y has ${s.channels} channels, not a positive multiple of ${GROUPS}`);
}

/** Elements of one group. */
export function groupSize(s: YShape): number {
  return (s.channels / GROUPS) * s.height * s.width;
}

/** Index into the full M x H x W tensor of group k's element i. */
function fullIndex(s: YShape, k: number, i: number): number {
  const plane = s.height * s.width, q = s.channels / GROUPS;
  const ch = Math.floor(i / plane), pos = i % plane;
  const r = Math.floor(pos / s.width), c = pos % s.width;
  const j = CHUNK[k][2 * (r & 1) + (c & 1)];
  return (j * q + ch) * plane + pos;
}

/** squeeze: group k's M/4 x H x W elements of a full tensor. */
export function squeeze(full: Float32Array, s: YShape, k: number): Float32Array {
  const n = groupSize(s), out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = full[fullIndex(s, k, i)];
  return out;
}

/** Writes group k's elements into a full tensor in place (the base update: base * (1 - mask) + y_hat_k). */
export function scatter(into: Float32Array, group: Float32Array, s: YShape, k: number): void {
  for (let i = 0; i < group.length; i++) into[fullIndex(s, k, i)] = group[i];
}

/** unsqueeze: a full tensor with group k's elements and zeros elsewhere. */
export function unsqueeze(group: Float32Array, s: YShape, k: number): Float32Array {
  const out = new Float32Array(s.channels * s.height * s.width);
  scatter(out, group, s, k);
  return out;
}

/** torch.round: to the nearest integer, halves to even. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
