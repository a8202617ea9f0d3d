/**
 * compressImage's activities: every side effect (store I/O, the model, the RCC) lives here.
 * Each is idempotent: inputs are deterministic, and progress lives in objects under
 * `<output>.work/` in the output store, so a retried or resumed activity continues from the last
 * checkpoint and produces the same bytes.
 *
 *   prepareSource (io)   skip check; read + decode + pad the image; stage it as image.f32
 *   encodeLatent (gpu)   VAE-encode; write latent, job info and an empty checkpoint
 *   encodeSteps (gpu)    code steps from the checkpoint, checkpointing every N steps / M seconds
 *   assembleDfc (gpu)    write the .dfc in one atomic put, then drop the work objects
 *   discardWork (io)     cancellation: drop the work objects, never the output
 *
 * The encode mirrors `diffc compress` (src/cli/compress.ts) step for step, so the .dfc is
 * byte-identical to the CLI's for the same image, rate and seed.
 */
import { Context } from '@temporalio/activity';
import { decodeImage } from '../src/image/io.js';
import { padToMultiple } from '../src/image/geometry.js';
import type { RgbImage } from '../src/image/types.js';
import { CodingParams } from '../src/codec/chain/chunk-plan.js';
import { chainConfig, encodeCodingBlob } from '../src/codec/codec.js';
import { encodeChains, type EncodedChain } from '../src/codec/chain/run.js';
import type { EncoderCheckpoint } from '../src/codec/chain/encoder.js';
import type { StepRecord } from '../src/codec/chain/chain-config.js';
import { assemblePayload } from '../src/codec/chain/payload.js';
import { readDfc, writeDfc, type DfcHeader } from '../src/codec/format/index.js';
import type { ReconMethod } from '../src/codec/diffusion/reconstruct.js';
import { protocolFor, resolveSchedule } from '../src/pipeline/model-context.js';
import { compressionSettings } from '../src/pipeline/compress-settings.js';
import { loadBundle, resolveModel } from '../src/models/bundle.js';
import { isStorageError, type ObjectStore } from '../src/storage/index.js';
import { checkpointSeconds, isDraining, log, metrics, workerBackend, workerModel } from '../src/orchestration/runtime.js';
import {
  workPrefix, type CompressImageInput, type CompressImageResult, type EncodeStepsInput, type EncodeStepsResult,
  type PreparedJob, type PreparedSource,
} from '../src/orchestration/types.js';
import { activity } from './failures.js';
import { withStore, json, parse, f32ToBytes, bytesToF32 } from './store-io.js';

/** What encodeLatent records next to the latent: enough to rebuild the coding setup. */
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

/** The staged source: the decoded RGB's size and bit depth (pixels in image.f32). */
interface StagedImage {
  readonly width: number;
  readonly height: number;
  readonly bitDepth: 8 | 16;
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
  return { staged: `${p}image.json`, pixels: `${p}image.f32`, job: `${p}job.json`, latent: `${p}latent.f32`, chain: `${p}chain.json` };
};

const outStore = (job: CompressImageInput) => job.outputStore ?? job.store;

function resultFrom(output: string, bytes: number, header: DfcHeader, skipped?: boolean): CompressImageResult {
  const bpp = (8 * bytes) / (header.image.width * header.image.height);
  return { output, bytes, bpp, steps: header.stepsCoded, ...(skipped ? { skipped } : {}) };
}

function resultOf(output: string, bytes: Uint8Array): CompressImageResult {
  return resultFrom(output, bytes.length, readDfc(bytes).header);
}

/**
 * What is already at `job.output`: nothing (null), a .dfc this job would have written (model,
 * seed, rate, and the image size when known) as a skipped result, or the reason it must be redone.
 * One read of the object; the header is parsed once.
 */
