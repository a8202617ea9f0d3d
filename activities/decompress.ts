/**
 * decompressImage's activities: .dfc in a store -> image in a store, through the pipeline's one
 * decode path (openDecode, src/pipeline/decompress.ts: what `diffc decompress` runs in one pass),
 * so the pixels are the CLI's. The chain is decoded in checkpointed step ranges like encoding, so
 * a lost worker costs at most one checkpoint interval of a long decode:
 *
 *   decodeSteps (gpu)        decode chain steps from the checkpoint, checkpointing every N steps / M seconds
 *   decodeFinish (gpu)       reconstruct, VAE-decode, write the image (one whole put)
 *   discardDecodeWork (io)   drop the run's work folder (after the finish, or on cancel/failure)
 *   decodeToImage (gpu)      the whole decode in one activity: kept for runs started before ranges
 *
 * The work folder (workPrefix(output, runId) in the output store) pins the .dfc by ETag: a .dfc
 * replaced mid-decode fails the run rather than mixing two files' chains.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { encodeImage } from '../src/image/io.js';
import { formatForPath } from '../src/image/formats.js';
import { decodeDfc, openDecode, type DecodeOptions, type DecodeSession, type Decoded } from '../src/pipeline/decompress.js';
import { modelSpecForFile } from '../src/pipeline/model-context.js';
import type { DecodeState } from '../src/codec/codec.js';
import { checkpointSeconds, isDraining, log, workerModel } from '../src/orchestration/runtime.js';
import { jobProgress, observeCheckpoint } from '../src/orchestration/metrics.js';
import {
  DECODE_DEFAULTS, workPrefix, type DecodeFinishInput, type DecodeStepsInput, type DecodeStepsResult, type DecompressImageInput, type DecompressImageResult,
} from '../src/orchestration/types.js';
import { isStorageError, type ObjectStore } from '../src/storage/index.js';
import { activity } from './failures.js';
import { withStore, json, f32ToBytes, bytesToF32 } from './store-io.js';
import { alive, deleteWorkFolder, thisRun, type WorkRunInfo } from './compress.js';
import { checkInput, readWork, WORK_FORMATS } from './work-format.js';

/** decode.json: the pinned .dfc, the decode's target, and the chain state reached (base64 float32). */
interface StoredDecode {
  readonly version: number;
  readonly etag: string;
  readonly stepsTarget: number;
  readonly step: number;
  readonly state: string | null;
}

const outStore = (job: DecompressImageInput) => job.outputStore ?? job.store;

function workKeys(output: string) {
  const p = workPrefix(output, thisRun().runId);
  return { prefix: p, run: `${p}run.json`, decode: `${p}decode.json` };
}

const stateOf = (d: StoredDecode): DecodeState => ({ step: d.step, state: d.state === null ? null : bytesToF32(Buffer.from(d.state, 'base64')) });

/** The pinned .dfc and its decode session, and the checkpoint (a new one, pinned now, on the first range). */
async function openWork(store: ObjectStore, job: DecompressImageInput): Promise<{ session: DecodeSession; ck: StoredDecode; key: string }> {
  const k = workKeys(job.output);
  const existing = await store.head(k.decode);
  let ck: StoredDecode | undefined = existing ? readWork<StoredDecode>('decode', await store.get(k.decode), k.decode) : undefined;
  let bytes: Uint8Array;
  try {
    bytes = await withStore(job.store, async (s) => {
      if (ck) return s.get(job.source, { ifMatch: ck.etag });
      const head = await s.head(job.source);
      if (!head?.etag) throw ApplicationFailure.nonRetryable(`${job.source}: no such .dfc in ${job.store} (or the store gives no ETag to pin it by)`, 'StorageError:not-found');
      ck = { version: WORK_FORMATS.decode, etag: head.etag, stepsTarget: -1, step: 0, state: null };
      return s.get(job.source, { ifMatch: head.etag });
    });
  } catch (e) {
    if (isStorageError(e, 'changed') || isStorageError(e, 'not-found')) {
      throw ApplicationFailure.nonRetryable(`${job.source} was replaced or removed while it was being decoded: decode it again`, 'SourceChanged');
    }
    throw e;
  }
  const lm = await workerModel(await modelSpecForFile(job.model, bytes));
  const session = await openDecode(lm, bytes, decodeOptions(job));
  if (!existing) {
    const { workflowId, runId } = thisRun();
    const run: WorkRunInfo = { version: 1, workflowId, runId, outputStore: store.url, output: job.output, createdAt: new Date().toISOString() };
    await store.put(k.run, json(run));
    ck = { ...ck!, stepsTarget: session.stepsTarget };
    await store.put(k.decode, json(ck));
  }
  if (ck!.stepsTarget !== session.stepsTarget) throw ApplicationFailure.nonRetryable(`${k.decode}: target ${ck!.stepsTarget} steps, the file gives ${session.stepsTarget}`, 'CorruptWork');
  return { session, ck: ck!, key: k.decode };
}

