/**
 * Which created objects start a compression. Our own writes land in the same bucket (the .dfc, and
 * the staged sources and checkpoints under WORK_ROOT), so without this every output would
 * retrigger a job on itself; those rules are built in and cannot be configured away.
 */
import { WORK_ROOT } from '../orchestration/types.js';
import type { ObjectCreatedEvent } from './events.js';

export interface FilterOptions {
  /** Only keys under this prefix (case-sensitive, as S3 keys are). */
  readonly prefix?: string;
  /** Only keys ending in one of these, case-insensitively; empty or absent means any. */
  readonly suffixes?: readonly string[];
  /** Never keys under these (the output prefix). Empty strings are ignored, not "everything". */
  readonly excludePrefixes?: readonly string[];
}

export type FilterResult = { readonly accept: true } | { readonly accept: false; readonly reason: string };

export type EventFilter = (ev: Pick<ObjectCreatedEvent, 'key'>) => FilterResult;

/** Suffix of the files we write; see src/codec (DFC container). */
const OUTPUT_SUFFIX = '.dfc';
/** Work objects of older releases lived in `<output>.work/`; a bucket may still hold some. */
const OLD_WORK_MARKER = '.work/';

export function makeFilter(opts: FilterOptions = {}): EventFilter {
  const suffixes = (opts.suffixes ?? []).map((s) => s.toLowerCase());
  const excludes = (opts.excludePrefixes ?? []).filter((p) => p !== '');
  return ({ key }) => {
    const lower = key.toLowerCase();
    if (key.startsWith(WORK_ROOT)) return { accept: false, reason: `under ${WORK_ROOT}, where runs keep their work` };
    if (key.includes(OLD_WORK_MARKER)) return { accept: false, reason: `inside a ${OLD_WORK_MARKER} checkpoint prefix` };
    if (lower.endsWith(OUTPUT_SUFFIX)) return { accept: false, reason: `a ${OUTPUT_SUFFIX} output` };
    const ex = excludes.find((p) => key.startsWith(p));
    if (ex !== undefined) return { accept: false, reason: `under excluded prefix ${ex}` };
    if (opts.prefix && !key.startsWith(opts.prefix)) return { accept: false, reason: `not under prefix ${opts.prefix}` };
    if (suffixes.length > 0 && !suffixes.some((s) => lower.endsWith(s))) {
      return { accept: false, reason: `suffix not one of ${suffixes.join(', ')}` };
    }
    return { accept: true };
  };
}
