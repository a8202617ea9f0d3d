/**
 * Tiled VAE encode and decode for large photos (the idea of diffusers' tiled VAE, on diffc's own
 * tile grid and blender): the graph sees overlapping tiles of the `vae` tiling (latent cells; a
 * pixel tile is `downsample` times larger), in the grid's fixed order, up to `batch` tiles per
 * call, and the results are blended with the fixed ramp weights. Working memory is a batch of
 * tiles in and out plus the blend accumulator, which is the result itself: nothing here holds a
 * whole-image planar copy. The VAE changes pixels only (the chain runs on the encoder's latent),
 * so these tiles are not part of the bitstream; decode is still deterministic (fixed order, fixed
 * batches), so a decoder reproduces the encoder's reconstruction bit for bit.
 */
import type { LatentShape } from '../../codec/model.js';
import { TileBlender, cutTile, scaled, type TileGrid } from '../../codec/tiling/index.js';
import { planarSignedTile, unitFromSigned } from '../../image/geometry.js';
import type { RgbImage } from '../../image/types.js';

/**
 * Runs the graph on n tiles stacked in `input` (NCHW of one tile size) and returns one CHW
 * result per tile (the caller checks shapes and applies the latent scaling).
 */
export type TileCall = (input: Float32Array, n: number, tileHeight: number, tileWidth: number) => Promise<ArrayLike<number>[]>;

/**
 * The batched tile loop both directions share: tiles in grid order, `batch` per call, each
 * call's input filled tile by tile into one reused buffer, results blended as they return.
 */
async function blendTileCalls(
  count: number, batch: number, per: number, th: number, tw: number, blender: TileBlender,
  fill: (tile: number, buf: Float32Array, offset: number) => void, call: TileCall,
): Promise<void> {
  const buf = new Float32Array(Math.min(batch, count) * per);
  for (let start = 0; start < count; start += batch) {
    const n = Math.min(batch, count - start);
    for (let j = 0; j < n; j++) fill(start + j, buf, j * per);
    const tiles = await call(n === buf.length / per ? buf : buf.subarray(0, n * per), n, th, tw);
    for (const t of tiles) blender.add(t);
  }
}

/**
 * Image (padded to the model's multiple) -> latent, tile by tile. `grid` is in latent cells;
 * `call` gets pixel tiles and returns latent tiles (C x th x tw, already in model scaling).
 */
export async function encodeTiled(img: RgbImage, shape: LatentShape, grid: TileGrid, downsample: number, batch: number, call: TileCall): Promise<Float32Array> {
  const d = downsample, px = scaled(grid, d);
  if (px.rows.length !== img.height || px.cols.length !== img.width) throw new RangeError(`grid covers ${px.rows.length}x${px.cols.length} px, the image is ${img.height}x${img.width}`);
  const th = px.rows.size, tw = px.cols.size, per = 3 * th * tw;
  const blender = new TileBlender(grid, shape.channels);
  await blendTileCalls(px.tiles.length, batch, per, th, tw, blender, (k, buf, offset) => planarSignedTile(img, px.tiles[k].y, px.tiles[k].x, th, tw, buf, offset), call);
  return blender.finish();
}

/**
 * Latent (model scaling) -> HWC [0,1] image, tile by tile. `toVae` maps one model-scaled latent
 * value to the decoder's input in place of a whole-latent copy; `call` gets latent tiles and
 * returns pixel tiles (3 x th*d x tw*d, in [-1,1]). The pixel tiles are blended straight into the
 * HWC output, then mapped to [0,1] and clamped by fromPlanarSigned's unitFromSigned.
 */
export async function decodeTiled(
  latent: Float32Array, shape: LatentShape, grid: TileGrid, downsample: number, batch: number,
  toVae: (v: number) => number, call: TileCall,
): Promise<RgbImage> {
  const { channels: C, height: h, width: w } = shape;
  if (latent.length !== C * h * w) throw new RangeError(`latent has ${latent.length} values, expected ${C * h * w}`);
  const th = grid.rows.size, tw = grid.cols.size, per = C * th * tw;
  const blender = new TileBlender(grid, 3, 'hwc', downsample);
  await blendTileCalls(grid.tiles.length, batch, per, th, tw, blender, (k, buf, offset) => {
    const t = cutTile(latent, C, h, w, grid.tiles[k].y, grid.tiles[k].x, th, tw);
    for (let i = 0; i < per; i++) buf[offset + i] = toVae(t[i]);
  }, call);
  const out = blender.finish();
  for (let i = 0; i < out.length; i++) out[i] = unitFromSigned(out[i]);
  return { width: w * downsample, height: h * downsample, data: out, bitDepth: 8 };
}
