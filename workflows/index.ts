/** Every workflow the diffc worker registers (its workflowsPath). */
export { compressImage, progressQuery } from './compress-image.js';
