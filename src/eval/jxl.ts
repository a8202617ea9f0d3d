/**
 * JPEG XL through libjxl's own command-line tools (cjxl/djxl: sharp's bundled libvips has no
 * JPEG XL), found by src/eval/tools.ts (Debian/Ubuntu: libjxl-tools). Images go through 8-bit
 * PNG files in a private temporary directory.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeImage } from '../image/io.js';
import type { RgbImage } from '../image/types.js';
import { findTool, inTemp, runTool, writePng8 } from './tools.js';

export interface JxlTools {
  readonly cjxl: string;
  readonly djxl: string;
}

/** cjxl and djxl, or a ToolUnavailableError that says how to get them. */
export function findJxlTools(env: NodeJS.ProcessEnv = process.env): JxlTools {
  const how = 'the JPEG XL baseline needs libjxl-tools';
  return { cjxl: findTool('cjxl', how, env), djxl: findTool('djxl', how, env) };
}

/** The JXL "quality" 1..100 the baseline search runs over: Butteraugli distance 25 (q 1) down to 0.1 (q 100), log-spaced. */
export const JXL_QUALITY_RANGE = [1, 100] as const;
export function jxlDistance(quality: number): number {
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) throw new RangeError(`JPEG XL quality ${quality} outside 1..100`);
  return +(25 * (0.1 / 25) ** ((quality - 1) / 99)).toFixed(4);
}

/** The image as a JPEG XL file at `quality` (effort 7, cjxl's default). */
export async function encodeJxl(img: RgbImage, quality: number, tools: JxlTools = findJxlTools()): Promise<Uint8Array> {
  const distance = jxlDistance(quality);
  return inTemp(async (dir) => {
    await writePng8(img, join(dir, 'in.png'));
    await runTool(tools.cjxl, [join(dir, 'in.png'), join(dir, 'out.jxl'), '-d', String(distance), '-e', '7', '--quiet'], { maxBuffer: 1 << 24 });
    return new Uint8Array(await readFile(join(dir, 'out.jxl')));
  });
}

export async function decodeJxl(bytes: Uint8Array, tools: JxlTools = findJxlTools()): Promise<RgbImage> {
  return inTemp(async (dir) => {
    await writeFile(join(dir, 'in.jxl'), bytes);
    await runTool(tools.djxl, [join(dir, 'in.jxl'), join(dir, 'out.png'), '--quiet'], { maxBuffer: 1 << 24 });
    return decodeImage(new Uint8Array(await readFile(join(dir, 'out.png'))));
  });
}
