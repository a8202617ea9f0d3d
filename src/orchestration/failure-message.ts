/**
 * The innermost message of a Temporal failure chain (child workflow -> activity -> our error):
 * what a manifest line or a terminal should show, not "Child Workflow execution failed".
 * Pure and import-free, so workflow code can use it too.
 */
export function rootMessage(e: unknown): string {
  let cur = e as { message?: string; cause?: unknown } | undefined;
  let msg = String((cur as Error | undefined)?.message ?? e);
  while (cur && typeof cur === 'object' && cur.cause) {
    cur = cur.cause as { message?: string; cause?: unknown };
    if (cur?.message) msg = cur.message;
  }
  return msg;
}
