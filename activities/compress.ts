/**
 * compressImage's activities: every side effect (store I/O, the model, the RCC) lives here.
 * Each is idempotent: inputs are deterministic, and progress lives in objects under this run's
 * own work folder (workPrefix(output, runId), under _diffc-work/ in the output store), so a
 * retried or resumed activity continues from the last checkpoint and produces the same bytes,
 * and two runs for one output never read each other's work.
 *
 *   prepareSource (io)   pin the source version; check its header; skip check (no model, no pixels)
 *   encodeLatent (gpu)   read the pinned source, decode, pad, VAE-encode; latent, job info, checkpoint
 *   encodeSteps (gpu)    code steps from the checkpoint (encodeRange), checkpointing every N steps / M seconds
 *   assembleDfc (gpu)    write the .dfc (finishEncode; with targetQuality its shortest prefix reaching
 *                        it) in one conditional put, then drop the work objects
 * Every gpu activity heartbeats from a timer for its whole life, model load included.
 *   discardWork (io)     cancelled, failed or superseded runs: drop the work objects, never the output
 *
 * The encode is the codec's resumable one (encodeRange/finishEncode, the same functions
 * compressLatents runs in one pass for `diffc compress`), so the .dfc is byte-identical to the
 * CLI's for the same image, rate and seed.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { decodeImage, readImageHeader, type ImageHeader } from '../src/image/io.js';
import { CodingParams } from '../src/codec/chain/chunk-plan.js';
import { ENCODE_START, encodeRange, finishEncode, type CompressJob, type CompressSettings, type EncodeState } from '../src/codec/codec.js';
import type { StepRecord } from '../src/codec/chain/chain-config.js';
import { assemblePayload } from '../src/codec/chain/payload.js';
import { readDfc, type DfcConditioning, type DfcHeader } from '../src/codec/format/index.js';
import type { ReconMethod } from '../src/codec/diffusion/reconstruct.js';
import { protocolFor, resolveSchedule } from '../src/pipeline/model-context.js';
import { codingScheduleId } from '../src/pipeline/presets.js';
import { compressionSettings } from '../src/pipeline/compress-settings.js';
import { imageLatent } from '../src/pipeline/image-latent.js';
import { filePrefixDecoder } from '../src/pipeline/decode-prefix.js';
import { rateCapBpp, requireQualityTool, shortestPrefixFile, type QualityReport, type QualityTarget } from '../src/pipeline/target-quality.js';
import { keepAlive, type KeepAlive } from './keep-alive.js';
import { checkInput, readWork, WORK_FORMATS } from './work-format.js';
import { isStorageError, normaliseEtag, StorageError, type GetOptions, type ObjectStore } from '../src/storage/index.js';
import { checkpointSeconds, isDraining, log, workerBackend, workerModel } from '../src/orchestration/runtime.js';
import { jobProgress, observeCheckpoint, observeStep } from '../src/orchestration/metrics.js';
import {
  workPrefix, type CompressImageInput, type CompressImageResult, type EncodeStepsInput, type EncodeStepsResult,
  type PinnedJob, type PreparedJob, type PreparedSource, type SourceVersion, type Superseded,
} from '../src/orchestration/types.js';
import { activity } from './failures.js';
import { judgeOutput, outputMetadata, qualityReport, readOutputFacts, type OutputFacts } from './existing-output.js';
import { sameSource, versionOf } from '../src/orchestration/source-version.js';
import { withStore, json, f32ToBytes, bytesToF32 } from './store-io.js';

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
  /** The prompt and guidance the chain runs with and the header records. No conditioning: a work
   *  folder of a run started before the header held guidance, whose chain ran on the predictor bound
   *  to no guidance; its .dfc is written without the field, which decodes with those same values. */
  readonly prompt?: string;
  readonly conditioning?: DfcConditioning;
  /** A conditional model's coded condition (base64), made once from the pixels: later activities decode it. */
  readonly condition?: string;
}

