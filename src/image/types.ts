/** An RGB image in memory: HWC interleaved, sRGB-encoded values in [0, 1]. */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly data: Float32Array;
  /** Bit depth of the source (8 or 16); outputs default to it. */
  readonly bitDepth: 8 | 16;
}
