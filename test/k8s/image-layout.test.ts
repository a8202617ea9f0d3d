/**
 * The worker image runs the compiled dist/ (infra/docker/Dockerfile), not the TypeScript sources.
 * Without building the image (no registry here), this lays out what its runtime stage copies:
 * package.json, node_modules, dist/, bin/, models/ and the native addon, and runs the CLI and a
 * worker's workflow bundle from it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, symlink, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../..', import.meta.url));

test('the image layout (dist/ + bin + models + addon) compresses, decompresses and resolves its workflows', { timeout: 300_000 }, async () => {
  const app = await mkdtemp(join(tmpdir(), 'diffc-image-'));
  try {
    await run(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(REPO, 'tsconfig.json'), '--outDir', join(app, 'dist')], { timeout: 240_000 });
    for (const d of ['bin', 'models']) await cp(join(REPO, d), join(app, d), { recursive: true });
    await cp(join(REPO, 'package.json'), join(app, 'package.json'));
    await symlink(join(REPO, 'node_modules'), join(app, 'node_modules'));
    await mkdir(join(app, 'native', 'cuda-pfr'), { recursive: true });
    await cp(join(REPO, 'native', 'cuda-pfr', 'build'), join(app, 'native', 'cuda-pfr', 'build'), { recursive: true }).catch(() => undefined);
    // No sources beside it: everything must come from dist/.
    const png = join(app, 'in.png');
    await run(process.execPath, ['--input-type=module', '-e', `
      const { saveImage } = await import(${JSON.stringify(join(app, 'dist', 'src', 'image', 'io.js'))});
      const data = new Float32Array(40 * 32 * 3).map((_, i) => (i % 97) / 97);
      await saveImage({ width: 40, height: 32, data, bitDepth: 8 }, ${JSON.stringify(png)});`]);
    const diffc = join(app, 'bin', 'diffc.js');
    await run(process.execPath, [diffc, 'compress', png, '-o', join(app, 'in.dfc'), '--bpp', '1', '-q']);
    await run(process.execPath, [diffc, 'decompress', join(app, 'in.dfc'), '-o', join(app, 'out.png'), '-q']);
    await access(join(app, 'out.png'));
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e',
      `const m = await import(${JSON.stringify(join(app, 'dist', 'src', 'orchestration', 'worker.js'))}); console.log(m.WORKFLOWS_PATH);`]);
    assert.equal(stdout.trim(), join(app, 'dist', 'workflows', 'index.js'));
    await access(stdout.trim());
  } finally {
    await rm(app, { recursive: true, force: true });
  }
});