/** A chain checkpoint as stored: step index, records so far, the noisy latent (base64 float32). */
interface StoredCheckpoint {
  /** Absent in checkpoints written before formats were versioned: 1. */
  readonly version?: number;
  readonly step: number;
  readonly records: readonly StepRecord[];
  readonly state: string | null;
  readonly payloadBits: number;
  /** The chain is over under its stop rule (absent: judged from the step count, as before). */
  readonly complete?: boolean;
}

/** run.json in every work folder: who owns it, so `diffc work gc` can ask Temporal whether that run is closed. */
export interface WorkRunInfo {
  readonly version: 1;
  readonly workflowId: string;
  readonly runId: string;
  readonly outputStore: string;
  readonly output: string;
  readonly createdAt: string;
}

/** The workflow run this activity was scheduled by. */
export function thisRun(): { workflowId: string; runId: string } {
  const run = Context.current().info.workflowExecution;
  if (!run) throw new Error('work-folder activities run only inside a workflow run (they keep their work per run)');
  return run;
}

/** The work folder of the run this activity belongs to (a continue-as-new run gets a new one). */
function workKeys(output: string) {
  const p = workPrefix(output, thisRun().runId);
  return { prefix: p, run: `${p}run.json`, job: `${p}job.json`, latent: `${p}latent.f32`, chain: `${p}chain.json` };
}

const outStore = (job: CompressImageInput) => job.outputStore ?? job.store;

function resultFrom(output: string, bytes: number, header: DfcHeader, skipped?: boolean): CompressImageResult {
  const bpp = (8 * bytes) / (header.image.width * header.image.height);
  return { output, bytes, bpp, steps: header.stepsCoded, ...(skipped ? { skipped } : {}) };
}

function resultOf(output: string, bytes: Uint8Array): CompressImageResult {
  return resultFrom(output, bytes.length, readDfc(bytes).header);
}

/** The result of a run that wrote nothing because its source version is no longer the one to compress. */
export function supersededResult(output: string, reason: string): CompressImageResult {
  return { output, bytes: 0, bpp: 0, steps: 0, superseded: true, reason };
}

function superseded(job: CompressImageInput, reason: string): Superseded {
  log('info', 'superseded', { source: job.source, output: job.output, reason });
  return { superseded: reason };
}

/** Read options that pin a source read to one version: by version id where there is one, else by ETag. */
function pinOf(v: SourceVersion): GetOptions {
  if (v.versionId) return { versionId: v.versionId };
  return v.etag ? { ifMatch: v.etag } : {}; // the store normalises the quotes
}

/** A pinned read that found its version replaced ('changed') or gone ('not-found'). */
const lostPin = (e: unknown) => isStorageError(e, 'changed') || isStorageError(e, 'not-found');

/** The whole source at its pinned version, or the run is superseded when that version is gone or replaced (`when`: what it was read for). */
async function readPinnedSource(job: CompressImageInput, source: SourceVersion, when: string): Promise<Uint8Array | Superseded> {
  try {
    return await withStore(job.store, (s) => s.get(job.source, pinOf(source)));
  } catch (e) {
    if (lostPin(e) && (source.etag || source.versionId)) return superseded(job, `${job.source} changed ${when} (${(e as Error).message})`);
    throw e;
  }
}

/**
 * The version of the source this run compresses. With a version id: that version (a newer one
 * may exist; its own event supersedes this run). With only an ETag (unversioned buckets): the
 * current object, which must be that ETag, else the run is superseded (a newer write exists, and
 * its event brings its own run). With neither: whatever is current now.
 */
async function pinSource(s: ObjectStore, job: CompressImageInput): Promise<SourceVersion | Superseded> {
  const want = job.sourceVersion;
  const sequencer = want?.sequencer ? { sequencer: want.sequencer } : {};
  if (want?.versionId) return { versionId: want.versionId, ...(want.etag ? { etag: normaliseEtag(want.etag) } : {}), ...sequencer };
  const head = await s.head(job.source);
  if (!head) {
    if (want) return superseded(job, `${job.source} no longer exists`);
    throw new StorageError('not-found', `${job.source}: no such object in ${job.store}`);
  }
  if (want?.etag && normaliseEtag(want.etag) !== head.etag) return superseded(job, `${job.source} was replaced (ETag ${head.etag ?? 'none'}, this run is for ${normaliseEtag(want.etag)})`);
  return { ...versionOf(head), ...sequencer };
}

