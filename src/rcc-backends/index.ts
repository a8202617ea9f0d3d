/**
 * RCC backends (docs/rcc.md §9): `ts` (the reference in src/codec/rcc), `cpu` (native SIMD,
 * multi-threaded) and `cuda` (native, when a GPU and driver exist). All return identical winners
 * and scores; they differ in speed only. `resolveBackend('auto')` picks the fastest available:
 * cuda, else cpu, else ts (the measured ratios are ~300x and ~40x; native/cuda-pfr/README.md).
 */
import { tsBackend, validateRequest, type ChunkRequest, type RccBackend, type Selection } from '../codec/rcc/select.js';
import { MAX_STEP } from '../codec/rcc/philox.js';
import { loadAddon, META_WORDS, type CudaInfo, type NativeInfo, type SimdLevel } from './native.js';

export { loadAddon, type CudaInfo, type NativeInfo, type SimdLevel, type RccAddon } from './native.js';

export type BackendName = 'auto' | 'cuda' | 'cpu' | 'ts';
export const BACKEND_NAMES: readonly BackendName[] = ['auto', 'cuda', 'cpu', 'ts'];

export interface NativeBackendOptions {
  /** Force a SIMD level (tests); default DIFFC_RCC_SIMD or the best the CPU has. */
  simd?: SimdLevel | 'auto';
  /** CPU worker threads; default DIFFC_RCC_THREADS or all CPUs. */
  threads?: number;
  /** CUDA threads per candidate (4 or 16); default automatic. */
  tpc?: number;
}

export interface ResolveOptions extends NativeBackendOptions {
  log?: (msg: string) => void;
}

function isU32(x: number): boolean {
  return Number.isInteger(x) && x >= 0 && x <= 0xffffffff;
}

function checkRequest(r: ChunkRequest): void {
  validateRequest(r);
  const { key, step, chunk } = r.addr;
  if (!isU32(key.seedLo) || !isU32(key.seedHi)) throw new RangeError('stream key words must be unsigned 32-bit integers');
  if (!Number.isInteger(step) || step < 0 || step >= MAX_STEP) throw new RangeError(`step ${step} outside [0, 2^28)`);
  if (!isU32(chunk)) throw new RangeError(`chunk ${chunk} is not an unsigned 32-bit integer`);
}

function envSimd(): SimdLevel | 'auto' | undefined {
  const v = process.env.DIFFC_RCC_SIMD;
  if (v === undefined || v === '') return undefined;
  if (v === 'auto' || v === 'scalar' || v === 'avx2' || v === 'avx512') return v;
  throw new Error(`DIFFC_RCC_SIMD=${v}: expected auto, scalar, avx2 or avx512`);
}

function envThreads(): number | undefined {
  const v = process.env.DIFFC_RCC_THREADS;
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`DIFFC_RCC_THREADS=${v}: expected a non-negative integer`);
  return n;
}

/** A native backend; throws with the reason when the addon (or, for 'cuda', the GPU) is unavailable. */
export function createNativeBackend(kind: 'cpu' | 'cuda', opts: NativeBackendOptions = {}): RccBackend {
  const { addon, error } = loadAddon();
  if (!addon) throw new Error(`rcc backend '${kind}' unavailable: ${error}`);
  if (kind === 'cuda') {
    const ci = addon.cudaInfo();
    if (!ci.available) throw new Error(`rcc backend 'cuda' unavailable: ${ci.error}`);
  }
  const simd = opts.simd ?? envSimd() ?? 'auto';
  if (kind === 'cpu' && simd !== 'auto' && !addon.info().simd.includes(simd)) {
    throw new Error(`SIMD level '${simd}' is not available here (have: ${addon.info().simd.join(', ')})`);
  }
  const threads = opts.threads ?? envThreads() ?? 0;
  const tpc = opts.tpc ?? 0;
  const name = kind === 'cpu' && simd !== 'auto' ? `cpu-${simd}` : kind;
  return {
    name,
    async selectBatch(requests: readonly ChunkRequest[]): Promise<Selection[]> {
      if (requests.length === 0) return [];
      let total = 0;
      for (const r of requests) {
        checkRequest(r);
        total += r.d.length;
      }
      const meta = new Uint32Array(META_WORDS * requests.length);
      const shape = new Float32Array(meta.buffer); // words 6, 7: float32 (a, b), default (0, 1)
      const d = new Float32Array(total);
      let off = 0;
      requests.forEach((r, c) => {
        meta.set([r.addr.key.seedLo, r.addr.key.seedHi, r.addr.step, r.addr.chunk, r.k, r.d.length], META_WORDS * c);
        shape[META_WORDS * c + 6] = r.shape?.a ?? 0;
        shape[META_WORDS * c + 7] = r.shape?.b ?? 1;
        d.set(r.d, off);
        off += r.d.length;
      });
      const { index, score } = await addon.selectBatch(meta, d, { backend: kind, simd, threads, tpc });
      return Array.from(index, (i, c) => ({ index: i, score: score[c] }));
    },
  };
}

/** What is available, for verbose output and `auto`. */
export function describeBackends(): { native?: NativeInfo; cuda?: CudaInfo; addonError?: string } {
  const { addon, error } = loadAddon();
  if (!addon) return { addonError: error };
  return { native: addon.info(), cuda: addon.cudaInfo() };
}

/**
 * The backend for a name. 'auto' picks cuda, else cpu, else ts, and logs which and why; the
 * others throw when unavailable (so that asking for 'cuda' never silently runs elsewhere).
 */
export async function resolveBackend(name: BackendName, opts: ResolveOptions = {}): Promise<RccBackend> {
  const log = opts.log ?? (() => {});
  switch (name) {
    case 'ts':
      log('rcc backend: ts (TypeScript reference)');
      return tsBackend;
    case 'cpu':
    case 'cuda': {
      const b = createNativeBackend(name, opts);
      log(`rcc backend: ${describe(name, opts)}`);
      return b;
    }
    case 'auto': {
      const { native, cuda, addonError } = describeBackends();
      if (!native) {
        log(`rcc backend: ts (TypeScript reference; slow) because ${addonError}`);
        return tsBackend;
      }
      if (cuda?.available) {
        log(`rcc backend: ${describe('cuda', opts)} (auto: fastest available)`);
        return createNativeBackend('cuda', opts);
      }
      log(`rcc backend: ${describe('cpu', opts)} (auto: no CUDA: ${cuda?.error ?? 'unknown'})`);
      return createNativeBackend('cpu', opts);
    }
    default:
      throw new Error(`unknown rcc backend '${String(name)}' (expected ${BACKEND_NAMES.join(', ')})`);
  }
}

function describe(kind: 'cpu' | 'cuda', opts: NativeBackendOptions): string {
  const { native, cuda } = describeBackends();
  if (kind === 'cuda' && cuda) {
    return `cuda (${cuda.device}, sm_${cuda.computeCapability.replace('.', '')}, ${cuda.sms} SMs, kernels via ${cuda.jit})`;
  }
  if (!native) return kind;
  const simd = opts.simd ?? envSimd() ?? 'auto';
  const threads = opts.threads ?? envThreads() ?? 0;
  return `cpu (native ${simd === 'auto' ? native.best : simd}, ${threads || native.threads} threads)`;
}
