/**
 * `diffc models pull`: a catalogue id, or hf:<owner>/<repo>[@revision] for a repo with a diffc
 * manifest.json at its root, into <cache>/<id>/. Files already there with the right size and
 * sha256 are kept; the manifest is written last (atomically), so a directory without one is an
 * unfinished pull that resolveModel ignores and the next pull resumes.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadBundle, modelCacheDir, parseManifest, sha256File, type Bundle, type BundleFile } from './bundle.js';
import { catalogueEntry, type CatalogueEntry } from './catalogue.js';
import { ModelError } from './errors.js';
import { downloadTo, headFile, hubFileUrl, type HubOptions } from './hub.js';

export interface PullOptions extends HubOptions {
  readonly cacheDir?: string;
  /** Called once per file before it is fetched (or found complete). */
  readonly onFile?: (f: { path: string; index: number; count: number; cached: boolean }) => void;
}

/** Parses hf:<owner>/<repo>[@revision]. */
export function parseHubSpec(spec: string): { repo: string; revision: string } | undefined {
  const m = /^hf:([A-Za-z0-9][\w.-]*\/[\w.-]+)(?:@([\w./-]+))?$/.exec(spec);
  return m ? { repo: m[1], revision: m[2] ?? 'main' } : undefined;
}

async function fileMatches(path: string, bytes: number | undefined, sha256: string | undefined): Promise<{ sha256: string; bytes: number } | undefined> {
  try {
    const st = await stat(path);
    if (!st.isFile() || (bytes !== undefined && st.size !== bytes)) return undefined;
    const sha = await sha256File(path);
    return sha256 === undefined || sha === sha256 ? { sha256: sha, bytes: st.size } : undefined;
  } catch {
    return undefined;
  }
}

async function writeJsonAtomic(path: string, v: unknown): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, JSON.stringify(v, null, 2) + '\n');
  await rename(tmp, path);
}

export async function pullModel(spec: string, opts: PullOptions = {}): Promise<Bundle> {
  const cache = opts.cacheDir ?? modelCacheDir();
  const entry = catalogueEntry(spec);
  if (entry) return pullCatalogueEntry(entry, cache, opts);
  const hub = parseHubSpec(spec);
  if (hub) return pullRepoManifest(hub.repo, hub.revision, cache, opts);
  throw new ModelError('not-found', `'${spec}' is not in the catalogue ('diffc models list'); use hf:<owner>/<repo>[@revision] for a repo with a diffc manifest.json`);
}

async function pullRepoManifest(repo: string, revision: string, cache: string, opts: PullOptions): Promise<Bundle> {
  const remote = await headFile(hubFileUrl(repo, revision, 'manifest.json', opts.baseUrl), opts);
  const res = await fetch(remote.url, { headers: remote.sameOrigin && (opts.token ?? process.env.HF_TOKEN) ? { authorization: `Bearer ${opts.token ?? process.env.HF_TOKEN}` } : {} })
    .catch((e: unknown) => { throw new ModelError('offline', `cannot fetch ${repo}/manifest.json: ${(e as Error).message}`, { cause: e }); });
  if (!res.ok) throw new ModelError('download', `${repo}/manifest.json: HTTP ${res.status}`);
  let raw: Record<string, unknown>;
  try {
    raw = (await res.json()) as Record<string, unknown>;
  } catch (e) {
    throw new ModelError('manifest', `${repo}/manifest.json is not JSON: ${(e as Error).message}`);
  }
  const manifest = parseManifest(raw, `${repo}@${revision}`);
  const dir = join(cache, manifest.id);
  await mkdir(dir, { recursive: true });
  let commit = remote.commit;
  for (const [index, f] of manifest.files.entries()) {
    commit = (await fetchFile(repo, revision, f.path, join(dir, f.path), { sha256: f.sha256, bytes: f.bytes }, index, manifest.files.length, opts)).commit ?? commit;
  }
  await writeJsonAtomic(join(dir, 'manifest.json'), { ...raw, source: { repo, revision: commit ?? revision } });
  return loadBundle(dir, { stamp: true });
}

export async function pullCatalogueEntry(e: CatalogueEntry, cache: string, opts: PullOptions = {}): Promise<Bundle> {
  const dir = join(cache, e.id);
  await mkdir(dir, { recursive: true });
  const files: BundleFile[] = [];
  let commit: string | undefined;
  for (const [index, f] of e.files.entries()) {
    const r = await fetchFile(e.repo, e.revision, f.path, join(dir, f.path), {}, index, e.files.length, opts);
    commit ??= r.commit;
    files.push({ role: f.role, path: f.path, sha256: r.sha256, bytes: r.bytes });
  }
  await writeJsonAtomic(join(dir, 'manifest.json'), { schema: 1, id: e.id, ...e.manifest, files, source: { repo: e.repo, revision: commit ?? e.revision } });
  return loadBundle(dir, { stamp: true });
}

async function fetchFile(repo: string, revision: string, path: string, dest: string, expect: { sha256?: string; bytes?: number }, index: number, count: number, opts: PullOptions) {
  const url = hubFileUrl(repo, revision, path, opts.baseUrl);
  // Without a manifest checksum the hub's (LFS ETag) is what an existing file must match.
  const remote = expect.sha256 ? undefined : await headFile(url, opts);
  const sha256 = expect.sha256 ?? remote?.sha256;
  if (sha256) {
    const have = await fileMatches(dest, expect.bytes ?? remote?.size, sha256);
    if (have) {
      opts.onFile?.({ path, index, count, cached: true });
      return { ...have, commit: remote?.commit };
    }
  }
  opts.onFile?.({ path, index, count, cached: false });
  const r = remote ?? await headFile(url, opts);
  if (expect.bytes !== undefined && r.size !== undefined && r.size !== expect.bytes) {
    throw new ModelError('checksum', `${repo}/${path}: the hub has ${r.size} bytes, the manifest says ${expect.bytes}`);
  }
  return { ...(await downloadTo(r, dest, path, expect, opts)), commit: r.commit };
}
