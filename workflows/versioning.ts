/**
 * Worker Versioning behaviour of each workflow type (docs/deploy.md, "Worker Versioning"). Only
 * versioned workers (`diffc worker --build-id B`) report it; unversioned workers and the replayer
 * leave it out, and it adds no command to a history, so recorded histories replay unchanged.
 *
 *   compressImage    PINNED        a run lasts as long as its chain, its checkpoints and step
 *                                  ranges are the code it started on; it finishes on its build
 *   decompressImage  PINNED        short, but one decode must not mix two builds' decoders
 *   bulkArchive      AUTO_UPGRADE  a job lasts days and continues as new; it only plans and starts
 *                                  children, so each task may move to the current build, and the
 *                                  children it starts begin (and stay) on the current build
 */
import { setWorkflowOptions, workflowInfo } from '@temporalio/workflow';
import type { VersioningBehavior, WorkflowDefinitionOptionsOrGetter } from '@temporalio/common';
import { compressImage } from './compress-image.js';
import { decompressImage } from './decompress-image.js';
import { bulkArchive } from './bulk-archive.js';

type WorkflowFn = (...args: never[]) => Promise<unknown>;

/**
 * Sets the behaviour, keeping any other definition options the workflow's own module set
 * (setWorkflowOptions replaces the whole object). A getter, run before the workflow's first
 * activation on a worker: only a versioned worker may report a behaviour (the server refuses the
 * workflow task of an unversioned one that does: "versioning behavior cannot be specified without
 * deployment options"), and workflowInfo() says which this worker is.
 */
function behave(fn: WorkflowFn, versioningBehavior: VersioningBehavior): void {
  const current = (fn as { workflowDefinitionOptions?: WorkflowDefinitionOptionsOrGetter }).workflowDefinitionOptions;
  setWorkflowOptions(() => {
    const own = typeof current === 'function' ? current() : { ...current };
    // An unversioned worker still reports a version here (its SDK build id, no deployment name).
    return workflowInfo().currentDeploymentVersion?.deploymentName ? { ...own, versioningBehavior } : own;
  }, fn as (...args: unknown[]) => Promise<unknown>);
}

behave(compressImage, 'PINNED');
behave(decompressImage, 'PINNED');
behave(bulkArchive, 'AUTO_UPGRADE');

/** What this module sets, for tests and docs. */
export const VERSIONING_BEHAVIOURS = { compressImage: 'PINNED', decompressImage: 'PINNED', bulkArchive: 'AUTO_UPGRADE' } as const;
