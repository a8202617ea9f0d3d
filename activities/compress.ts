/**
 * compressImage's activities: every side effect (store I/O, the model, the RCC) lives here.
 * Each is idempotent: inputs are deterministic, and progress lives in checkpoint objects under
 * `<output>.work/` (docs: the workflow in workflows/compress-image.ts), so a retried or resumed
 * activity continues from the last checkpoint and produces the same bytes.
 *
 * The encode mirrors `diffc compress` (src/cli/compress.ts, compressOne) step for step, so the
 * .dfc is byte-identical to the CLI's for the same image, rate and seed.
 */
import { Context } from '@temporalio/activity';
import { loadImage } from '../src/image/io.js';
import { padToMultiple } from '../src/image/geometry.js';
import { CodingParams } from '../src/codec/chain/chunk-plan.js';
import { chainConfig, encodeCodingBlob } from '../src/codec/codec.js';
import { encodeChains, type EncodedChain } from '../src/codec/chain/run.js';
import type { EncoderCheckpoint } from '../src/codec/chain/encoder.js';
import type { StepRecord } from '../src/codec/chain/chain-config.js';
import { assemblePayload } from '../src/codec/chain/payload.js';
import { readDfc, writeDfc, type DfcHeader } from '../src/codec/format/index.js';
import type { ReconMethod } from '../src/codec/diffusion/reconstruct.js';
import { resolveBackend } from '../src/rcc-backends/index.js';
import type { RccBackend } from '../src/codec/rcc/select.js';
import { loadModel, protocolFor, resolveSchedule, type LoadedModel } from '../src/cli/model-context.js';
import { compressionSettings } from '../src/pipeline/compress-settings.js';
import { openStore, type ObjectStore } from '../src/storage/index.js';
import {
  workPrefix, type CompressImageInput, type CompressImageResult, type EncodeStepsInput, type EncodeStepsResult, type PreparedJob,
} from '../src/orchestration/types.js';

/** What loadAndEncodeLatent records next to the latent: enough to rebuild the coding setup. */
interface JobInfo {
  readonly version: 1;
  readonly image: { width: number; height: number; channels: number };
  readonly padded: { width: number; height: number };
  readonly schedule: string;
  readonly params: CodingParams;
  readonly recon: { method: ReconMethod; steps: number };
  readonly seed: { lo: number; hi: number };
  readonly stop: { maxBits?: number; steps?: number };
  readonly stepsTarget: number;
}

/** A chain checkpoint as stored: step index, records so far, the noisy latent (base64 float32). */
interface StoredCheckpoint {
  readonly step: number;
  readonly records: readonly StepRecord[];
  readonly state: string | null;
  readonly payloadBits: number;
}

const keys = (output: string) => {
  const p = workPrefix(output);
  return { job: `${p}job.json`, latent: `${p}latent.f32`, chain: `${p}chain.json` };
};

// One model and one RCC backend per worker process.
let modelP: Promise<LoadedModel> | undefined;
let backendP: Promise<RccBackend> | undefined;
const model = () => (modelP ??= loadModel(undefined));
const backend = () => (backendP ??= resolveBackend('auto'));

async function withStore<T>(url: string, f: (s: ObjectStore) => Promise<T>): Promise<T> {
  const store = openStore(url);
  try {
    return await f(store);
  } finally {
    store.close();
  }
}

const f32ToBytes = (a: Float32Array) => new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
const bytesToF32 = (b: Uint8Array) => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const parse = <T>(b: Uint8Array): T => JSON.parse(new TextDecoder().decode(b)) as T;

/** Reads the image, VAE-encodes it and writes the latent, the job info and an empty checkpoint. */
export async function loadAndEncodeLatent(job: CompressImageInput): Promise<PreparedJob> {
  const lm = await model();
  const info = lm.model.info;
  return withStore(job.store, async (store) => {
    const img = await loadImage(await store.get(job.source));
    const { image: padded } = padToMultiple(img, info.sizeMultiple);
    const schedule = resolveSchedule(lm, info.defaults.schedule);
    const [latent] = await lm.model.encode([padded]);
    const predictor = await lm.model.predictor(padded.width, padded.height);
    // Derived exactly as diffc compress derives them, so the bitstreams match.
    const { params, recon, seed, image, stop } = compressionSettings({
      info, schedule, latent: predictor.latent, width: img.width, height: img.height, seed: job.seed, bpp: job.bpp, steps: job.steps,
    });
    const stepsTarget = Math.min(schedule.timesteps.length, stop.steps ?? Infinity);
    const jobInfo: JobInfo = { version: 1, image, padded: { width: padded.width, height: padded.height }, schedule: schedule.id, params, recon, seed, stop, stepsTarget };
    const k = keys(job.output);
    await store.put(k.latent, f32ToBytes(latent));
    await store.put(k.job, json(jobInfo));
    const empty: StoredCheckpoint = { step: 0, records: [], state: null, payloadBits: 0 };
    await store.put(k.chain, json(empty));
    return { stepsTarget, width: img.width, height: img.height };
  });
}