export async function existingOutput(
  store: ObjectStore, job: Pick<CompressImageInput, 'output' | 'model' | 'seed' | 'bpp' | 'steps'>, size?: { width: number; height: number },
): Promise<{ skipped: CompressImageResult } | { redo: string } | null> {
  let bytes: Uint8Array;
  try {
    bytes = await store.get(job.output);
  } catch (e) {
    if (isStorageError(e, 'not-found')) return null;
    throw e;
  }
  let header: DfcHeader;
  try {
    header = readDfc(bytes).header;
  } catch (e) {
    return { redo: `not a valid .dfc (${(e as Error).message})` };
  }
  const bundle = await loadBundle(await resolveModel(job.model), { verify: false });
  if (Buffer.compare(Buffer.from(header.model.hash), Buffer.from(bundle.hash)) !== 0) return { redo: 'coded with another model' };
  const seed = header.seed.lo + header.seed.hi * 2 ** 32;
  if (seed !== job.seed) return { redo: `seed ${seed}, not ${job.seed}` };
  const { width, height } = header.image;
  if (size && (size.width !== width || size.height !== height)) return { redo: `image ${width}x${height}, not ${size.width}x${size.height}` };
  if (job.bpp !== undefined && (8 * bytes.length) / (width * height) > job.bpp) return { redo: 'over the bpp budget' };
  if (job.steps !== undefined && header.stepsCoded !== job.steps) return { redo: `${header.stepsCoded} steps, not ${job.steps}` };
  return { skipped: resultFrom(job.output, bytes.length, header, true) };
}

/** Reads and decodes the source (typed errors for bad images), skips a matching output, stages the pixels. */
export async function prepareSource(job: CompressImageInput): Promise<PreparedSource> {
  return activity(async () => {
    const bytes = await withStore(job.store, (s) => s.get(job.source));
    const img = await decodeImage(bytes, { maxPixels: job.maxPixels }, job.source);
    return withStore(outStore(job), async (store) => {
      const existing = job.skipExisting ? await existingOutput(store, job, img) : null;
      if (existing && 'skipped' in existing) {
        log('info', 'skip-existing', { output: job.output });
        return existing;
      }
      if (existing) log('info', 'redo-existing', { output: job.output, reason: existing.redo });
      const staged: StagedImage = { width: img.width, height: img.height, bitDepth: img.bitDepth };
      const k = keys(job.output);
      await store.put(k.pixels, f32ToBytes(img.data));
      await store.put(k.staged, json(staged));
      return { width: img.width, height: img.height };
    });
  });
}

/** VAE-encodes the staged image and writes the latent, the job info and an empty checkpoint. */
export async function encodeLatent(job: CompressImageInput): Promise<PreparedJob> {
  return activity(async () => {
    const lm = await workerModel(job.model);
    const info = lm.model.info;
    return withStore(outStore(job), async (store) => {
      const k = keys(job.output);
      const staged = parse<StagedImage>(await store.get(k.staged));
      const img: RgbImage = { width: staged.width, height: staged.height, data: bytesToF32(await store.get(k.pixels)), bitDepth: staged.bitDepth };
      const { image: padded } = padToMultiple(img, info.sizeMultiple);
      const schedule = resolveSchedule(lm, info.defaults.schedule);
      const [latent] = await lm.model.encode([padded]);
      const predictor = await lm.model.predictor(padded.width, padded.height);
      // Derived exactly as diffc compress derives them, so the bitstreams match.
      const { params, recon, seed, image, stop } = compressionSettings({
        info, schedule, latent: predictor.latent, width: staged.width, height: staged.height, seed: job.seed, bpp: job.bpp, steps: job.steps,
      });
      const stepsTarget = Math.min(schedule.timesteps.length, stop.steps ?? Infinity);
      const jobInfo: JobInfo = { version: 1, image, padded: { width: padded.width, height: padded.height }, schedule: schedule.id, params, recon, seed, stop, stepsTarget };
      await store.put(k.latent, f32ToBytes(latent));
      await store.put(k.job, json(jobInfo));
      const empty: StoredCheckpoint = { step: 0, records: [], state: null, payloadBits: 0 };
      await store.put(k.chain, json(empty));
      return { stepsTarget, width: staged.width, height: staged.height };
    });
  });
}

