/**
 * `diffc models`: the model cache and catalogue.
 *   list              pulled bundles (cache directory) and the catalogue
 *   verify <id|dir>   re-hash every file of a bundle against its manifest
 *   pull <id>         download a catalogue model (or hf:<owner>/<repo>[@rev]) into the cache
 *   sync <url> <dir>  copy a bundle from s3://bucket/prefix/ (or file:///dir/) into dir, verified
 * Progress goes to stderr; stdout carries the result (--json for machines).
 */
import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadBundle, modelCacheDir, readManifest, resolveModel, type Bundle } from '../models/bundle.js';
import { CATALOGUE } from '../models/catalogue.js';
import { ModelError } from '../models/errors.js';
import { checkFamily } from '../models/load.js';
import { pullModel } from '../models/pull.js';
import { syncBundle } from '../models/sync.js';
import { UsageError } from './errors.js';

export const MODELS_HELP = `diffc models <verb> [options]

verbs:
  list                    models in the cache and in the catalogue
  verify <id|dir>         check every file of a bundle against its manifest (size and sha256)
  pull <id>               download a catalogue model into the cache; hf:<owner>/<repo>[@rev]
                          pulls any repo holding a diffc manifest.json
  sync <url> <dir>        copy the bundle at s3://bucket/prefix/ (or file:///dir/) into <dir>:
                          every file's sha256 is checked against manifest.json before the copy
                          is renamed into place; a verified copy already there is kept (--force
                          downloads again). Concurrent syncs into one <dir> take turns. S3
                          settings come from S3_ENDPOINT, S3_REGION, S3_ACCESS_KEY_ID, ...

options:
  --cache DIR             model cache (default $DIFFC_MODELS, else ~/.cache/diffc/models)
  --json                  machine-readable output on stdout
  -q, --quiet             no progress on stderr
  --force                 sync: download even when <dir> holds a verified copy

The hub endpoint is $DIFFC_HF_ENDPOINT (default https://huggingface.co); gated repos need $HF_TOKEN.
Exit codes: 0 success, 1 failure (missing, corrupt, offline), 2 usage error.
`;

type Print = (s: string) => unknown;

const gb = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(1)} GB` : n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e3).toFixed(1)} kB`);
const bundleBytes = (b: Bundle) => b.manifest.files.reduce((s, f) => s + f.bytes, 0);

async function cachedModels(cache: string): Promise<{ id: string; dir: string; family?: string; bytes?: number; error?: string }[]> {
  let names: string[];
  try {
    names = (await readdir(cache)).sort();
  } catch {
    return [];
  }
  const out: { id: string; dir: string; family?: string; bytes?: number; error?: string }[] = [];
  for (const name of names) {
    const dir = join(cache, name);
    if (!(await stat(dir).catch(() => undefined))?.isDirectory()) continue;
    try {
      const { manifest } = await readManifest(dir);
      out.push({ id: manifest.id, dir, family: manifest.family, bytes: manifest.files.reduce((s, f) => s + f.bytes, 0) });
    } catch (e) {
      out.push({ id: name, dir, error: e instanceof ModelError && e.code === 'not-found' ? 'incomplete pull (no manifest.json)' : (e as Error).message });
    }
  }
  return out;
}