/** Enough of a PNG or JPEG for its header (IHDR; the SOF after the APPn segments), read first. */
const HEADER_PROBE_BYTES = 64 * 1024;
const PREFIX_FORMATS = new Set(['png', 'jpeg']);

/**
 * The source's header checks (type, size vs maxPixels, sample type: the ImageErrors decodeImage
 * gives), from a ranged read of its first bytes where that suffices, else from the whole file,
 * undecoded: an io worker never holds more than the encoded file, and no pixels.
 */
async function sourceHeader(s: ObjectStore, job: CompressImageInput, pin: SourceVersion): Promise<ImageHeader> {
  const opts = pinOf(pin);
  const prefix = await s.getRange(job.source, 0, HEADER_PROBE_BYTES, opts);
  if (prefix.length < HEADER_PROBE_BYTES) return readImageHeader(prefix, { maxPixels: job.maxPixels }, job.source);
  try {
    const h = await readImageHeader(prefix, { maxPixels: job.maxPixels }, job.source);
    if (PREFIX_FORMATS.has(h.format)) return h;
  } catch {
    // A header past the prefix (WebP, TIFF, AVIF, GIF, or a JPEG with large APPn segments): read it all.
  }
  return readImageHeader(await s.get(job.source, opts), { maxPixels: job.maxPixels }, job.source);
}

/** readOutputFacts, again when the output is replaced between its HEAD and its header read. */
async function outputFacts(store: ObjectStore, key: string): Promise<OutputFacts | { invalid: string; etag?: string } | null> {
  for (let i = 0; ; i++) {
    try {
      return await readOutputFacts(store, key);
    } catch (e) {
      if (!isStorageError(e, 'changed') || i >= 3) throw e;
    }
  }
}

function needEtag(key: string, facts: { etag?: string }): string {
  // Both stores give ETags; without one the final put could not be made conditional.
  if (!facts.etag) throw new StorageError('invalid', `${key}: the store gives no ETag, so the output cannot be replaced conditionally`);
  return facts.etag;
}

/**
 * Pins the source version, checks its header, and skips a matching output, with no model and no
 * pixels (io workers mount no model cache and must stay small). `job.modelHash` must be resolved.
 * The output's ETag seen here is the final put's condition: a write by anyone else in between is
 * noticed there.
 */
export async function prepareSource(job: CompressImageInput): Promise<PreparedSource> {
  return activity(async () => {
    const { modelHash } = job;
    if (!modelHash) throw ApplicationFailure.nonRetryable('prepareSource: job.modelHash is not resolved (the workflow resolves it first)', 'InvalidInput');
    const src = await withStore(job.store, async (s) => {
      const pin = await pinSource(s, job);
      if ('superseded' in pin) return pin;
      try {
        return { pin, header: await sourceHeader(s, job, pin) };
      } catch (e) {
        if (lostPin(e) && (pin.etag || pin.versionId)) return superseded(job, `${job.source} changed while its header was read (${(e as Error).message})`);
        throw e;
      }
    });
    if ('superseded' in src) return src;
    const { pin, header } = src;
    return withStore(outStore(job), async (store) => {
      const facts = await outputFacts(store, job.output);
      if (facts && job.skipExisting) {
        // Judged against the pinned version whenever the output records one, so a source changed
        // in place is redone; an output that records none is judged as before (model, seed, size, rate).
        const recorded = !('invalid' in facts) && facts.source !== undefined;
        const named = job.sourceVersion?.etag !== undefined || job.sourceVersion?.versionId !== undefined;
        const verdict = judgeOutput(facts, { ...job, modelHash, sourceVersion: recorded || named ? pin : undefined }, header);
        if ('skipped' in verdict) {
          log('info', 'skip-existing', { output: job.output });
          return { skipped: verdict.skipped };
        }
        log('info', 'redo-existing', { output: job.output, reason: verdict.redo });
      }
      const outputEtag = facts ? needEtag(job.output, facts) : null;
      const { workflowId, runId } = thisRun();
      const run: WorkRunInfo = { version: 1, workflowId, runId, outputStore: store.url, output: job.output, createdAt: new Date().toISOString() };
      await store.put(workKeys(job.output).run, json(run));
      return { width: header.width, height: header.height, source: pin, outputEtag };
    });
  });
}

