/**
 * Prompt -> text-encoder outputs for the ONNX families.
 *   CLIP ids: with tokenizer/vocab.json + merges.txt in the bundle (SDXL's second encoder:
 *        tokenizer_2/'s, else tokenizer/'s), clip-tokenizer.ts; without one only the empty
 *        prompt, whose ids are fixed (BOS, EOS, padding).
 *   T5 ids (Flux): with tokenizer_2/tokenizer.json, t5-tokenizer.ts; without it only the empty
 *        prompt, whose ids are fixed (EOS, padding).
 *   A non-empty prompt without its tokenizer is a 'family' error; so is one the tokenizer refuses.
 *   no text encoder in the bundle: the conditioning is zeros of the sizes the manifest's `text`
 *        gives (see docs/models.md).
 */
import { ModelError } from '../errors.js';
import { emptyClipIds, CLIP_EOS, type ClipTokenizer } from './clip-tokenizer.js';
import type { T5Tokenizer } from './t5-tokenizer.js';
import type { FloatTensor, OnnxSession } from './session.js';

export const T5_EOS = 1;
export const T5_PAD = 0;

export interface EncodedText {
  /** [1, S, H] */
  readonly hidden: FloatTensor;
  /** [1, P]: text_embeds (projected) or pooler_output, when the graph has one. */
  readonly pooled?: Float32Array;
}

/** Sequence length the graph declares for input_ids, else `fallback`. */
export function declaredSeqLen(s: OnnxSession, fallback: number): number {
  const d = s.input('input_ids').shape[1];
  return typeof d === 'number' && d > 0 ? d : fallback;
}

/** Whether a prompt is empty for the fixed empty-prompt ids (only ASCII whitespace counts as nothing). */
function isEmptyPrompt(prompt: string): boolean {
  return /^[ \t\n\r]*$/.test(prompt);
}

export function clipIds(prompt: string, tokenizer: ClipTokenizer | undefined, seqLen: number, padId = CLIP_EOS): number[] {
  if (tokenizer) return tokenizer.encode(prompt, seqLen, padId);
  if (!isEmptyPrompt(prompt)) throw new ModelError('family', 'this bundle has no tokenizer (tokenizer/vocab.json + merges.txt), so only the empty prompt is supported');
  return emptyClipIds(seqLen, padId);
}

/** T5 ids: T5TokenizerFast's with the bundle's tokenizer_2/tokenizer.json, else only the empty prompt's. */
export function t5Ids(prompt: string, seqLen: number, tokenizer?: T5Tokenizer): number[] {
  if (tokenizer) return tokenizer.encode(prompt, seqLen);
  if (!isEmptyPrompt(prompt)) throw new ModelError('family', 'this bundle has no T5 tokenizer (tokenizer_2/tokenizer.json), so Flux takes only the empty prompt');
  return [T5_EOS, ...new Array<number>(seqLen - 1).fill(T5_PAD)];
}

/**
 * Runs a text encoder on one id sequence.
 * hidden 'last': last_hidden_state; 'penultimate': the second-to-last hidden_states.N output
 * (what SDXL conditions on; a graph exported without them is a 'family' error).
 */
export async function encodeText(s: OnnxSession, ids: readonly number[], hidden: 'last' | 'penultimate'): Promise<EncodedText> {
  const out = await s.run({ input_ids: { data: ids, dims: [1, ids.length] } });
  let name = 'last_hidden_state';
  if (hidden === 'penultimate') {
    const layers = Object.keys(out).map((k) => /^hidden_states\.(\d+)$/.exec(k)).filter((m) => m !== null).map((m) => Number(m[1]));
    // last_hidden_state is not what SDXL was trained on; a graph without the layers is refused.
    if (layers.length < 2) throw new ModelError('family', `${s.path}: SDXL conditions on the penultimate hidden states, but the graph has no hidden_states.N outputs (outputs: ${Object.keys(out).join(', ')}); re-export it with optimum (which adds them for SDXL text encoders)`);
    name = `hidden_states.${Math.max(...layers) - 1}`;
  }
  const h = out[name];
  if (!h || h.dims.length !== 3) throw new ModelError('family', `${s.path}: no [batch, seq, hidden] output '${name}' (outputs: ${Object.keys(out).join(', ')})`);
  const pooled = out.text_embeds ?? out.pooler_output;
  return { hidden: h, pooled: pooled?.data };
}
