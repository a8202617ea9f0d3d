/**
 * Orthonormal 2-D DCT-II over an H x W plane, as two separable matrix products
 * (Y = C_H X C_W^T, X = C_H^T Y C_W). Float64 throughout; O(HW(H+W)) per transform.
 */
export class Dct2 {
  private readonly ch: Float64Array;
  private readonly cw: Float64Array;
  private readonly tmp: Float64Array;

  constructor(readonly height: number, readonly width: number) {
    this.ch = dctMatrix(height);
    this.cw = height === width ? this.ch : dctMatrix(width);
    this.tmp = new Float64Array(height * width);
  }

  /** Y = C_H X C_W^T for one plane starting at `offset` of x. */
  forward(x: ArrayLike<number>, out: Float64Array = new Float64Array(this.height * this.width), offset = 0): Float64Array {
    const H = this.height, W = this.width, C = this.ch, D = this.cw, t = this.tmp;
    for (let k = 0; k < H; k++) {
      for (let j = 0; j < W; j++) t[k * W + j] = 0;
      for (let i = 0; i < H; i++) {
        const c = C[k * H + i];
        if (c === 0) continue;
        const row = offset + i * W;
        for (let j = 0; j < W; j++) t[k * W + j] += c * x[row + j];
      }
    }
    for (let k = 0; k < H; k++) {
      for (let l = 0; l < W; l++) {
        let s = 0;
        for (let j = 0; j < W; j++) s += t[k * W + j] * D[l * W + j];
        out[k * W + l] = s;
      }
    }
    return out;
  }

  /** X = C_H^T Y C_W, written to out starting at `offset`. */
  inverse(y: ArrayLike<number>, out: { [i: number]: number; length: number } = new Float64Array(this.height * this.width), offset = 0): typeof out {
    const H = this.height, W = this.width, C = this.ch, D = this.cw, t = this.tmp;
    for (let i = 0; i < H; i++) {
      for (let l = 0; l < W; l++) t[i * W + l] = 0;
      for (let k = 0; k < H; k++) {
        const c = C[k * H + i];
        for (let l = 0; l < W; l++) t[i * W + l] += c * y[k * W + l];
      }
    }
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < W; j++) {
        let s = 0;
        for (let l = 0; l < W; l++) s += t[i * W + l] * D[l * W + j];
        out[offset + i * W + j] = s;
      }
    }
    return out;
  }
}

/** c[k][j] = a_k cos(pi (2j + 1) k / 2N), a_0 = sqrt(1/N), a_k = sqrt(2/N). */
function dctMatrix(n: number): Float64Array {
  const m = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const a = k === 0 ? Math.sqrt(1 / n) : Math.sqrt(2 / n);
    for (let j = 0; j < n; j++) m[k * n + j] = a * Math.cos((Math.PI * (2 * j + 1) * k) / (2 * n));
  }
  return m;
}