/** The coding setup of a prepared job, rebuilt from its job info (deterministic). */
async function setup(store: ObjectStore, job: CompressImageInput) {
  const lm = await workerModel(job.model);
  const k = keys(job.output);
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
 * Codes chain steps up to `to` from the last checkpoint, heartbeating every step and writing a
 * checkpoint every `checkpointEvery` steps or `checkpointSeconds`, whichever comes first. Stops
 * early, after a checkpoint, when the bit budget is spent, when the worker drains (SIGTERM: the
 * workflow schedules the rest, picked up by another worker) or when the activity is cancelled.
 */
export async function encodeSteps({ job, to }: EncodeStepsInput): Promise<EncodeStepsResult> {
  return activity(() => withStore(outStore(job), async (store) => {
    const ctx = Context.current();
    const { info, x0, predictor, cfg } = await setup(store, job);
    const k = keys(job.output);
    let ck = parse<StoredCheckpoint>(await store.get(k.chain));
    const target = Math.min(to, info.stepsTarget);
    const rcc = await workerBackend();
    log('info', 'encode-steps', { output: job.output, from: ck.step, to: target, attempt: ctx.info.attempt });
    while (ck.step < target) {
      const stepTo = Math.min(ck.step + job.checkpointEvery, target);
      const deadline = Date.now() + checkpointSeconds(job.checkpointSeconds) * 1000;
      let paused = false;
      const pause = () => (paused = Date.now() >= deadline || isDraining() || ctx.cancellationSignal.aborted);
      const [chain] = await encodeChains(predictor, [{ x0, cfg, resume: toCheckpoint(ck), stop: { ...info.stop, steps: stepTo, pause } }], rcc, (e) => {
        metrics.steps++;
        metrics.payloadBits += e.bits;
        log('debug', 'step', { output: job.output, step: e.step });
        ctx.heartbeat({ step: e.step + 1 });
      });
      const next = fromChain(chain);
      const budgetSpent = !paused && next.step < stepTo;
      if (next.step > ck.step) {
        ck = next;
        await store.put(k.chain, json(ck));
        metrics.checkpoints++;
        metrics.lastCheckpointAt = Date.now();
        log('info', 'checkpoint', { output: job.output, step: ck.step });
      }
      if (budgetSpent) return { step: ck.step, done: true, payloadBits: ck.payloadBits };
      if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
      if (isDraining()) {
        log('info', 'drain-handoff', { output: job.output, step: ck.step });
        break;
      }
    }
    return { step: ck.step, done: ck.step >= info.stepsTarget, payloadBits: ck.payloadBits };
  }));
}

/** Writes the .dfc from the final checkpoint (one atomic put), then removes the work objects. */
export async function assembleDfc(job: CompressImageInput): Promise<CompressImageResult> {
  return activity(() => withStore(outStore(job), async (store) => {
    const k = keys(job.output);
    if (!(await store.head(k.chain))) {
      // A retry after a completed run: the output is there and the checkpoints are gone.
      if (!(await store.head(job.output))) throw new Error(`no checkpoint at ${k.chain} and no output at ${job.output}`);
      return resultOf(job.output, await store.get(job.output));
    }
    const { info, x0, schedule, protocol, predictor } = await setup(store, job);
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
    await deleteWork(store, job.output);
    return resultOf(job.output, bytes);
  }));
}

async function deleteWork(store: ObjectStore, output: string): Promise<void> {
  const left: string[] = [];
  for await (const e of store.list(workPrefix(output))) left.push(e.key);
  for (const key of left) await store.delete(key);
}

/** Cancellation clean-up: the work objects go; the output (never partial) is left as it is. */
export async function discardWork(job: CompressImageInput): Promise<void> {
  return activity(() => withStore(outStore(job), (store) => deleteWork(store, job.output)));
}
