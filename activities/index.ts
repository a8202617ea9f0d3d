export { prepareSource, encodeLatent, encodeSteps, assembleDfc, discardWork } from './compress.js';
export { decodeSteps, decodeFinish, discardDecodeWork, decodeToImage } from './decompress.js';
export { resolveModelHash } from './model.js';
export { planBatch, writeManifestPart, finishManifest, closedChildren } from './bulk.js';