/**
 * Reads the pinned source (the whole file, here on the gpu worker where the pixels are needed),
 * decodes and pads it, VAE-encodes it, and writes the latent, the job info and an empty
 * checkpoint, heartbeating from a timer throughout (a cold worker loads the model first). A
 * source whose pinned version is gone or replaced supersedes the run.
 */
export async function encodeLatent(input: PinnedJob): Promise<PreparedJob> {
  const { job, source } = input;
  return activity(() => alive({ phase: 'latent' }, async (beats) => {
    checkInput(input, 'encodeLatent');
    log('info', 'encode-latent', { output: job.output, attempt: Context.current().info.attempt });
    requireQualityTool(job.targetQuality); // before the model and the encode, not at the end

    const t0 = Date.now();
    const lm = await workerModel(job.model);
    const info = lm.model.info;
    let bytes: Uint8Array | Superseded | null = await readPinnedSource(job, source, 'before it was read');
    if ('superseded' in bytes) return bytes;
    const encoded = imageLatent(lm, decodeImage(bytes, { maxPixels: job.maxPixels }, job.source));
    bytes = null; // the file's bytes go as soon as sharp has them: only the latent is kept
    const { latent, image: img, padded, condition } = await encoded;
    return withStore(outStore(job), async (store) => {
      const k = workKeys(job.output);
      const schedule = resolveSchedule(lm, codingScheduleId(info, job.preset));
      // Derived exactly as diffc compress derives them, so the bitstreams match.
      const { params, recon, conditioning, prompt, seed, image, stop } = compressionSettings({
        info, schedule, latent: lm.model.latentShape(padded.width, padded.height), width: img.width, height: img.height, seed: job.seed,
        condition: condition?.bytes, bpp: rateCapBpp(job, job.targetQuality), targetQuality: job.targetQuality, steps: job.steps, chunkBits: job.chunkBits, backend: (await workerBackend()).name, preset: job.preset, prompt: job.prompt, guidance: job.guidance, denoiseGuidance: job.denoiseGuidance,
      });
      const stepsTarget = Math.min(schedule.timesteps.length, stop.steps ?? Infinity);
      const jobInfo: JobInfo = {
        version: WORK_FORMATS.job, image, padded: { width: padded.width, height: padded.height }, schedule: schedule.id, params, recon, seed, stop, stepsTarget,
        ...(prompt !== undefined ? { prompt } : {}), conditioning,
        ...(condition ? { condition: Buffer.from(condition.bytes).toString('base64') } : {}),
      };
      await store.put(k.latent, f32ToBytes(latent));
      await store.put(k.job, json(jobInfo));
      await store.put(k.chain, json(storedCheckpoint(ENCODE_START, 0)));
      return { stepsTarget, width: img.width, height: img.height, seconds: (Date.now() - t0) / 1000, stallSeconds: beats.stallSeconds() };
    });
  }));
}

/**
 * Runs f with timer heartbeats of `details()` for its whole life (model load included), and the
 * stall measurement the workflow sizes heartbeat timeouts from.
 */
export async function alive<T>(details: unknown | (() => unknown), f: (beats: KeepAlive) => Promise<T>): Promise<T> {
  const beats = keepAlive(Context.current(), typeof details === 'function' ? (details as () => unknown) : () => details);
  try {
    return await f(beats);
  } finally {
    beats.stop();
  }
}

