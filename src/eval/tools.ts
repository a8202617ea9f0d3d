/**
 * The reference tools `diffc eval` drives as subprocesses (libjxl's cjxl/djxl, butteraugli,
 * ssimulacra2_rs): looked up in DIFFC_TOOLS_DIR when it is set, else on PATH.
 * `bash scripts/fetch-eval-tools.sh` puts them all in .cache/tools/bin.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { encodeImage } from '../image/io.js';
import type { RgbImage } from '../image/types.js';

export class ToolUnavailableError extends Error {
  override readonly name = 'ToolUnavailableError';
}

export const TOOLS_HINT = "run 'bash scripts/fetch-eval-tools.sh' and set DIFFC_TOOLS_DIR=.cache/tools/bin";

/** The tool's path, or a ToolUnavailableError naming where it was looked for and how to get it. */
export function findTool(name: string, install: string, env: NodeJS.ProcessEnv = process.env): string {
  const dirs = env.DIFFC_TOOLS_DIR ? [env.DIFFC_TOOLS_DIR] : (env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const d of dirs) {
    try {
      accessSync(join(d, name), constants.X_OK);
      return join(d, name);
    } catch { /* next */ }
  }
  throw new ToolUnavailableError(`${name} not found (${env.DIFFC_TOOLS_DIR ? `not in DIFFC_TOOLS_DIR=${env.DIFFC_TOOLS_DIR}` : 'not on PATH'}): ${install}, or ${TOOLS_HINT}`);
}

export const runTool = promisify(execFile);

/** Runs f in a private temporary directory, removed afterwards. */
export async function inTemp<T>(f: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'diffc-tool-'));
  try {
    return await f(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The image as the 8-bit sRGB PNG the tools read. */
export async function writePng8(img: RgbImage, path: string): Promise<void> {
  await writeFile(path, await encodeImage(img, 'png', { bitDepth: 8 }));
}
