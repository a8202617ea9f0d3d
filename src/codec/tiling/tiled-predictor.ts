/**
 * A noise predictor over a latent larger than the network's native size (docs/tiling.md §4): the
 * network sees overlapping tiles of one size, in the grid's fixed order, up to maxBatch tiles
 * per call across all requests of a batch, and the raw predictions (eps, v, flow or x0, all
 * affine in the network output for a fixed x and alpha-bar) are blended with fixed weights. One
 * DiffC chain still runs over the whole latent; only the model calls are tiled.
 */
import type { DenoiseRequest, LatentShape, NoisePredictor } from '../model.js';
import type { PredictionKind } from '../diffusion/prediction.js';
import { TileBlender, cutTile } from './blend.js';
import { tileGrid, type TileGrid, type TileSpecInput } from './grid.js';

export class TiledPredictor implements NoisePredictor {
  readonly id: string;
  readonly hash: Uint8Array;
  readonly prediction: PredictionKind;
  readonly maxBatch: number;
  readonly grid: TileGrid;
  /** Network calls made and tiles sent (for benchmarks). */
  calls = 0;
  tilesPredicted = 0;

  /** `inner` predicts one tile: its latent is (channels, rows.size, cols.size) of the grid. */
  constructor(private readonly inner: NoisePredictor, readonly latent: LatentShape, grid: TileGrid) {
    const { channels, height, width } = latent;
    if (grid.rows.length !== height || grid.cols.length !== width) throw new RangeError(`grid ${grid.rows.length}x${grid.cols.length} does not cover the latent ${height}x${width}`);
    const t = inner.latent;
    if (t.channels !== channels || t.height !== grid.rows.size || t.width !== grid.cols.size) {
      throw new RangeError(`tile predictor is ${t.channels}x${t.height}x${t.width}, the grid needs ${channels}x${grid.rows.size}x${grid.cols.size}`);
    }
    this.id = inner.id;
    this.hash = inner.hash;
    this.prediction = inner.prediction;
    this.maxBatch = inner.maxBatch;
    this.grid = grid;
  }

  async predict(batch: readonly DenoiseRequest[]): Promise<Float32Array[]> {
    const { channels: C, height: H, width: W } = this.latent;
    const g = this.grid, th = g.rows.size, tw = g.cols.size, per = g.tiles.length;
    const blenders = batch.map(() => new TileBlender(g, C));
    // Work items (request, tile) in order; tiles are cut only when their call is made.
    const total = batch.length * per;
    for (let start = 0; start < total; start += this.inner.maxBatch) {
      const items: DenoiseRequest[] = [];
      for (let i = start; i < Math.min(total, start + this.inner.maxBatch); i++) {
        const r = batch[Math.floor(i / per)], t = g.tiles[i % per];
        items.push({ x: cutTile(r.x, C, H, W, t.y, t.x, th, tw), alphaBar: r.alphaBar });
      }
      const preds = await this.inner.predict(items);
      this.calls++;
      this.tilesPredicted += items.length;
      preds.forEach((p, j) => blenders[Math.floor((start + j) / per)].add(p));
    }
    return blenders.map((b) => b.finish());
  }
}

/**
 * The predictor for a latent: the tile network itself when the latent fits one tile (so small
 * images are computed exactly as without tiling), else a TiledPredictor. `tileModel(h, w)` makes
 * the network's predictor for an h x w tile.
 */
export async function tiledPredictor(
  latent: LatentShape, spec: TileSpecInput, tileModel: (height: number, width: number) => Promise<NoisePredictor>,
): Promise<NoisePredictor> {
  const grid = tileGrid(latent.height, latent.width, spec);
  const inner = await tileModel(grid.rows.size, grid.cols.size);
  return grid.tiles.length === 1 ? inner : new TiledPredictor(inner, latent, grid);
}
