/**
 * `diffc submit`: starts compressImage (one object), bulkArchive (a prefix or a manifest) or
 * decompressImage on a Temporal cluster, prints the workflow ids, and follows progress.
 */
import { parseArgs } from 'node:util';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { PresetName } from '../pipeline/presets.js';
import { QualityTargetSpec, targetSpec } from '../pipeline/quality-target.js';
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { connectClient, startBulkArchive, startCompressImage, startDecompressImage } from '../orchestration/client.js';
import { splitObjectUrl, splitPrefixUrl } from '../orchestration/locations.js';
import { rootMessage } from '../orchestration/failure-message.js';
import { progressQuery, summaryQuery } from '../../workflows/index.js';
import { parseOrUsage, type Print } from './args.js';
import { commandFlags, SERVICE_HELP, SERVICE_OPTIONS, serviceConfig } from './service-flags.js';
import { CliError } from './errors.js';
import { Progress } from './progress.js';
import { GUIDANCE_RANGE } from '../pipeline/conditioning.js';

export const SUBMIT_HELP = `diffc submit <object-url> [options]                 compress one object
diffc submit --prefix <url/> --output-prefix <url/>  compress every image under a prefix
diffc submit --manifest <url> --output-prefix <url/> compress the objects a JSONL manifest lists
diffc submit --decompress <x.dfc url> -o <image url> decode a .dfc (optionally a prefix of it)

Locations are s3://bucket/key, file:///dir/file or local paths. Prints each workflow id on
stdout, then follows progress on stderr until the workflow ends (unless --no-wait).

  -o, --output URL          the .dfc (or, with --decompress, the image); default <object>.dfc
  --prefix URL/             bulk: every object under this prefix whose name ends in an image suffix
  --manifest URL            bulk: a JSONL file, one {"key": ..., "bpp"?, "steps"?, "targetQuality"?,
                            "seed"?} per line (a line's rate replaces the job's)
  --output-prefix URL/      bulk: outputs go to <output-prefix><key under prefix>.dfc; the job's
                            manifest (manifest.json indexing JSONL parts under manifest/) and
                            summary.json to <output-prefix>_jobs/<job-id>/
  --job-id ID               bulk: names the job (default: from the locations and settings); a
                            rerun with the same id skips what is done
  --concurrency N           bulk: compressions in flight, kept full as each finishes (default 8,
                            at most 1000)
  --objects-per-run N       bulk: children started per workflow run before continue-as-new
                            (default 500, at most 1000)
  --bpp X | --steps N       rate, as diffc compress (default: the whole chain)
  --target-quality M=V      keep the shortest prefix whose decode reaches V on metric M, as diffc
                            compress (psnr, ms-ssim, ssimulacra2, butteraugli; the last two need
                            their tools on the gpu workers); --bpp/--steps cap the chain (default
                            1 bpp); each result (and manifest line) carries target_quality
  --seed S                  shared-randomness seed (default 0)
  --model M                 model id as the workers resolve it (default $DIFFC_MODEL_ID or 'default')
  --max-pixels N            refuse larger images (default 67108864)
  --chunk-bits B            max RCC chunk bits, as diffc compress (default: the model's; fewer
                            bits cut the encoder's RCC work 2x per bit on CPU workers)
  --preset P                named coding choices, as diffc compress: default | paper
  --prompt TEXT             text conditioning, as diffc compress (bulk: for every object)
  --guidance G              the coded chain's guidance, as diffc compress (0..100; default the
                            model's: SD 1 = no CFG, Flux 3.5)
  --denoise-guidance G      the final denoising's guidance, as diffc compress (default SD 1, or 5
                            with a non-empty --prompt; Flux 3.5); with --decompress: instead of
                            the file's
  --upto-bpp X | --upto-step N   with --decompress: decode the longest prefix within X bpp / N steps
  --workflow-id ID          for a single object (default: the output's one writer id, so a
                            second compression of an output is refused while one runs)
  --no-wait                 print the ids and return
  --json                    print the result as one JSON object on stdout
  -q, --quiet               no progress

${SERVICE_HELP}

Exit codes: 0 done (a bulk job with failed objects still exits 0; see its manifest), 1 the
workflow failed, 2 usage.
`;

