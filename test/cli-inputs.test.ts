/** Expanding CLI inputs: directories and globs skip hidden files (the local store's metadata sidecars). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DFC_EXTENSIONS, expandInputs } from '../src/cli/inputs.js';

test('a folder or glob of .dfc files leaves out hidden .diffc-meta sidecars', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'diffc-inputs-'));
  try {
    for (const n of ['b.dfc', 'a.dfc', '.diffc-meta.a.dfc', 'notes.txt']) await writeFile(join(dir, n), 'x');
    assert.deepEqual((await expandInputs([dir], DFC_EXTENSIONS)).files, [join(dir, 'a.dfc'), join(dir, 'b.dfc')]);
    assert.deepEqual((await expandInputs([join(dir, '*.dfc')], DFC_EXTENSIONS)).files, [join(dir, 'a.dfc'), join(dir, 'b.dfc')]);
    // A hidden file named explicitly is still taken.
    assert.deepEqual((await expandInputs([join(dir, '.diffc-meta.a.dfc')], DFC_EXTENSIONS)).files, [join(dir, '.diffc-meta.a.dfc')]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
