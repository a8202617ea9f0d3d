export { loadAndEncodeLatent, encodeSteps, assembleDfc } from './compress.js';