/** The coding setup of a prepared job, rebuilt from its job info (deterministic). */
async function setup(store: ObjectStore, job: CompressImageInput) {
  const lm = await workerModel(job.model);
  const k = workKeys(job.output);
  const info = readWork<JobInfo>('job', await store.get(k.job), k.job);
  const x0 = bytesToF32(await store.get(k.latent));
  const schedule = resolveSchedule(lm, info.schedule);
  const protocol = protocolFor(lm, info.padded.width, info.padded.height, schedule, info.params);
  // A conditional model's condition: decoded from the coded bytes, as its decoder will.
  const coded = info.condition !== undefined ? new Uint8Array(Buffer.from(info.condition, 'base64')) : undefined;
  const condition = coded && lm.model.condition ? await lm.model.condition.decode(coded, info.padded.width, info.padded.height) : undefined;
  // The chain's denoiser, as conditionedPredictors binds it for diffc compress (no reconstruction runs here).
  const predictor = await lm.model.predictor(info.padded.width, info.padded.height, { prompt: info.prompt, guidance: info.conditioning?.guidance, condition });
  const settings: Omit<CompressSettings, 'backend'> = { schedule, params: info.params, recon: info.recon, conditioning: info.conditioning, protocol };
  const codecJob: CompressJob = { latent: x0, image: info.image, seed: info.seed, stop: info.stop, prompt: info.prompt, ...(coded ? { condition: coded } : {}) };
  return { info, predictor, settings, codecJob };
}

function readCheckpoint(bytes: Uint8Array, key: string): EncodeState {
  const c = readWork<StoredCheckpoint>('chain', bytes, key);
  return { step: c.step, records: c.records, state: c.state === null ? null : bytesToF32(Buffer.from(c.state, 'base64')), complete: c.complete ?? false };
}

function storedCheckpoint(st: EncodeState, payloadBits: number): StoredCheckpoint {
  return {
    version: WORK_FORMATS.chain, step: st.step, records: st.records,
    state: st.state ? Buffer.from(f32ToBytes(st.state)).toString('base64') : null, payloadBits, complete: st.complete,
  };
}

/**
 * Codes chain steps up to `to` from the last checkpoint, heartbeating from a timer for its whole
 * life (model load, setup, long RCC steps) and with each step, and writing a checkpoint every
 * `checkpointEvery` steps or `checkpointSeconds`, whichever comes first. Stops early, after a
 * checkpoint, when the bit budget is spent, when the worker drains (SIGTERM: the workflow
 * schedules the rest, picked up by another worker) or when the activity is cancelled.
 */
export async function encodeSteps(input: EncodeStepsInput): Promise<EncodeStepsResult> {
  const { job, to } = input;
  let beatStep: number | null = null;
  return activity(() => withStore(outStore(job), (store) => alive(() => ({ step: beatStep }), async (beats) => {
    checkInput(input, 'encodeSteps');
    const ctx = Context.current();
    const { info, predictor, settings, codecJob } = await setup(store, job);
    const k = workKeys(job.output);
    let ck = readCheckpoint(await store.get(k.chain), k.chain);
    beatStep = ck.step;
    const target = Math.min(to, info.stepsTarget);
    const backend = await workerBackend();
    const timing = stepTiming();
    const ref = { model: job.model };
    jobProgress(ref, ck.step, info.stepsTarget);
    let lastStepAt = performance.now();
    log('info', 'encode-steps', { output: job.output, from: ck.step, to: target, attempt: ctx.info.attempt });
    while (ck.step < target && !ck.complete) {
      const deadline = Date.now() + checkpointSeconds(job.checkpointSeconds) * 1000;
      let coded = 0;
      // The deadline pauses only after a step, so a tiny checkpoint interval still moves the chain.
      const pause = () => (coded > 0 && Date.now() >= deadline) || isDraining() || ctx.cancellationSignal.aborted;
      const [next] = await encodeRange(predictor, [{ ...codecJob, from: ck }], { ...settings, backend }, {
        to: Math.min(ck.step + job.checkpointEvery, target), pause,
        onStep: (e) => {
          const now = performance.now();
          observeStep(ref, (now - lastStepAt) / 1000, e.bits);
          lastStepAt = now;
          jobProgress(ref, e.step + 1, info.stepsTarget);
          coded++;
          timing.step();
          log('debug', 'step', { output: job.output, step: e.step });
          beatStep = e.step + 1;
          ctx.heartbeat({ step: beatStep });
        },
      });
      if (next.step > ck.step || next.complete !== ck.complete) {
        ck = next;
        const t = performance.now();
        await store.put(k.chain, json(storedCheckpoint(ck, payloadBitsOf(ck, settings, codecJob.latent.length))));
        observeCheckpoint(ref, (performance.now() - t) / 1000);
        lastStepAt += performance.now() - t; // the next step's time is its own, not the put's
        log('info', 'checkpoint', { output: job.output, step: ck.step });
      }
      if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
      if (isDraining()) {
        log('info', 'drain-handoff', { output: job.output, step: ck.step });
        break;
      }
    }
    const done = ck.complete || ck.step >= info.stepsTarget;
    return { step: ck.step, done, payloadBits: payloadBitsOf(ck, settings, codecJob.latent.length), ...timing.result(), stallSeconds: beats.stallSeconds() };
  })));
}

