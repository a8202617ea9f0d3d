/**
 * JPEG XL through libjxl's own command-line tools (cjxl/djxl: sharp's bundled libvips has no
 * JPEG XL). Found in DIFFC_JXL_DIR, else on PATH (Debian/Ubuntu: libjxl-tools;
 * `bash scripts/fetch-jxl.sh` puts them in .cache/tools/bin without installing anything).
 * Images go through 8-bit PNG files in a private temporary directory.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { decodeImage, encodeImage } from '../image/io.js';
import type { RgbImage } from '../image/types.js';

export class JxlUnavailableError extends Error {
  override readonly name = 'JxlUnavailableError';
}

export interface JxlTools {
  readonly cjxl: string;
  readonly djxl: string;
}

const run = promisify(execFile);

function findTool(name: string, dirs: readonly string[]): string | undefined {
  for (const d of dirs) {
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch { /* next */ }
  }
  return undefined;
}

/** cjxl and djxl, or a JxlUnavailableError that says how to get them. */
export function findJxlTools(env: NodeJS.ProcessEnv = process.env): JxlTools {
  const dirs = env.DIFFC_JXL_DIR ? [env.DIFFC_JXL_DIR] : (env.PATH ?? '').split(delimiter).filter(Boolean);
  const cjxl = findTool('cjxl', dirs), djxl = findTool('djxl', dirs);
  if (!cjxl || !djxl) {
    throw new JxlUnavailableError(`the JPEG XL baseline needs cjxl and djxl (${env.DIFFC_JXL_DIR ? `not in DIFFC_JXL_DIR=${env.DIFFC_JXL_DIR}` : 'not on PATH'}): install libjxl-tools, or run 'bash scripts/fetch-jxl.sh' and set DIFFC_JXL_DIR=.cache/tools/bin`);
  }
  return { cjxl, djxl };
}

/** The JXL "quality" 1..100 the baseline search runs over: Butteraugli distance 25 (q 1) down to 0.1 (q 100), log-spaced. */
export const JXL_QUALITY_RANGE = [1, 100] as const;
export function jxlDistance(quality: number): number {
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) throw new RangeError(`JPEG XL quality ${quality} outside 1..100`);
  return +(25 * (0.1 / 25) ** ((quality - 1) / 99)).toFixed(4);
}

async function inTemp<T>(f: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'diffc-jxl-'));
  try {
    return await f(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The image as a JPEG XL file at `quality` (effort 7, cjxl's default). */
export async function encodeJxl(img: RgbImage, quality: number, tools: JxlTools = findJxlTools()): Promise<Uint8Array> {
  const distance = jxlDistance(quality);
  return inTemp(async (dir) => {
    await writeFile(join(dir, 'in.png'), await encodeImage(img, 'png', { bitDepth: 8 }));
    await run(tools.cjxl, [join(dir, 'in.png'), join(dir, 'out.jxl'), '-d', String(distance), '-e', '7', '--quiet'], { maxBuffer: 1 << 24 });
    return new Uint8Array(await readFile(join(dir, 'out.jxl')));
  });
}

export async function decodeJxl(bytes: Uint8Array, tools: JxlTools = findJxlTools()): Promise<RgbImage> {
  return inTemp(async (dir) => {
    await writeFile(join(dir, 'in.jxl'), bytes);
    await run(tools.djxl, [join(dir, 'in.jxl'), join(dir, 'out.png'), '--quiet'], { maxBuffer: 1 << 24 });
    return decodeImage(new Uint8Array(await readFile(join(dir, 'out.png'))));
  });
}