const Args = z.object({
  positionals: z.array(z.string()).max(1, 'give one object (use --prefix or --manifest for many)'),
  output: z.string().optional(),
  prefix: z.string().optional(),
  manifest: z.string().optional(),
  'output-prefix': z.string().optional(),
  'job-id': z.string().optional(),
  concurrency: z.coerce.number().int().min(1).optional(),
  'objects-per-run': z.coerce.number().int().min(1).optional(),
  bpp: z.coerce.number().positive().optional(),
  steps: z.coerce.number().int().positive().optional(),
  'target-quality': QualityTargetSpec.optional(),
  seed: z.coerce.number().int().nonnegative().default(0),
  model: z.string().min(1).default(process.env.DIFFC_MODEL_ID || 'default'),
  'max-pixels': z.coerce.number().int().positive().optional(),
  'chunk-bits': z.coerce.number().int().min(1).max(24).optional(),
  preset: PresetName.optional(),
  prompt: z.string().optional(),
  guidance: z.coerce.number().min(GUIDANCE_RANGE.min).max(GUIDANCE_RANGE.max).optional(),
  'denoise-guidance': z.coerce.number().min(GUIDANCE_RANGE.min).max(GUIDANCE_RANGE.max).optional(),
  decompress: z.string().optional(),
  'upto-bpp': z.coerce.number().positive().optional(),
  'upto-step': z.coerce.number().int().nonnegative().optional(),
  'workflow-id': z.string().min(1).optional(),
  wait: z.boolean().default(true),
  json: z.boolean().default(false),
  quiet: z.boolean().default(false),
}).strict().superRefine((a, ctx) => {
  const modes = [a.positionals.length > 0, a.prefix !== undefined, a.manifest !== undefined, a.decompress !== undefined].filter(Boolean).length;
  if (modes !== 1) ctx.addIssue({ code: 'custom', path: ['positionals'], message: 'give exactly one of: an object, --prefix, --manifest, --decompress' });
  if ((a.prefix !== undefined || a.manifest !== undefined) && a['output-prefix'] === undefined) ctx.addIssue({ code: 'custom', path: ['output-prefix'], message: 'required with --prefix or --manifest' });
  if (a.decompress !== undefined && a.output === undefined) ctx.addIssue({ code: 'custom', path: ['output'], message: 'required with --decompress' });
  if (a.bpp !== undefined && a.steps !== undefined) ctx.addIssue({ code: 'custom', path: ['bpp'], message: 'give at most one of --bpp, --steps' });
  if (a.decompress !== undefined && a['target-quality'] !== undefined) ctx.addIssue({ code: 'custom', path: ['target-quality'], message: 'is for compressing (with --decompress use --upto-bpp or --upto-step)' });
  if (a.decompress !== undefined && (a.prompt !== undefined || a.guidance !== undefined)) ctx.addIssue({ code: 'custom', path: ['decompress'], message: '--prompt and --guidance are the file\'s when decompressing (only --denoise-guidance can be given)' });
});
type Args = z.infer<typeof Args>;

