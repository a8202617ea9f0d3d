/** decompressImage: .dfc -> image at a chosen chain prefix (or bpp), one activity on the gpu queue. */
import { proxyActivities } from '@temporalio/workflow';
import type * as activities from '../activities/index.js';
import type { DecompressImageInput, DecompressImageResult } from '../src/orchestration/types.js';

export async function decompressImage(job: DecompressImageInput): Promise<DecompressImageResult> {
  const { decodeToImage } = proxyActivities<typeof activities>({
    taskQueue: job.queues.gpu,
    startToCloseTimeout: '30 minutes',
    retry: { maximumAttempts: 8, initialInterval: '1 second', maximumInterval: '30 seconds' },
  });
  return decodeToImage(job);
}
