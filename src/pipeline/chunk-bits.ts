/**
 * The RCC chunk size when the model leaves it to the backend (manifest `maxChunkBits: "auto"`).
 * A step's RCC work is n * 2^B candidate-dimensions for n latent values whatever its KL (C chunks
 * of 2^k candidates over n/C values each); each chunk's index costs a few bits over its KL, so
 * small B costs rate, and large B costs time exponentially while its saving stops: past 16 bits
 * the over-subscribed chunks' truncation losses grow as fast as the index overhead shrinks
 * (docs/coding-overhead.md: at equal distortion on the analytic source, 16-bit chunks code 2.5 %
 * (0.05 bpp) to 5 % (0.2 bpp) fewer bits than 12-bit ones, 20-bit chunks none measurable at 16x
 * the work). Per backend, measured with `npm run bench:rcc` and bench:codec:
 *   ts    the TypeScript reference, ~1.6e7 samples/s: 10 (for tests and tiny images)
 *   cpu   native SIMD, ~1.9e9 samples/s on 2 cores: 14, 0.56 s per step for a 1 MP SD latent
 *         (65536 values), below the default model's own step there; 16 would be 2.3 s a step
 *         for 0.6-5 % of rate
 *   cuda  16: 4.3e9 samples a step at 1 MP, ~13 ms at the H100's 3.3e11 samples/s (harness);
 *         20 would take ~0.2 s a step, more than an SDXL UNet call, for no measured saving.
 * The resolved B goes into the .dfc's coding blob, so decoders never depend on this table.
 */
export const AUTO_CHUNK_BITS = { ts: 10, cpu: 14, cuda: 16 } as const;

/** B for a model's setting on a backend (its name: 'ts', 'cpu', 'cpu-avx2', 'cuda'; unknown: cpu's). */
export function chunkBitsFor(setting: number | 'auto', backend?: string): number {
  if (setting !== 'auto') return setting;
  const kind = backend?.split(/[- ]/)[0];
  return kind === 'ts' || kind === 'cuda' ? AUTO_CHUNK_BITS[kind] : AUTO_CHUNK_BITS.cpu;
}