/** The payload bits of a checkpoint's steps (what the budget counts). */
function payloadBitsOf(st: EncodeState, s: Omit<CompressSettings, 'backend'>, dims: number): number {
  return assemblePayload(s.params, dims, st.records, s.protocol).bitsPerStep.reduce((a, b) => a + b, 0);
}

/** Mean seconds per step over this attempt's steps (the first one's model warm-up included). */
function stepTiming() {
  let n = 0;
  const t0 = Date.now();
  return {
    step: () => void n++,
    result: () => (n > 0 ? { stepSeconds: (Date.now() - t0) / 1000 / n } : {}),
  };
}

/**
 * Writes the .dfc from the final checkpoint in one conditional put (see putOutput), with the
 * metadata that lets a later skip check judge it from a HEAD, then removes this run's work.
 */
export async function assembleDfc(input: PinnedJob): Promise<CompressImageResult> {
  const { job, source, outputEtag } = input;
  return activity(() => withStore(outStore(job), (store) => alive({ phase: 'assemble' }, async () => {
    checkInput(input, 'assembleDfc');
    const k = workKeys(job.output);
    if (!(await store.head(k.chain))) {
      // A retry after this run's put and clean-up: the output is there and the work is gone.
      const facts = await readOutputFacts(store, job.output);
      if (!facts) throw new Error(`no checkpoint at ${k.chain} and no output at ${job.output}`);
      const quality = 'quality' in facts && facts.quality ? { target_quality: qualityReport(facts.quality) } : {};
      return { ...resultOf(job.output, await store.get(job.output)), ...quality };
    }
    const { predictor, settings, codecJob } = await setup(store, job);
    const ck = readCheckpoint(await store.get(k.chain), k.chain);
    const whole = finishEncode(predictor, codecJob, settings, ck);
    let chosen: { bytes: Uint8Array; report?: QualityReport } = { bytes: whole.bytes };
    if (job.targetQuality && whole.header.stepsCoded > 0) {
      const found = await prefixMeetingTarget(job, source, job.targetQuality, whole.bytes);
      if ('superseded' in found) return supersededResult(job.output, found.superseded);
      chosen = found;
    }
    const header = chosen.bytes === whole.bytes ? whole.header : readDfc(chosen.bytes).header;
    const result = await putOutput(store, job, source, outputEtag, chosen.bytes, outputMetadata(header, source, chosen.report));
    await deleteWorkFolder(store, k.prefix);
    return chosen.report ? { ...result, target_quality: chosen.report } : result;
  })));
}

/**
 * compress --target-quality's choice, on the whole coded file: the pinned source is read again
 * (the original to score against; only the latent was kept) and prefixes are decoded as the
 * decoder will decode them. Deterministic, so a retried assemble chooses the same prefix.
 */
async function prefixMeetingTarget(
  job: CompressImageInput, source: SourceVersion, target: QualityTarget, file: Uint8Array,
): Promise<{ bytes: Uint8Array; report: QualityReport } | Superseded> {
  const bytes = await readPinnedSource(job, source, 'before its quality could be checked');
  if ('superseded' in bytes) return bytes;
  const original = await decodeImage(bytes, { maxPixels: job.maxPixels }, job.source);
  const { decode, header } = await filePrefixDecoder(await workerModel(job.model), file);
  const found = await shortestPrefixFile(target, header.stepsCoded, original, decode);
  log('info', 'target-quality', { output: job.output, ...found.report });
  return { bytes: found.bytes, report: found.report };
}

