import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { pullModel, pullCatalogueEntry, parseHubSpec } from '../src/models/pull.js';
import { downloadHubFile, hubFileUrl } from '../src/models/hub.js';
import { loadBundle } from '../src/models/bundle.js';
import { ModelError } from '../src/models/errors.js';
import type { CatalogueEntry } from '../src/models/catalogue.js';
import { SD_SCHEDULE } from '../src/codec/schedule/ddpm.js';

const BUNDLE = fileURLToPath(new URL('../models/test/sd15/', import.meta.url));
const COMMIT = 'c0ffee'.padEnd(40, '0');

/**
 * A stand-in for the hub: /<owner>/<repo>/resolve/<rev>/<path> serves models/test/sd15 for repo
 * test/sd15. Like huggingface.co, .onnx files (LFS) answer with a 302 to /cdn/... carrying
 * X-Linked-Etag (their sha256) and X-Linked-Size; small files are served directly with a
 * non-sha256 ETag. The CDN honours Range. Knobs: cut the next transfer of a file after N bytes,
 * corrupt a file, and a log of requests.
 */
interface Knobs { cutAfter: Map<string, number>; corrupt: Set<string>; log: string[] }
const knobs: Knobs = { cutAfter: new Map(), corrupt: new Set(), log: [] };
let server: Server;
let base: string;

async function serveFile(req: IncomingMessage, res: ServerResponse, rel: string): Promise<void> {
  let body: Buffer;
  try {
    body = await readFile(join(BUNDLE, rel));
  } catch {
    res.writeHead(404).end('not found');
    return;
  }
  if (knobs.corrupt.has(rel)) {
    body = Buffer.from(body);
    body[body.length >> 1] ^= 0xff;
  }
  const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  knobs.log.push(`${req.method} ${rel}${range ? ` from ${range[1]}` : ''}`);
  let start = 0;
  if (range) {
    start = Number(range[1]);
    if (start >= body.length) {
      res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
      return;
    }
    res.writeHead(206, { 'content-length': body.length - start, 'content-range': `bytes ${start}-${body.length - 1}/${body.length}`, 'accept-ranges': 'bytes' });
  } else {
    res.writeHead(200, { 'content-length': body.length, 'accept-ranges': 'bytes' });
  }
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const cut = knobs.cutAfter.get(rel);
  if (cut !== undefined) {
    knobs.cutAfter.delete(rel);
    res.write(body.subarray(start, start + cut), () => res.destroy());
    return;
  }
  res.end(body.subarray(start));
}

before(async () => {
  server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const cdn = /^\/cdn\/(.+)$/.exec(url.pathname);
      if (cdn) return serveFile(req, res, decodeURIComponent(cdn[1]));
      const m = /^\/test\/sd15\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
      if (!m) {
        res.writeHead(404, { 'x-error-code': 'RepoNotFound' }).end();
        return;
      }
      const rel = decodeURIComponent(m[2]);
      let body: Buffer;
      try {
        body = await readFile(join(BUNDLE, rel));
      } catch {
        res.writeHead(404, { 'x-error-code': 'EntryNotFound' }).end();
        return;
      }
      if (rel.endsWith('.onnx')) {
        const sha = createHash('sha256').update(body).digest('hex');
        res.writeHead(302, { location: `/cdn/${encodeURIComponent(rel)}`, 'x-linked-etag': `"${sha}"`, 'x-linked-size': String(body.length), 'x-repo-commit': COMMIT }).end();
        return;
      }
      res.setHeader('etag', '"0123abcd"');
      res.setHeader('x-repo-commit', COMMIT);
      return serveFile(req, res, rel);
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => new Promise<void>((r) => server.close(() => r())));

async function scratch(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'diffc-hub-'));
}

const isCode = (code: string) => (e: unknown) => e instanceof ModelError && e.code === code;

test('hub URLs and hf: specs', () => {
  assert.equal(hubFileUrl('a/b', 'main', 'unet/model.onnx', 'https://hub'), 'https://hub/a/b/resolve/main/unet/model.onnx');
  assert.equal(hubFileUrl('a/b', 'refs/pr/1', 'x y.json', 'https://hub'), 'https://hub/a/b/resolve/refs%2Fpr%2F1/x%20y.json');
  assert.deepEqual(parseHubSpec('hf:a/b@onnx'), { repo: 'a/b', revision: 'onnx' });
  assert.deepEqual(parseHubSpec('hf:a/b'), { repo: 'a/b', revision: 'main' });
  assert.equal(parseHubSpec('a/b'), undefined);
});