/** The coding setup of a prepared job, rebuilt from its job info (deterministic). */
async function setup(store: ObjectStore, output: string) {
  const lm = await model();
  const k = keys(output);
  const info = parse<JobInfo>(await store.get(k.job));
  const x0 = bytesToF32(await store.get(k.latent));
  const schedule = resolveSchedule(lm, info.schedule);
  const protocol = protocolFor(lm, info.padded.width, info.padded.height, schedule, info.params);
  const predictor = await lm.model.predictor(info.padded.width, info.padded.height);
  const cfg = chainConfig({ schedule, params: info.params, protocol }, info.seed);
  return { lm, info, x0, schedule, protocol, predictor, cfg };
}

function toCheckpoint(c: StoredCheckpoint): EncoderCheckpoint {
  return { step: c.step, records: c.records, state: c.state === null ? null : bytesToF32(Buffer.from(c.state, 'base64')) };
}

function fromChain(chain: EncodedChain): StoredCheckpoint {
  return {
    step: chain.records.length, records: chain.records,
    state: chain.state ? Buffer.from(f32ToBytes(chain.state)).toString('base64') : null,
    payloadBits: chain.bitsPerStep.reduce((a, b) => a + b, 0),
  };
}

/**
 * Codes chain steps up to `to` from the last checkpoint, writing a checkpoint every
 * `checkpointEvery` steps and heartbeating each step. Stops early when the bit budget is spent.
 */
export async function encodeSteps({ job, to }: EncodeStepsInput): Promise<EncodeStepsResult> {
  return withStore(job.store, async (store) => {
    const { info, x0, predictor, cfg } = await setup(store, job.output);
    const k = keys(job.output);
    let ck = parse<StoredCheckpoint>(await store.get(k.chain));
    const target = Math.min(to, info.stepsTarget);
    const rcc = await backend();
    while (ck.step < target) {
      const stepTo = Math.min(ck.step + job.checkpointEvery, target);
      const [chain] = await encodeChains(predictor, [{ x0, cfg, resume: toCheckpoint(ck), stop: { ...info.stop, steps: stepTo } }], rcc,
        (e) => Context.current().heartbeat({ step: e.step + 1 }));
      const next = fromChain(chain);
      const budgetSpent = next.step < stepTo;
      ck = next;
      await store.put(k.chain, json(ck));
      if (budgetSpent) return { step: ck.step, done: true, payloadBits: ck.payloadBits };
    }
    return { step: ck.step, done: ck.step >= info.stepsTarget, payloadBits: ck.payloadBits };
  });
}

/** Writes the .dfc from the final checkpoint (one atomic put), then removes the checkpoints. */
export async function assembleDfc(job: CompressImageInput): Promise<CompressImageResult> {
  return withStore(job.store, async (store) => {
    const k = keys(job.output);
    if (!(await store.head(k.chain))) {
      // A retry after a completed run: the output is there and the checkpoints are gone.
      const head = await store.head(job.output);
      if (!head) throw new Error(`no checkpoint at ${k.chain} and no output at ${job.output}`);
      const bytes = await store.get(job.output);
      const { header } = readDfc(bytes);
      return { output: job.output, bytes: bytes.length, bpp: (8 * bytes.length) / (header.image.width * header.image.height), steps: header.stepsCoded };
    }
    const { info, x0, schedule, protocol, predictor } = await setup(store, job.output);
    const ck = parse<StoredCheckpoint>(await store.get(k.chain));
    const { bytes: payload } = assemblePayload(info.params, x0.length, ck.records, protocol);
    const header: DfcHeader = {
      version: 1,
      model: { id: predictor.id, hash: predictor.hash }, // as compressLatents
      image: info.image,
      latent: { ...predictor.latent },
      schedule: { id: schedule.id, hash: schedule.hash },
      seed: { lo: info.seed.lo >>> 0, hi: info.seed.hi >>> 0 },
      recon: info.recon,
      coding: encodeCodingBlob(info.params, protocol !== undefined),
      stepsCoded: ck.records.length,
    };
    const bytes = writeDfc({ header, payload });
    await store.put(job.output, bytes);
    for (const key of [k.chain, k.latent, k.job]) await store.delete(key);
    return { output: job.output, bytes: bytes.length, bpp: (8 * bytes.length) / (info.image.width * info.image.height), steps: ck.records.length };
  });
}