const PUT_ROUNDS = 4;

/**
 * The one write of the output: ifNoneMatch when prepareSource saw none, else ifMatch of the ETag
 * it saw, so an output that someone else wrote in between is never overwritten blind. When the
 * condition fails, the output there is judged again:
 *   - the same bytes (this activity's own earlier attempt, or an identical run): done;
 *   - this run's source version is no longer the current one: superseded, the output is kept
 *     (whoever compresses the current version owns it; an older result never replaces a newer one);
 *   - an equivalent .dfc of this same version (model, seed, size, rate): kept, reported as skipped;
 *   - else (made from an older version or another source): replaced, conditional on its ETag.
 * Every write is whole (one put), so the output is always exactly one run's file, never a mix.
 */
async function putOutput(
  store: ObjectStore, job: CompressImageInput, source: SourceVersion, outputEtag: string | null, bytes: Uint8Array, metadata: Record<string, string>,
): Promise<CompressImageResult> {
  let expect = outputEtag;
  for (let round = 0; round < PUT_ROUNDS; round++) {
    try {
      await store.put(job.output, bytes, expect === null ? { ifNoneMatch: true, metadata } : { ifMatch: expect, metadata });
      return resultOf(job.output, bytes);
    } catch (e) {
      if (!isStorageError(e, 'exists') && !isStorageError(e, 'changed')) throw e;
    }
    let facts, there: Uint8Array;
    try {
      facts = await readOutputFacts(store, job.output);
      if (!facts) {
        expect = null;
        continue;
      }
      there = await store.get(job.output, { ifMatch: needEtag(job.output, facts) });
    } catch (e) {
      if (isStorageError(e, 'changed') || isStorageError(e, 'not-found')) continue;
      throw e;
    }
    if (Buffer.compare(Buffer.from(there), Buffer.from(bytes)) === 0) return resultOf(job.output, bytes);
    const current = await withStore(job.store, (s) => s.head(job.source));
    const now = current ? versionOf(current) : undefined;
    if (!now || !sameSource(now, source)) {
      log('info', 'superseded', { output: job.output, reason: 'source replaced before the put' });
      return supersededResult(job.output, `${job.source} changed since this run read it; ${job.output}, written by another run meanwhile, is kept`);
    }
    if (!('invalid' in facts) && facts.source && sameSource(facts.source, source) && job.modelHash) {
      const verdict = judgeOutput(facts, { ...job, modelHash: job.modelHash, sourceVersion: source });
      if ('skipped' in verdict) {
        log('info', 'kept-equivalent', { output: job.output });
        return verdict.skipped;
      }
    }
    log('info', 'replace-output', { output: job.output, reason: 'written meanwhile from another source version or source' });
    expect = facts.etag!;
  }
  // Transient: the activity's retry tries again from the same checkpoint.
  throw new Error(`${job.output} changed under each of ${PUT_ROUNDS} conditional puts; retrying`);
}

/** Removes one work folder: discardWork's, and `diffc work gc`'s for runs that ended without cleaning up. */
export async function deleteWorkFolder(store: ObjectStore, prefix: string): Promise<void> {
  const left: string[] = [];
  for await (const e of store.list(prefix)) left.push(e.key);
  // run.json last: while any work object is left, a sweeper can still tell whose it is.
  left.sort((a, b) => Number(a.endsWith('/run.json')) - Number(b.endsWith('/run.json')));
  for (const key of left) await store.delete(key);
}

/** Clean-up of a cancelled, failed or superseded run: its work objects go; the output (never partial) is left as it is. */
export async function discardWork(job: CompressImageInput): Promise<void> {
  return activity(() => withStore(outStore(job), (store) => deleteWorkFolder(store, workKeys(job.output).prefix)));
}

