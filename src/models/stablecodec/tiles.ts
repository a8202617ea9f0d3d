/**
 * The one-step UNet's latent tiling as StableCodec.decompress does it, so a tiled decode equals
 * the original's: a latent of more than tile x tile cells is cut into tiles of side
 * min(tile, h, w), starting every (tile - overlap) cells, the last row and column flush with the
 * edge; tile predictions are blended with its Gaussian weights (variance 0.01 of the tile side,
 * the column midpoint at (s - 1) / 2 and the row midpoint at s / 2, as the original has them),
 * each product rounded to float32 as it is added, then divided by the summed weights.
 */

export interface OneStepTile {
  /** Top-left cell. */
  readonly y: number;
  readonly x: number;
}

export interface OneStepGrid {
  readonly size: number;
  readonly tiles: readonly OneStepTile[];
}

/** null: the latent runs in one call. */
export function oneStepGrid(h: number, w: number, tile: number, overlap: number): OneStepGrid | null {
  if (h * w <= tile * tile) return null;
  const s = Math.min(tile, h, w);
  const count = (extent: number) => {
    let n = 0, cur = 0;
    while (cur < extent) {
      cur = Math.max(n * s - overlap * n, 0) + s;
      n++;
    }
    return n;
  };
  const cols = count(w), rows = count(h);
  const tiles: OneStepTile[] = [];
  let x = 0, y = 0;
  // The original's loop order: along the width outside, along the height inside.
  for (let i = 0; i < cols; i++) {
    for (let j = 0; j < rows; j++) {
      if (j < rows - 1 || i < cols - 1) {
        x = Math.max(i * s - overlap * i, 0);
        y = Math.max(j * s - overlap * j, 0);
      }
      if (i === cols - 1) x = w - s;
      if (j === rows - 1) y = h - s;
      tiles.push({ y, x });
    }
  }
  return { size: s, tiles };
}

/** The s x s blend weights, row-major (float64, as numpy computes them). */
export function gaussianWeights(s: number): Float64Array {
  const v = 0.01, norm = Math.sqrt(2 * Math.PI * v);
  const prob = (i: number, mid: number) => Math.exp(-(i - mid) * (i - mid) / (s * s) / (2 * v)) / norm;
  const out = new Float64Array(s * s);
  for (let r = 0; r < s; r++) {
    const py = prob(r, s / 2);
    for (let c = 0; c < s; c++) out[r * s + c] = py * prob(c, (s - 1) / 2);
  }
  return out;
}

/**
 * Blends C x s x s tile outputs (in grid order) into a C x h x w result:
 * acc += pred * weight and sum += weight, each rounded to float32, then acc / sum.
 */
export function blendOneStep(grid: OneStepGrid, tiles: readonly Float32Array[], channels: number, h: number, w: number): Float32Array {
  const s = grid.size, wts = gaussianWeights(s), plane = h * w;
  const acc = new Float32Array(channels * plane), sum = new Float32Array(channels * plane);
  grid.tiles.forEach((t, n) => {
    const pred = tiles[n];
    if (pred.length !== channels * s * s) throw new RangeError(`tile ${n} has ${pred.length} values, expected ${channels * s * s}`);
    for (let c = 0; c < channels; c++) {
      for (let r = 0; r < s; r++) {
        for (let q = 0; q < s; q++) {
          const o = c * plane + (t.y + r) * w + t.x + q, wt = wts[r * s + q];
          acc[o] += pred[(c * s + r) * s + q] * wt;
          sum[o] += wt;
        }
      }
    }
  });
  for (let i = 0; i < acc.length; i++) acc[i] /= sum[i];
  return acc;
}