export async function submitCommand(argv: string[], out: Print, err: Print): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      output: { type: 'string', short: 'o' }, prefix: { type: 'string' }, manifest: { type: 'string' }, 'output-prefix': { type: 'string' },
      'job-id': { type: 'string' }, concurrency: { type: 'string' }, 'objects-per-run': { type: 'string' }, bpp: { type: 'string' },
      steps: { type: 'string' }, 'target-quality': { type: 'string' }, seed: { type: 'string' }, model: { type: 'string' }, 'max-pixels': { type: 'string' }, 'chunk-bits': { type: 'string' },
      preset: { type: 'string' }, prompt: { type: 'string' }, guidance: { type: 'string' }, 'denoise-guidance': { type: 'string' },
      decompress: { type: 'string' }, 'upto-bpp': { type: 'string' }, 'upto-step': { type: 'string' }, 'workflow-id': { type: 'string' },
      ...SERVICE_OPTIONS, 'no-wait': { type: 'boolean' }, json: { type: 'boolean' }, quiet: { type: 'boolean', short: 'q' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    out(SUBMIT_HELP);
    return 0;
  }
  const { 'no-wait': noWait, ...rest } = commandFlags(values);
  const a = parseOrUsage(Args, { ...rest, wait: !noWait, positionals });
  const cfg = serviceConfig(values);
  const client = await connectClient(cfg);
  try {
    const start = { queues: cfg.queues, workflowId: a['workflow-id'] };
    const rate = { bpp: a.bpp, steps: a.steps, targetQuality: a['target-quality'], seed: a.seed };
    // Encode settings, validated by CompressImageInput / BulkArchiveInput (the UTF-8 bound of the prompt among them).
    const conditioning = { prompt: a.prompt, guidance: a.guidance, denoiseGuidance: a['denoise-guidance'], preset: a.preset };
    if (a.decompress !== undefined) {
      const src = splitObjectUrl(a.decompress), dst = splitObjectUrl(a.output!);
      const h = await startDecompressImage(client, {
        store: src.store, source: src.key, outputStore: dst.store, output: dst.key, model: a.model, uptoBpp: a['upto-bpp'], uptoStep: a['upto-step'],
        denoiseGuidance: a['denoise-guidance'],
      }, start);
      return await follow(h, a, out, err, () => undefined);
    }
    if (a.positionals.length === 1) {
      const src = splitObjectUrl(a.positionals[0]);
      const dst = splitObjectUrl(a.output ?? `${a.positionals[0]}.dfc`);
      const h = await startCompressImage(client, {
        store: src.store, source: src.key, outputStore: dst.store, output: dst.key, model: a.model, maxPixels: a['max-pixels'], chunkBits: a['chunk-bits'], ...rate, ...conditioning,
      }, start).catch((e: unknown) => {
        if (e instanceof WorkflowExecutionAlreadyStartedError) throw new CliError(`a compression of ${a.output ?? `${a.positionals[0]}.dfc`} is already running (workflow ${e.workflowId}); wait for it or cancel it`);
        throw e;
      });
      return await follow(h, a, out, err, async (p) => {
        const q = await h.query(progressQuery);
        p.update(q.step, q.phase, q.stepsTarget);
      });
    }
    const src = splitPrefixUrl((a.prefix ?? a.manifest)!.replace(/\/?$/, a.prefix !== undefined ? '/' : ''));
    const manifest = a.manifest !== undefined ? splitObjectUrl(a.manifest) : undefined;
    const dst = splitPrefixUrl(a['output-prefix']!);
    const job = {
      store: manifest?.store ?? src.store, prefix: manifest ? '' : src.key, manifest: manifest?.key,
      outputStore: dst.store, outputPrefix: dst.key, model: a.model, maxPixels: a['max-pixels'], chunkBits: a['chunk-bits'], ...rate, ...conditioning,
      concurrency: a.concurrency, objectsPerRun: a['objects-per-run'],
      jobId: a['job-id'] ?? defaultJobId(a),
    };
    const h = await startBulkArchive(client, job, { queues: cfg.queues });
    return await follow(h, a, out, err, async (p) => {
      const s = await h.query(summaryQuery);
      // The total is unknown until the listing ends: show counts, not a fraction.
      const n = s.ok + s.skipped + s.failed + s.deferred;
      p.update(n, `objects (ok ${s.ok}, skipped ${s.skipped}, failed ${s.failed}, deferred ${s.deferred}; ${s.inFlight} in flight; run ${s.runs})`, n);
    });
  } finally {
    await client.connection.close();
  }
}

/**
 * Same locations and settings -> same job id, so resubmitting resumes rather than duplicates.
 * Prompt, guidance and a quality target join the key only when given, so jobs without them keep the ids they had.
 */
export function defaultJobId(a: Pick<Args, 'prefix' | 'manifest' | 'output-prefix' | 'bpp' | 'steps' | 'target-quality' | 'seed' | 'model' | 'prompt' | 'guidance' | 'denoise-guidance' | 'preset'>): string {
  const conditioning = a.prompt !== undefined || a.guidance !== undefined || a['denoise-guidance'] !== undefined ? [[a.prompt, a.guidance, a['denoise-guidance']]] : [];
  const preset = a.preset !== undefined && a.preset !== 'default' ? [['preset', a.preset]] : [];
  const target = a['target-quality'] ? [['target-quality', targetSpec(a['target-quality'])]] : [];
  const key = JSON.stringify([a.prefix, a.manifest, a['output-prefix'], a.bpp, a.steps, a.seed, a.model, ...conditioning, ...preset, ...target]);
  return `job-${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
}

async function follow(h: WorkflowHandle, a: Args, out: Print, err: Print, poll: (p: Progress) => Promise<void> | undefined): Promise<number> {
  if (!a.json) out(h.workflowId);
  if (!a.wait) {
    if (a.json) out(JSON.stringify({ workflowId: h.workflowId }));
    return 0;
  }
  const p = new Progress(h.workflowId, 0, a.quiet);
  let done = false;
  const ticker = (async () => {
    while (!done) {
      try {
        await poll(p);
      } catch {
        // A query can miss while the workflow starts or continues as new; the next one answers.
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  try {
    const result = await h.result();
    done = true;
    await ticker;
    p.done();
    if (a.json) out(JSON.stringify({ workflowId: h.workflowId, ...result }));
    else if (!a.quiet) err(JSON.stringify(result));
    // Not a failure: the source changed under the run, and the newer version has its own.
    if (!a.json && result && typeof result === 'object' && 'superseded' in result && result.superseded) err(`${h.workflowId}: superseded, nothing written (${String((result as { reason?: string }).reason)})`);
    return 0;
  } catch (e) {
    done = true;
    await ticker;
    p.done();
    if (e instanceof WorkflowFailedError) throw new CliError(`${h.workflowId} failed: ${rootMessage(e)}`);
    throw e;
  }
}
