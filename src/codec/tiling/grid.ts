/**
 * Overlapping tile layouts over a 2-D grid (docs/tiling.md §2). Pure integer arithmetic, so the
 * encoder, the decoder and any other implementation lay out exactly the same tiles.
 */
import { z } from 'zod';

/** A tiling: tile side and least overlap in grid cells; tile origins are multiples of `align`. */
export const TileSpec = z.object({
  tile: z.number().int().min(2).max(4096),
  overlap: z.number().int().min(0).max(2048),
  align: z.number().int().min(1).max(64).default(1),
}).strict().refine((s) => s.overlap < s.tile, { message: 'overlap must be smaller than the tile' })
  .refine((s) => s.tile % s.align === 0, { message: 'the tile must be a multiple of align' });
export type TileSpec = z.output<typeof TileSpec>;
export type TileSpecInput = z.input<typeof TileSpec>;

/** Tiles along one axis: all of one size, the first at 0 and the last ending at the axis's end. */
export interface AxisTiles {
  readonly length: number;
  readonly size: number;
  readonly starts: readonly number[];
  /** Ramp length at the edges that meet another tile (the spec's overlap, capped by the size). */
  readonly ramp: number;
}

export interface TileGrid {
  readonly rows: AxisTiles;
  readonly cols: AxisTiles;
  /** Tiles in their fixed order: row-major, (rowStart, colStart). */
  readonly tiles: readonly { readonly y: number; readonly x: number }[];
}

/**
 * One axis of `length` cells. Lengths up to the tile get one tile of the whole length; longer
 * ones get n = 1 + ceil((L - T) / (T - O)) tiles (in align units) spread evenly, so consecutive
 * tiles overlap by at least O.
 */
export function axisTiles(length: number, spec: TileSpecInput): AxisTiles {
  const s = TileSpec.parse(spec);
  if (!Number.isInteger(length) || length < 1) throw new RangeError(`axis length must be a positive integer, got ${length}`);
  if (length <= s.tile) return { length, size: length, starts: [0], ramp: 0 };
  if (length % s.align) throw new RangeError(`axis length ${length} is not a multiple of the tile alignment ${s.align}`);
  const a = s.align, L = length / a, T = s.tile / a, O = Math.ceil(s.overlap / a);
  const n = 1 + Math.ceil((L - T) / (T - O));
  const starts: number[] = [];
  for (let k = 0; k < n; k++) starts.push(a * Math.floor((k * (L - T)) / (n - 1)));
  return { length, size: s.tile, starts, ramp: s.overlap };
}

export function tileGrid(height: number, width: number, spec: TileSpecInput): TileGrid {
  const rows = axisTiles(height, spec), cols = axisTiles(width, spec);
  const tiles: { y: number; x: number }[] = [];
  for (const y of rows.starts) for (const x of cols.starts) tiles.push({ y, x });
  return { rows, cols, tiles };
}

/**
 * Blend weight of each cell of tile k along an axis: 1, except on an edge that meets another
 * tile, where it ramps (i + 0.5) / ramp over the first `ramp` cells (mirrored at the far edge).
 * Every weight is positive, so every cell's weights sum to more than zero.
 */
export function axisWeights(axis: AxisTiles, k: number): Float64Array {
  const w = new Float64Array(axis.size).fill(1);
  const r = Math.min(axis.ramp, axis.size);
  const n = axis.starts.length;
  for (let i = 0; i < r; i++) {
    const v = (i + 0.5) / r;
    if (k > 0) w[i] = Math.min(w[i], v);
    if (k < n - 1) w[axis.size - 1 - i] = Math.min(w[axis.size - 1 - i], v);
  }
  return w;
}

/** Sum over tiles of the axis weights at each cell (the blend's separable normaliser). */
export function axisNormaliser(axis: AxisTiles): Float64Array {
  const sum = new Float64Array(axis.length);
  axis.starts.forEach((s, k) => {
    const w = axisWeights(axis, k);
    for (let i = 0; i < axis.size; i++) sum[s + i] += w[i];
  });
  return sum;
}

/** Interior tile edges along an axis (cells where a tile starts or ends, not the axis ends). */
export function tileEdges(axis: AxisTiles): number[] {
  const edges = new Set<number>();
  for (const s of axis.starts) {
    if (s > 0) edges.add(s);
    if (s + axis.size < axis.length) edges.add(s + axis.size);
  }
  return [...edges].sort((a, b) => a - b);
}
