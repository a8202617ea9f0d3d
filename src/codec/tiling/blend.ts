/**
 * Cutting planar (CHW) arrays into the tiles of a TileGrid and blending tile results back
 * (docs/tiling.md §3): out = sum_k w_k p_k / sum_k w_k with separable weights, accumulated in
 * the grid's fixed tile order in float32, then divided by the float64 normaliser and rounded to
 * float32. Same inputs, same order, same bits, on every machine.
 */
import { axisNormaliser, axisWeights, type TileGrid } from './grid.js';

/** The tile at (y0, x0) of size th x tw, all channels, from a CHW array of H x W planes. */
export function cutTile(src: ArrayLike<number>, channels: number, H: number, W: number, y0: number, x0: number, th: number, tw: number): Float32Array {
  if (y0 < 0 || x0 < 0 || y0 + th > H || x0 + tw > W) throw new RangeError(`tile ${th}x${tw} at (${y0}, ${x0}) is outside ${H}x${W}`);
  const out = new Float32Array(channels * th * tw);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < th; y++) {
      const s = (c * H + y0 + y) * W + x0, d = (c * th + y) * tw;
      for (let x = 0; x < tw; x++) out[d + x] = src[s + x];
    }
  }
  return out;
}

/** Where blended values go: planar CHW (latents) or interleaved HWC (RGB images). */
export type Layout = 'chw' | 'hwc';

/**
 * Accumulates tile results in grid order. `scaleY`/`scaleX` map grid cells to output cells
 * (a VAE decoder turns a latent tile into a d-times larger pixel tile): tile positions, sizes
 * and ramps are all multiplied by the scale.
 */
export class TileBlender {
  readonly height: number;
  readonly width: number;
  /** The grid in output cells (scaled). */
  private readonly grid: TileGrid;
  private readonly acc: Float32Array;
  private readonly wy: Float64Array[];
  private readonly wx: Float64Array[];
  private next = 0;

  constructor(grid: TileGrid, readonly channels: number, private readonly layout: Layout = 'chw', readonly scale = 1) {
    const g = scaled(grid, scale);
    this.grid = g;
    this.height = g.rows.length;
    this.width = g.cols.length;
    this.acc = new Float32Array(channels * this.height * this.width);
    this.wy = g.rows.starts.map((_, k) => axisWeights(g.rows, k));
    this.wx = g.cols.starts.map((_, k) => axisWeights(g.cols, k));
  }

  /** Adds the result for the next tile in grid order (CHW, the scaled tile's size). */
  add(tile: ArrayLike<number>): void {
    const g = this.grid, k = this.next;
    if (k >= g.tiles.length) throw new RangeError(`all ${g.tiles.length} tiles were already added`);
    const th = g.rows.size, tw = g.cols.size, C = this.channels, H = this.height, W = this.width;
    if (tile.length !== C * th * tw) throw new RangeError(`tile ${k} has ${tile.length} values, expected ${C * th * tw}`);
    const nc = g.cols.starts.length;
    const wy = this.wy[Math.floor(k / nc)], wx = this.wx[k % nc];
    const { y: y0, x: x0 } = g.tiles[k];
    const acc = this.acc;
    for (let c = 0; c < C; c++) {
      for (let y = 0; y < th; y++) {
        const s = (c * th + y) * tw, a = wy[y];
        if (this.layout === 'chw') {
          const d = (c * H + y0 + y) * W + x0;
          for (let x = 0; x < tw; x++) acc[d + x] += a * wx[x] * tile[s + x];
        } else {
          const d = ((y0 + y) * W + x0) * C + c;
          for (let x = 0; x < tw; x++) acc[d + x * C] += a * wx[x] * tile[s + x];
        }
      }
    }
    this.next++;
  }

  /** The blend; throws unless every tile was added. The accumulator is returned, not copied. */
  finish(): Float32Array {
    const g = this.grid;
    if (this.next !== g.tiles.length) throw new RangeError(`${this.next} of ${g.tiles.length} tiles were added`);
    const ny = axisNormaliser(g.rows), nx = axisNormaliser(g.cols);
    const C = this.channels, H = this.height, W = this.width, acc = this.acc;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const n = ny[y] * nx[x];
        if (this.layout === 'chw') for (let c = 0; c < C; c++) acc[(c * H + y) * W + x] /= n;
        else for (let c = 0; c < C; c++) acc[(y * W + x) * C + c] /= n;
      }
    }
    return acc;
  }
}

/** The grid with every position, size and ramp multiplied by s. */
export function scaled(grid: TileGrid, s: number): TileGrid {
  if (s === 1) return grid;
  if (!Number.isInteger(s) || s < 1) throw new RangeError(`tile scale must be a positive integer, got ${s}`);
  const axis = (a: TileGrid['rows']) => ({ length: a.length * s, size: a.size * s, starts: a.starts.map((v) => v * s), ramp: a.ramp * s });
  return { rows: axis(grid.rows), cols: axis(grid.cols), tiles: grid.tiles.map((t) => ({ y: t.y * s, x: t.x * s })) };
}