export async function modelsCommand(argv: string[], out: Print, err: Print): Promise<number> {
  try {
    return await run(argv, out, err);
  } catch (e) {
    if (e instanceof UsageError || (e instanceof Error && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS_'))) {
      err(`diffc models: ${e.message}`);
      return 2;
    }
    if (e instanceof ModelError) {
      err(`diffc models: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

async function run(argv: string[], out: Print, err: Print): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: { cache: { type: 'string' }, json: { type: 'boolean' }, quiet: { type: 'boolean', short: 'q' }, force: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  const [verb, ...rest] = positionals;
  if (values.help || verb === undefined || verb === 'help') {
    out(MODELS_HELP);
    return 0;
  }
  const cache = resolve(values.cache ?? modelCacheDir());
  const json = values.json ?? false;
  switch (verb) {
    case 'list': {
      if (rest.length) throw new UsageError('list takes no arguments');
      const cached = await cachedModels(cache);
      const catalogue = CATALOGUE.map((c) => ({ id: c.id, family: c.manifest.family, repo: c.repo, revision: c.revision, approxBytes: c.approxBytes, description: c.description, pulled: cached.some((m) => m.id === c.id && !m.error) }));
      if (json) {
        out(JSON.stringify({ cache, cached, catalogue }));
        return 0;
      }
      const lines = [`cache: ${cache}`];
      lines.push(cached.length ? 'pulled:' : 'pulled: (none)');
      for (const m of cached) lines.push(m.error ? `  ${m.id.padEnd(22)} ${m.error}` : `  ${m.id.padEnd(22)} ${(m.family ?? '').padEnd(12)} ${gb(m.bytes ?? 0)}`);
      lines.push('catalogue (diffc models pull <id>):');
      lines.push(`  ${'default'.padEnd(22)} ${'analytic-dct'.padEnd(12)} embedded, no download`);
      for (const c of catalogue) lines.push(`  ${c.id.padEnd(22)} ${c.family.padEnd(12)} ~${gb(c.approxBytes)}${c.pulled ? ' (pulled)' : ''}  ${c.repo}@${c.revision}`);
      out(lines.join('\n'));
      return 0;
    }
    case 'verify': {
      if (rest.length !== 1) throw new UsageError('verify takes one model id or bundle directory');
      const dir = await resolveModel(rest[0], cache);
      const inCache = resolve(dir).startsWith(cache + '/');
      let lastLine = 0;
      const b = await loadBundle(dir, {
        verify: true, force: true, stamp: inCache,
        onProgress: (f, done, total) => {
          if (values.quiet || (Date.now() - lastLine < 1000 && done < total)) return;
          lastLine = Date.now();
          err(`verify ${f.path}: ${Math.floor((100 * done) / Math.max(1, total))}%`);
        },
      });
      checkFamily(b);
      const result = { id: b.manifest.id, family: b.manifest.family, dir: b.dir, hash: b.hashHex, files: b.manifest.files.length, bytes: bundleBytes(b), ok: true };
      out(json ? JSON.stringify(result) : `${result.id}: ok (${result.family}, ${result.files} files, ${gb(result.bytes)}, model hash ${result.hash})`);
      return 0;
    }
    case 'pull': {
      if (rest.length !== 1) throw new UsageError('pull takes one model id (see diffc models list) or hf:<owner>/<repo>[@rev]');
      let lastLine = 0;
      const t0 = Date.now();
      const b = await pullModel(rest[0], {
        cacheDir: cache,
        onFile: (f) => { if (!values.quiet) err(`[${f.index + 1}/${f.count}] ${f.path}${f.cached ? ' (already here)' : ''}`); },
        onProgress: (p) => {
          if (values.quiet || (Date.now() - lastLine < 1000 && p.done !== p.total)) return;
          lastLine = Date.now();
          err(`  ${p.path}: ${gb(p.done)}${p.total ? ` of ${gb(p.total)} (${Math.floor((100 * p.done) / p.total)}%)` : ''}`);
        },
      });
      checkFamily(b);
      const result = { id: b.manifest.id, family: b.manifest.family, dir: b.dir, hash: b.hashHex, bytes: bundleBytes(b), seconds: (Date.now() - t0) / 1000 };
      out(json ? JSON.stringify(result) : `${result.id}: pulled into ${result.dir} (${gb(result.bytes)}, model hash ${result.hash}); use --model ${result.id}`);
      return 0;
    }
    case 'sync': {
      if (rest.length !== 2) throw new UsageError('sync takes a bundle URL (s3://bucket/prefix/ or file:///dir/) and a target directory');
      let waiting = false;
      const r = await syncBundle(rest[0], rest[1], {
        force: values.force ?? false,
        onFile: (f) => { if (!values.quiet) err(`[${f.index + 1}/${f.count}] ${f.path} (${gb(f.bytes)})`); },
        onWait: (holder) => {
          if (!values.quiet && !waiting) err(`waiting for another sync into ${rest[1]} (${holder})`);
          waiting = true;
        },
      });
      out(json ? JSON.stringify(r) : r.downloaded
        ? `${r.id}: synced into ${r.dir} (${r.files} files, ${gb(r.bytes)}, model hash ${r.hashHex}) in ${r.seconds.toFixed(1)} s`
        : `${r.id}: already in ${r.dir}, verified (model hash ${r.hashHex})`);
      return 0;
    }
    default:
      throw new UsageError(`unknown verb '${verb}'\n\n${MODELS_HELP}`);
  }
}
