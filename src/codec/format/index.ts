/** The .dfc container (docs/format.md §3). */
export {
  writeDfc,
  readDfc,
  readDfcHeader,
  checkModelHash,
  DfcError,
  DFC_MAGIC,
  DFC_VERSION,
  DFC_LIMITS,
  type DfcErrorCode,
  type DfcHeader,
  type DfcConditioning,
  type DfcFile,
  type ReadDfcOptions,
  type ReconMethod,
} from './dfc.js';
export { crc32 } from './crc32.js';
export { encodePromptBytes, decodePromptBytes, maxCodedPromptBytes, PROMPT_PRIOR, PROMPT_MODEL, PROMPT_MAX_BYTES } from './prompt.js';
