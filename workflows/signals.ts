/** Signals shared by the workflows and the processes that send them (trigger, bulk children). */
import { defineSignal } from '@temporalio/workflow';
import type { SourceVersion } from '../src/orchestration/types.js';
import type { Outcome } from '../src/orchestration/bulk-types.js';

/** A newer write of a compressImage run's source: sent with signal-with-start by the trigger. */
export const sourceVersionSignal = defineSignal<[SourceVersion]>('sourceVersion');

/**
 * A bulk child's outcome, sent by the child to its parent's workflow id (not run id), so it
 * reaches whichever run of the parent is current: children outlive their parent's
 * continue-as-new, and the window of children in flight is carried across it.
 */
export const itemDoneSignal = defineSignal<[Outcome]>('itemDone');
