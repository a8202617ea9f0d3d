/**
 * Loader of the native RCC addon (native/cuda-pfr, docs/rcc.md §9). The addon is optional: when it
 * is missing (no compiler at install time, unsupported platform) `loadAddon()` says why and the
 * codec falls back to the TypeScript reference.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export type SimdLevel = 'scalar' | 'avx2' | 'avx512';

export interface NativeInfo {
  /** SIMD levels this CPU and build can run, lowest first. */
  readonly simd: SimdLevel[];
  readonly best: SimdLevel;
  /** Worker threads used by default (CPUs in the process's affinity mask). */
  readonly threads: number;
}

export interface CudaInfo {
  readonly available: boolean;
  readonly device: string;
  /** Why CUDA is unavailable (empty when available). */
  readonly error: string;
  /** How the kernels were loaded: "ptx" (embedded, built by nvcc) or "nvrtc …". */
  readonly jit: string;
  readonly computeCapability: string;
  readonly sms: number;
}

export interface NativeCallOptions {
  backend?: 'cpu' | 'cuda';
  simd?: SimdLevel | 'auto';
  /** CPU worker threads; 0 or absent = all. */
  threads?: number;
  /** CUDA threads per candidate (4 or 16); 0 or absent = automatic. */
  tpc?: number;
}

/** The addon's exports (native/cuda-pfr/src/addon.cpp). */
export interface RccAddon {
  readonly abiVersion: number;
  info(): NativeInfo;
  cudaInfo(): CudaInfo;
  /**
   * meta: 8 words per chunk (seedLo, seedHi, step, chunk, k, n, bits(a), bits(b)) with (a, b) the
   * float32 target shape of docs/rcc.md §6; d: the chunks' targets concatenated.
   */
  selectBatch(meta: Uint32Array, d: Float32Array, opts?: NativeCallOptions): Promise<{ index: Uint32Array; score: Float32Array }>;
  candidate(seedLo: number, seedHi: number, step: number, chunk: number, index: number, n: number, opts?: NativeCallOptions): Float32Array;
  lnArrivalTimes(seedLo: number, seedHi: number, step: number, chunk: number, k: number, opts?: NativeCallOptions): Float32Array;
}

/** Bumped with every change of the addon's calling convention. */
export const ADDON_ABI = 2;
/** Words of `meta` per chunk in selectBatch. */
export const META_WORDS = 8;

const ADDON_REL = path.join('native', 'cuda-pfr', 'build', 'rcc_native.node');

/** Where the addon is looked for: DIFFC_RCC_ADDON, else native/cuda-pfr/build above this module. */
export function addonCandidates(): string[] {
  const out: string[] = [];
  if (process.env.DIFFC_RCC_ADDON) out.push(path.resolve(process.env.DIFFC_RCC_ADDON));
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 5; up++) {
    out.push(path.join(dir, ADDON_REL));
    dir = path.dirname(dir);
  }
  return out;
}

/** The addon's path under the package root (the nearest directory above with a package.json). */
function expectedPath(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 5 && !existsSync(path.join(dir, 'package.json')); up++) dir = path.dirname(dir);
  return path.join(dir, ADDON_REL);
}

let cached: { addon?: RccAddon; path?: string; error?: string } | undefined;

/** Loads the addon once; never throws. */
export function loadAddon(): { addon?: RccAddon; path?: string; error?: string } {
  if (cached) return cached;
  const candidates = addonCandidates();
  const file = candidates.find((p) => existsSync(p));
  if (!file) {
    cached = { error: `native RCC addon not built (run \`npm run build:native\`; expected ${expectedPath()})` };
    return cached;
  }
  try {
    const addon = createRequire(import.meta.url)(file) as RccAddon;
    if (addon.abiVersion !== ADDON_ABI) throw new Error(`addon ABI ${addon.abiVersion}, expected ${ADDON_ABI} (rebuild: npm run build:native)`);
    cached = { addon, path: file };
  } catch (e) {
    cached = { error: `native RCC addon at ${file} failed to load: ${(e as Error).message}` };
  }
  return cached;
}
