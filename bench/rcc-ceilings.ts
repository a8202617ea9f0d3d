/**
 * The documented instruction-issue ceilings of the RCC hot loops (native/cuda-pfr/README.md,
 * "Ceilings"): what bench:rcc divides by for its *_ceiling_fraction keys. Each holds only for the
 * hardware it was derived on; elsewhere the bench reports null unless a ceiling is given
 * (--cpu-ceiling / --cuda-ceiling, samples/s).
 */

/** AVX-512 score loop: 4.8 instructions per sample, ~2 zmm per cycle on Zen 4 at ~3.6 GHz. */
export const AVX512_ZEN4_PER_CORE = 1.5e9;
/** rcc_score_t16: ~60 lane-instructions per sample; 132 SMs x 4 x 32 lanes at 1.98 GHz (GH100). */
export const GH100_CUDA = 5.6e11;

export function cpuCeiling(simd: string | null, threads: number | null, given?: number): number | null {
  if (given !== undefined) return given;
  return simd === 'avx512' && threads ? AVX512_ZEN4_PER_CORE * threads : null;
}

/** H100 and H200 are both GH100 with 132 SMs at 1.98 GHz. */
export function cudaCeiling(device: string | null, given?: number): number | null {
  if (given !== undefined) return given;
  return device && /\bH(100|200)\b/.test(device) ? GH100_CUDA : null;
}