/**
 * Decodes chain steps up to `to` from the checkpoint, heartbeating from a timer for its whole
 * life, checkpointing every `checkpointEvery` steps or `checkpointSeconds`; hands back early on
 * a drain, stops on a cancel (as encodeSteps).
 */
export async function decodeSteps(input: DecodeStepsInput): Promise<DecodeStepsResult> {
  const { job, to } = input;
  let beatStep: number | null = null;
  return activity(() => withStore(outStore(job), (store) => alive(() => ({ step: beatStep }), async (beats) => {
    checkInput(input, 'decodeSteps');
    const ctx = Context.current();
    const every = job.checkpointEvery ?? DECODE_DEFAULTS.checkpointEvery;
    const seconds = checkpointSeconds(job.checkpointSeconds ?? DECODE_DEFAULTS.checkpointSeconds);
    const { session, ck: first, key } = await openWork(store, job);
    let ck = first;
    let at = stateOf(ck);
    beatStep = at.step;
    const target = Math.min(to, session.stepsTarget);
    log('info', 'decode-steps', { output: job.output, from: at.step, to: target, attempt: ctx.info.attempt });
    const t0 = Date.now();
    let coded = 0;
    const ref = { model: job.model };
    jobProgress(ref, at.step, session.stepsTarget);
    while (at.step < target) {
      const deadline = Date.now() + seconds * 1000;
      const before = at.step;
      let calls = 0;
      at = await session.steps(at, {
        to: Math.min(at.step + every, target),
        // Asked before each step: `calls` steps of this sub-range are done. The deadline pauses
        // only after a step, so a tiny checkpoint interval still moves the chain.
        pause: () => {
          beatStep = before + calls;
          // Progress only: the step counters and histogram count coded (encode) steps.
          if (calls > 0) jobProgress(ref, beatStep, session.stepsTarget);
          return (calls++ > 0 && Date.now() >= deadline) || isDraining() || ctx.cancellationSignal.aborted;
        },
      });
      jobProgress(ref, at.step, session.stepsTarget);
      coded += at.step - before;
      beatStep = at.step;
      ctx.heartbeat({ step: at.step });
      if (at.step > before) {
        ck = { ...ck, step: at.step, state: at.state ? Buffer.from(f32ToBytes(at.state)).toString('base64') : null };
        const t = performance.now();
        await store.put(key, json(ck));
        observeCheckpoint(ref, (performance.now() - t) / 1000);
        log('info', 'decode-checkpoint', { output: job.output, step: at.step });
      }
      if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
      if (isDraining()) {
        log('info', 'drain-handoff', { output: job.output, step: at.step });
        break;
      }
    }
    const { header } = session;
    return {
      step: at.step, stepsTarget: session.stepsTarget, done: at.step >= session.stepsTarget, reconSteps: header.recon.steps,
      width: header.image.width, height: header.image.height,
      ...(coded > 0 ? { stepSeconds: (Date.now() - t0) / 1000 / coded } : {}), stallSeconds: beats.stallSeconds(),
    };
  })));
}

/** Reconstructs and VAE-decodes the decoded chain and writes the image in one put (a retry writes the same bytes). */
export async function decodeFinish(input: DecodeFinishInput): Promise<DecompressImageResult> {
  const { job } = input;
  return activity(() => withStore(outStore(job), (store) => alive({ phase: 'finish' }, async () => {
    checkInput(input, 'decodeFinish');
    log('info', 'decode-finish', { output: job.output, attempt: Context.current().info.attempt });
    const { session, ck } = await openWork(store, job);
    return putImage(store, job.output, await session.finish(stateOf(ck)));
  })));
}

/** The decoded image written to `output` in one put, in the format its name gives. */
async function putImage(store: ObjectStore, output: string, dec: Decoded): Promise<DecompressImageResult> {
  const out = await encodeImage(dec.image, formatForPath(output), {}, output);
  await store.put(output, out);
  return { output, bytes: out.length, width: dec.image.width, height: dec.image.height, steps: dec.steps, stepsCoded: dec.stepsCoded };
}

/** What a job asks of the decode (the prefix and the final guidance). */
const decodeOptions = (job: DecompressImageInput): DecodeOptions => ({ uptoBpp: job.uptoBpp, uptoStep: job.uptoStep, denoiseGuidance: job.denoiseGuidance });

/** The run's decode work folder goes (after the finish, or when the run is cancelled or fails). */
export async function discardDecodeWork(job: DecompressImageInput): Promise<void> {
  return activity(() => withStore(outStore(job), (store) => deleteWorkFolder(store, workKeys(job.output).prefix)));
}

/** The whole decode in one activity, as runs started before decoding in ranges schedule it. */
export async function decodeToImage(job: DecompressImageInput): Promise<DecompressImageResult> {
  return activity(async () => {
    const bytes = await withStore(job.store, (s) => s.get(job.source));
    const lm = await workerModel(await modelSpecForFile(job.model, bytes));
    const dec = await decodeDfc(lm, bytes, decodeOptions(job));
    return withStore(outStore(job), (s) => putImage(s, job.output, dec));
  });
}
