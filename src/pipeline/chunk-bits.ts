/**
 * The RCC chunk size when the model leaves it to the backend (manifest `maxChunkBits: "auto"`).
 * A step's RCC work is n * 2^B candidate-dimensions for n latent values whatever its KL (C chunks
 * of 2^k candidates over n/C values each), while each chunk's index overhead is about the same
 * few bits: larger chunks cost less rate (the overhead is paid over B - padding bits instead of
 * fewer) and exponentially more time. So B is the largest whose RCC time per step stays below the
 * model's own time per step on that hardware, measured with `npm run bench:rcc`:
 *   ts    the TypeScript reference, ~1.1e7 samples/s: 10 (for tests and tiny images)
 *   cpu   native SIMD, ~5e8 samples/s on 2 cores: 14, 2.1 s per step for a 1 MP SD latent
 *         (65536 values), under a CPU UNet call at that size
 *   cuda  20: 6.9e10 samples per step at 1 MP, about the UNet's own time on a datacenter GPU at
 *         ~1e11 samples/s. Not measured by the project yet (no GPU in its CI): an estimate.
 * The resolved B goes into the .dfc's coding blob, so decoders never depend on this table.
 */
export const AUTO_CHUNK_BITS = { ts: 10, cpu: 14, cuda: 20 } as const;

/** B for a model's setting on a backend (its name: 'ts', 'cpu', 'cpu-avx2', 'cuda'; unknown: cpu's). */
export function chunkBitsFor(setting: number | 'auto', backend?: string): number {
  if (setting !== 'auto') return setting;
  const kind = backend?.split(/[- ]/)[0];
  return kind === 'ts' || kind === 'cuda' ? AUTO_CHUNK_BITS[kind] : AUTO_CHUNK_BITS.cpu;
}
