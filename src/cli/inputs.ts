/**
 * Expanding command-line inputs: files, directories (their images, sorted) and simple globs
 * (`*` and `?` in the last path component, for shells that pass them through quoted). Hidden
 * files are skipped, as a shell's `*` skips them: the local store keeps object metadata in
 * `.diffc-meta.<name>` sidecars next to the .dfc files.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { CliError } from './errors.js';

function globToRegExp(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${body}$`);
}

export async function expandInputs(paths: readonly string[], extensions: ReadonlySet<string>): Promise<{ files: string[]; many: boolean }> {
  const files: string[] = [];
  let many = paths.length > 1;
  const wanted = (n: string) => !n.startsWith('.') && extensions.has(extname(n).toLowerCase());
  for (const p of paths) {
    if (/[*?]/.test(basename(p))) {
      const dir = dirname(p), re = globToRegExp(basename(p));
      const names = await readdir(dir).catch(() => { throw new CliError(`${dir}: no such directory`); });
      files.push(...names.filter((n) => !n.startsWith('.') && re.test(n)).sort().map((n) => join(dir, n)));
      many = true;
      continue;
    }
    const s = await stat(p).catch(() => null);
    if (!s) throw new CliError(`${p}: no such file or directory`);
    if (s.isDirectory()) {
      files.push(...(await readdir(p)).filter(wanted).sort().map((n) => join(p, n)));
      many = true;
    } else files.push(p);
  }
  if (files.length === 0) throw new CliError(`no input files matched ${paths.join(' ')}`);
  return { files, many };
}

export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set(['.png', '.jpg', '.jpeg', '.webp', '.avif', '.tif', '.tiff', '.gif']);
export const DFC_EXTENSIONS: ReadonlySet<string> = new Set(['.dfc']);

/** out/<name without extension><ext>. */
export function outputIn(dir: string, input: string, ext: string): string {
  return join(dir, basename(input, extname(input)) + ext);
}