test('pull a repo with a diffc manifest: an interrupted transfer resumes with a Range request', async () => {
  const cache = await scratch();
  try {
    const unetBytes = (await stat(join(BUNDLE, 'unet/model.onnx'))).size;
    knobs.cutAfter.set('unet/model.onnx', 1000);
    knobs.log.length = 0;
    await assert.rejects(pullModel('hf:test/sd15', { baseUrl: base, cacheDir: cache }), isCode('download'));
    assert.equal((await stat(join(cache, 'test-sd15', 'unet/model.onnx.part'))).size, 1000);
    await assert.rejects(stat(join(cache, 'test-sd15', 'manifest.json')), 'no manifest until the pull completes');
    const progress: number[] = [];
    const files: string[] = [];
    const b = await pullModel('hf:test/sd15', {
      baseUrl: base, cacheDir: cache,
      onProgress: (p) => { if (p.path === 'unet/model.onnx') progress.push(p.done); },
      onFile: (f) => files.push(`${f.path}${f.cached ? ' (cached)' : ''}`),
    });
    assert.ok(knobs.log.includes('GET unet/model.onnx from 1000'), knobs.log.join('\n'));
    assert.equal(progress.at(-1), unetBytes);
    assert.ok(files.includes('text_encoder/model.onnx (cached)'));
    const original = await loadBundle(BUNDLE);
    assert.deepEqual(b.hash, original.hash, 'source does not change the model hash');
    assert.deepEqual(b.manifest.source, { repo: 'test/sd15', revision: COMMIT });
    await assert.rejects(stat(join(cache, 'test-sd15', 'unet/model.onnx.part')));
    // A second pull finds everything in place and downloads nothing.
    knobs.log.length = 0;
    await pullModel('hf:test/sd15', { baseUrl: base, cacheDir: cache });
    assert.deepEqual(knobs.log.filter((l) => l.startsWith('GET') && l !== 'GET manifest.json'), []);
  } finally {
    await rm(cache, { recursive: true, force: true });
  }
});

test('a corrupt transfer fails the sha256 check and leaves no partial file', async () => {
  const cache = await scratch();
  try {
    knobs.corrupt.add('vae_decoder/model.onnx');
    await assert.rejects(pullModel('hf:test/sd15', { baseUrl: base, cacheDir: cache }), isCode('checksum'));
    await assert.rejects(stat(join(cache, 'test-sd15', 'vae_decoder/model.onnx.part')));
    await assert.rejects(stat(join(cache, 'test-sd15', 'vae_decoder/model.onnx')));
  } finally {
    knobs.corrupt.clear();
    await rm(cache, { recursive: true, force: true });
  }
});

test('404s are download errors; a closed port is offline, fast', async () => {
  const cache = await scratch();
  try {
    await assert.rejects(pullModel('hf:test/nope', { baseUrl: base, cacheDir: cache }), (e) => isCode('download')(e) && /not found/.test((e as Error).message));
    await assert.rejects(downloadHubFile('test/sd15', 'main', 'missing.bin', join(cache, 'x'), {}, { baseUrl: base }), isCode('download'));
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const t0 = performance.now();
    await assert.rejects(pullModel('hf:test/sd15', { baseUrl: `http://127.0.0.1:${port}`, cacheDir: cache }), isCode('offline'));
    assert.ok(performance.now() - t0 < 3000);
    await assert.rejects(pullModel('not-a-model', { cacheDir: cache }), isCode('not-found'));
  } finally {
    await rm(cache, { recursive: true, force: true });
  }
});

