/**
 * ONNX Runtime sessions for the family adapters. A SessionPool per loaded model creates each
 * graph's session on first use and reuses it afterwards; the execution provider is the CPU unless
 * `device: 'cuda'` is asked for, which must work or fail with a ModelError saying why (no silent
 * fallback to the CPU).
 *
 * Feeds are plain numbers typed by the graph: a float input of an fp16 graph gets float16 bits,
 * integer inputs become int32 or int64 as declared, float32 data goes in without a copy; float
 * outputs always come back as Float32Array.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { ModelError } from '../errors.js';
import { floatsToHalf, halfToFloats } from './fp16.js';

export type Device = 'cpu' | 'cuda';

export interface SessionOptions {
  readonly device?: Device;
  /** CUDA device ordinal (default 0). */
  readonly deviceId?: number;
  /** Threads per session on the CPU (default: ONNX Runtime's choice). */
  readonly threads?: number;
}

export interface FloatTensor {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

export interface Feed {
  readonly data: ArrayLike<number>;
  readonly dims: readonly number[];
}

export interface ValueInfo {
  readonly name: string;
  readonly type: string;
  /** Declared dims: numbers where fixed, names (or '') where symbolic. */
  readonly shape: readonly (number | string)[];
}

type Ort = typeof import('onnxruntime-node');
let ortModule: Promise<Ort> | undefined;

/** onnxruntime-node is loaded on first use, so the embedded model never pays for it. */
function ort(): Promise<Ort> {
  ortModule ??= import('onnxruntime-node').catch((e: unknown) => {
    throw new ModelError('runtime', `cannot load onnxruntime-node: ${(e as Error).message}`, { cause: e });
  });
  return ortModule;
}

/** Why the CUDA execution provider cannot work here, or undefined if it may. */
export async function cudaUnavailableReason(): Promise<string | undefined> {
  const o = await ort();
  const listed = (o as unknown as { listSupportedBackends?: () => { name: string }[] }).listSupportedBackends?.();
  if (listed && !listed.some((b) => b.name === 'cuda')) return 'this onnxruntime-node build has no CUDA execution provider';
  if (process.platform !== 'linux') return undefined;
  let dir: string;
  try {
    dir = join(dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    return undefined;
  }
  const lib = join(dir, 'libonnxruntime_providers_cuda.so');
  if (!existsSync(lib)) {
    return `the CUDA execution provider library is not installed (${lib}); reinstall onnxruntime-node with its CUDA install script ` +
      '(ONNXRUNTIME_NODE_INSTALL_CUDA=v12 npm rebuild onnxruntime-node), with the CUDA 12 and cuDNN 9 libraries on the library path';
  }
  return undefined;
}

export class OnnxSession {
  readonly inputs: ReadonlyMap<string, ValueInfo>;
  readonly outputs: ReadonlyMap<string, ValueInfo>;

  constructor(private readonly o: Ort, private readonly session: InferenceSession, readonly path: string) {
    const meta = (list: readonly InferenceSession.ValueMetadata[]) => new Map(list.map((m) => [m.name, {
      name: m.name, type: m.isTensor ? m.type : 'non-tensor', shape: m.isTensor ? m.shape : [],
    }]));
    this.inputs = meta(session.inputMetadata);
    this.outputs = meta(session.outputMetadata);
  }

  /** A new session for a graph file on the CPU, or on the GPU with device 'cuda'. */
  static async create(path: string, options: SessionOptions = {}): Promise<OnnxSession> {
    const o = await ort();
    const device = options.device ?? 'cpu';
    const opts: InferenceSession.SessionOptions = {
      graphOptimizationLevel: 'all',
      ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
      executionProviders: ['cpu'],
    };
    if (device === 'cuda') {
      const why = await cudaUnavailableReason();
      if (why) throw new ModelError('runtime', `device cuda: ${why}`);
      opts.executionProviders = [{ name: 'cuda', deviceId: options.deviceId ?? 0 } as InferenceSession.ExecutionProviderConfig];
    }
    try {
      return new OnnxSession(o, await o.InferenceSession.create(path, opts), path);
    } catch (e) {
      const hint = device === 'cuda' ? ' (the CUDA execution provider failed to start: check the CUDA 12 / cuDNN 9 libraries and the GPU)' : '';
      throw new ModelError('runtime', `cannot create an ONNX Runtime session for ${path}${hint}: ${(e as Error).message}`, { cause: e });
    }
  }

  input(name: string): ValueInfo {
    const v = this.inputs.get(name);
    if (!v) throw new ModelError('family', `${this.path}: the graph has no input '${name}' (it takes ${[...this.inputs.keys()].join(', ')})`);
    return v;
  }

  private tensor(info: ValueInfo, f: Feed): Tensor {
    switch (info.type) {
      case 'float32':
        return new this.o.Tensor('float32', f.data instanceof Float32Array ? f.data : Float32Array.from(f.data), f.dims);
      case 'float16':
        return new this.o.Tensor('float16', floatsToHalf(f.data), f.dims);
      case 'float64':
        return new this.o.Tensor('float64', Float64Array.from(f.data), f.dims);
      case 'int32':
        return new this.o.Tensor('int32', Int32Array.from(f.data, Math.round), f.dims);
      case 'int64': {
        const out = new BigInt64Array(f.data.length);
        for (let i = 0; i < f.data.length; i++) out[i] = BigInt(Math.round(f.data[i]));
        return new this.o.Tensor('int64', out, f.dims);
      }
      default:
        throw new ModelError('family', `${this.path}: input '${info.name}' has unsupported type ${info.type}`);
    }
  }

  /** Runs the graph; float outputs come back as Float32Array (others are skipped). */
  async run(feeds: Record<string, Feed>, outputs?: readonly string[]): Promise<Record<string, FloatTensor>> {
    const inputs: Record<string, Tensor> = {};
    for (const [name, f] of Object.entries(feeds)) inputs[name] = this.tensor(this.input(name), f);
    let r: Record<string, Tensor>;
    try {
      r = outputs ? await this.session.run(inputs, outputs) : await this.session.run(inputs);
    } catch (e) {
      throw new ModelError('runtime', `${this.path}: inference failed: ${(e as Error).message}`, { cause: e });
    }
    const out: Record<string, FloatTensor> = {};
    for (const [name, t] of Object.entries(r)) {
      const dims = t.dims;
      if (t.type === 'float32') out[name] = { data: t.data as Float32Array, dims };
      else if (t.type === 'float16') out[name] = { data: halfToFloats(t.data as Uint16Array), dims };
      else if (t.type === 'float64') out[name] = { data: Float32Array.from(t.data as Float64Array), dims };
      else continue;
      this.checkFinite(name, out[name].data, t.type);
    }
    return out;
  }

  /**
   * A NaN or Infinity from a graph would silently poison the chain or the image, so it is an
   * error naming the graph and output. In float16 graphs the usual cause is overflow (the SDXL
   * VAE's activations exceed float16's range).
   */
  private checkFinite(name: string, data: Float32Array, type: string): void {
    let bad = 0;
    for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) bad++;
    if (bad === 0) return;
    const fp16 = type === 'float16' || [...this.inputs.values()].some((v) => v.type === 'float16');
    const hint = fp16
      ? ': the graph runs in float16 and overflowed (the SDXL VAE does); export this graph in float32 (a bundle may mix an fp16 UNet with an fp32 VAE) or use a VAE fine-tuned for float16 such as sdxl-vae-fp16-fix'
      : '';
    throw new ModelError('non-finite', `${this.path}: output '${name}' has ${bad} of ${data.length} values NaN or infinite${hint}`);
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

export class SessionPool {
  private readonly sessions = new Map<string, Promise<OnnxSession>>();

  constructor(readonly options: SessionOptions = {}) {}

  get device(): Device {
    return this.options.device ?? 'cpu';
  }

  /** The session for a graph file: created on the first call, the same object afterwards. */
  get(path: string): Promise<OnnxSession> {
    let s = this.sessions.get(path);
    if (!s) {
      s = OnnxSession.create(path, this.options);
      this.sessions.set(path, s);
      s.catch(() => this.sessions.delete(path));
    }
    return s;
  }

  async close(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map(async (p) => (await p.catch(() => undefined))?.release()));
  }
}
