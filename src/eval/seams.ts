/**
 * Seam metric for tiled models (issue 11): reconstruction error on pixels near interior tile
 * edges against the error everywhere else. A blend that leaves visible seams concentrates error
 * on the edges, so the seam ratio = boundary MSE / interior MSE rises above 1; an invisible one gives
 * about 1 (tiles' own content differences aside).
 *
 * An edge at e is the boundary between pixels e-1 and e. A pixel is on the boundary band when its
 * centre is within `band` px of an edge: |x + 0.5 - e| <= band, i.e. x in [e - band, e + band - 1]
 * (band pixels on each side), along columns for column edges and along rows for row edges.
 * MSE is over R, G, B samples in [0, 1] units, as in metrics.ts.
 */
import type { RgbImage } from '../image/types.js';
import { tileEdges, type TileGrid } from '../codec/tiling/grid.js';

export class SeamError extends Error {
  override readonly name = 'SeamError';
  constructor(readonly code: 'size' | 'no-edges' | 'no-interior', message: string) {
    super(message);
  }
}

/** Interior tile edge positions in pixels: x positions of column edges, y positions of row edges. */
export interface SeamEdges {
  readonly cols: readonly number[];
  readonly rows: readonly number[];
}

export interface SeamReport {
  readonly boundaryMse: number;
  readonly interiorMse: number;
  /** The seam ratio, boundaryMse / interiorMse (1 when both are 0, Infinity when only the interior is 0). */
  readonly ratio: number;
  readonly boundaryPixels: number;
  readonly interiorPixels: number;
  readonly band: number;
}

export const SEAM_BAND = 8;

/** A latent tile grid's interior edges in pixels (latent cells times the model's downsample). */
export function seamEdgesOf(grid: TileGrid, downsample: number): SeamEdges {
  if (!Number.isInteger(downsample) || downsample < 1) throw new RangeError(`downsample must be a positive integer, got ${downsample}`);
  return { cols: tileEdges(grid.cols).map((e) => e * downsample), rows: tileEdges(grid.rows).map((e) => e * downsample) };
}

/** Marks the positions 0..n-1 within `band` of an edge (edges outside 1..n-1 mark what they reach). */
function bandMask(n: number, edges: readonly number[], band: number): Uint8Array {
  const m = new Uint8Array(n);
  for (const e of edges) {
    if (!Number.isInteger(e)) throw new RangeError(`tile edge positions must be integers, got ${e}`);
    for (let x = Math.max(0, e - band); x < Math.min(n, e + band); x++) m[x] = 1;
  }
  return m;
}

/**
 * Boundary vs interior MSE of `recon` against `original`. Throws SeamError 'no-edges' when no
 * edge lies inside the image (a single tile has no seams to measure), 'no-interior' when the
 * bands cover every pixel, 'size' when the images differ in size.
 */
export function seamRatio(original: RgbImage, recon: RgbImage, edges: SeamEdges, band = SEAM_BAND): SeamReport {
  const { width: W, height: H } = original;
  if (recon.width !== W || recon.height !== H) throw new SeamError('size', `image sizes differ: ${W}x${H} vs ${recon.width}x${recon.height}`);
  if (original.data.length !== W * H * 3 || recon.data.length !== W * H * 3) throw new SeamError('size', 'image data length does not match width x height x 3');
  if (!Number.isInteger(band) || band < 1) throw new RangeError(`band must be a positive integer, got ${band}`);
  const cols = edges.cols.filter((e) => e > 0 && e < W), rows = edges.rows.filter((e) => e > 0 && e < H);
  if (cols.length === 0 && rows.length === 0) throw new SeamError('no-edges', `no interior tile edge inside ${W}x${H}: nothing to measure`);
  const mx = bandMask(W, cols, band), my = bandMask(H, rows, band);
  let sb = 0, si = 0, nb = 0, ni = 0;
  const a = original.data, b = recon.data;
  for (let y = 0; y < H; y++) {
    const rowOn = my[y] === 1;
    for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 3;
      const e = (a[i] - b[i]) ** 2 + (a[i + 1] - b[i + 1]) ** 2 + (a[i + 2] - b[i + 2]) ** 2;
      if (rowOn || mx[x] === 1) { sb += e; nb++; } else { si += e; ni++; }
    }
  }
  if (ni === 0) throw new SeamError('no-interior', `the ${band} px bands around the tile edges cover all of ${W}x${H}`);
  const boundary = sb / (3 * nb), interior = si / (3 * ni);
  const ratio = interior > 0 ? boundary / interior : boundary > 0 ? Infinity : 1;
  return { boundaryMse: boundary, interiorMse: interior, ratio, boundaryPixels: nb, interiorPixels: ni, band };
}