test('a catalogue entry is pulled with the hub\'s LFS sha256s and gets a manifest with them', async () => {
  const cache = await scratch();
  try {
    const entry: CatalogueEntry = {
      id: 'cat-sd15', description: 'test', repo: 'test/sd15', revision: 'main', approxBytes: 1,
      files: [
        { role: 'text_encoder', path: 'text_encoder/model.onnx' }, { role: 'unet', path: 'unet/model.onnx' },
        { role: 'vae_encoder', path: 'vae_encoder/model.onnx' }, { role: 'vae_decoder', path: 'vae_decoder/model.onnx' },
        { role: 'tokenizer', path: 'tokenizer/vocab.json' }, { role: 'tokenizer', path: 'tokenizer/merges.txt' },
      ],
      manifest: {
        family: 'sd15', prediction: 'eps', schedule: { kind: 'ddpm', config: SD_SCHEDULE },
        latent: { channels: 4, downsample: 8, scale: 0.18215, shift: 0 },
        defaults: { maxChunkBits: 8, schedule: 'even:4', reconMethod: 'mse', reconSteps: 1 },
      },
    };
    knobs.corrupt.add('unet/model.onnx');
    await assert.rejects(pullCatalogueEntry(entry, cache, { baseUrl: base }), isCode('checksum'));
    knobs.corrupt.clear();
    const b = await pullCatalogueEntry(entry, cache, { baseUrl: base });
    const original = await loadBundle(BUNDLE);
    for (const f of b.manifest.files) {
      const o = original.manifest.files.find((x) => x.path === f.path)!;
      assert.equal(f.sha256, o.sha256);
      assert.equal(f.bytes, o.bytes);
    }
    assert.equal(b.manifest.source?.revision, COMMIT);
    // The pulled bundle resolves by id from the cache and loads.
    await writeFile(join(cache, 'cat-sd15', 'extra.txt'), 'ignored');
    const { resolveModel } = await import('../src/models/bundle.js');
    assert.equal(await resolveModel('cat-sd15', cache), join(cache, 'cat-sd15'));
  } finally {
    knobs.corrupt.clear();
    await rm(cache, { recursive: true, force: true });
  }
});

test('diffc models list / verify / pull', async () => {
  const { modelsCommand } = await import('../src/cli/models.js');
  const cache = await scratch();
  const outs: string[] = [], errs: string[] = [];
  const out = (s: string) => outs.push(s), err = (s: string) => errs.push(s);
  const saved = process.env.DIFFC_HF_ENDPOINT;
  process.env.DIFFC_HF_ENDPOINT = base;
  try {
    assert.equal(await modelsCommand(['list', '--cache', cache, '--json'], out, err), 0);
    const listed = JSON.parse(outs.pop()!);
    assert.deepEqual(listed.cached, []);
    assert.ok(listed.catalogue.some((c: { id: string }) => c.id === 'sdxl-base-onnx'));
    assert.equal(await modelsCommand(['verify', BUNDLE, '--json'], out, err), 0);
    assert.equal(JSON.parse(outs.pop()!).hash, (await loadBundle(BUNDLE)).hashHex);
    assert.equal(await modelsCommand(['verify', 'nope', '--cache', cache], out, err), 1);
    assert.match(errs.pop()!, /models pull nope/);
    assert.equal(await modelsCommand(['pull', 'hf:test/sd15', '--cache', cache], out, err), 0);
    assert.match(outs.pop()!, /test-sd15: pulled/);
    assert.ok(errs.some((l) => /\[1\/6\] text_encoder\/model.onnx/.test(l)), errs.join('\n'));
    assert.equal(await modelsCommand(['verify', 'test-sd15', '--cache', cache, '-q'], out, err), 0);
    assert.equal(await modelsCommand(['list', '--cache', cache], out, err), 0);
    assert.match(outs.pop()!, /test-sd15 +sd15/);
    // Corrupt the pulled copy: verify says so, exit 1.
    const p = join(cache, 'test-sd15', 'unet/model.onnx');
    const bytes = await readFile(p);
    bytes[100] ^= 1;
    await writeFile(p, bytes);
    assert.equal(await modelsCommand(['verify', 'test-sd15', '--cache', cache], out, err), 1);
    assert.match(errs.pop()!, /sha256/);
    assert.equal(await modelsCommand(['pull', 'nope', '--cache', cache, '-q'], out, err), 1);
    assert.equal(await modelsCommand(['frobnicate'], out, err), 2);
    assert.equal(await modelsCommand(['pull'], out, err), 2);
    assert.equal(await modelsCommand(['--help'], out, err), 0);
  } finally {
    if (saved === undefined) delete process.env.DIFFC_HF_ENDPOINT; else process.env.DIFFC_HF_ENDPOINT = saved;
    await rm(cache, { recursive: true, force: true });
  }
});
