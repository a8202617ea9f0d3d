import type { z } from 'zod';
import { UsageError } from './errors.js';

export type Print = (s: string) => unknown;

/** Validates parsed flags; zod's first complaints become a usage error naming the flag. */
export function parseOrUsage<T extends z.ZodTypeAny>(schema: T, values: unknown): z.infer<T> {
  const r = schema.safeParse(values);
  if (!r.success) {
    throw new UsageError(r.error.issues.slice(0, 3).map((i) => {
      const flag = i.path[0] === 'positionals' ? 'input' : i.path.length ? `--${String(i.path[0])}` : 'arguments';
      return `${flag}: ${i.message}`;
    }).join('\n'));
  }
  return r.data;
}
