/**
 * The .dfc container, version 1 (docs/format.md §3): a small header of LEB128 fields, the codec
 * payload, and a CRC-32 over everything before it. writeDfc and readDfc mirror each other field
 * for field; every file the reader accepts is byte-identical to what the writer makes of its
 * result (one encoding per header).
 *
 * Optional fields, each marked by a flags bit: the prompt as raw UTF-8 (bit 2, the first v1
 * files), the conditioning (bit 3: encode and denoise guidance as float32) and the prompt
 * range-coded (bit 4, §3.7), and a coded condition (bit 5, §3.9: a conditional model's side
 * information, sent before the chain). Writers write the conditioning and code the prompt; files
 * without the conditioning decode with their model family's legacy values (src/models/guidance.ts).
 */
import { ByteReader, ByteWriter, MAX_VARINT } from './bytes.js';
import { crc32 } from './crc32.js';
import { DfcError } from './errors.js';
import { decodePromptBytes, encodePromptBytes, maxCodedPromptBytes, PROMPT_MAX_BYTES } from './prompt.js';

export { DfcError, type DfcErrorCode } from './errors.js';

export type ReconMethod = 'flow' | 'ancestral' | 'mse';

/**
 * The guidance of the model calls a decoder makes (docs/format.md §3.3 field 15): `guidance` for
 * the coded chain (the encoder's and decoder's denoiser must agree on it), `denoiseGuidance` for
 * the final reconstruction from the last coded step to x0. Each a float32 value in [0, 100].
 */
export interface DfcConditioning {
  guidance: number;
  denoiseGuidance: number;
}

export interface DfcHeader {
  version: 1;
  model: { id: string; hash: Uint8Array };
  image: { width: number; height: number; channels: number };
  latent: { channels: number; height: number; width: number };
  schedule: { id: string; hash: Uint8Array };
  seed: { lo: number; hi: number };
  recon: { method: ReconMethod; steps: number };
  /** Opaque codec-parameter blob, defined by the codec layer (docs/format.md §4). */
  coding: Uint8Array;
  /** Diffusion steps in the payload; any prefix of them decodes (progressive). */
  stepsCoded: number;
  prompt?: string;
  /**
   * How `prompt` is stored: 'coded' (range-coded, §3.7; the default, what writers use) or 'raw'
   * (UTF-8, as the first v1 files). The reader sets it only for 'raw', so a file's header
   * re-serialises to the same bytes.
   */
  promptCoding?: 'raw' | 'coded';
  /** Absent in files written before the header carried guidance (their family's legacy values apply). */
  conditioning?: DfcConditioning;
  /** A conditional model's coded condition (§3.9), opaque here: the model family decodes it. */
  condition?: Uint8Array;
}

export interface DfcFile {
  header: DfcHeader;
  payload: Uint8Array;
}

/** Magic bytes: 0x89 'D' 'F' 'C' (the high first byte catches 7-bit and text-mode mangling). */
export const DFC_MAGIC: readonly number[] = [0x89, 0x44, 0x46, 0x43];
export const DFC_VERSION = 1;

/** Field bounds of version 1 (docs/format.md §3.4). Writer: outside → 'invalid'; reader → 'corrupt'. */
export const DFC_LIMITS = {
  modelIdBytes: { min: 1, max: 255 },
  modelHashBytes: 8,
  scheduleIdBytes: { min: 1, max: 255 },
  scheduleHashBytes: 4,
  imageSide: { min: 1, max: 65535 },
  imageChannels: { min: 1, max: 4 },
  latentChannels: { min: 1, max: 4096 },
  latentSide: { min: 1, max: 65535 },
  reconSteps: { min: 0, max: 65535 },
  stepsCoded: { min: 0, max: 2 ** 28 },
  codingBytes: 1024,
  promptBytes: PROMPT_MAX_BYTES,
  /** Coded prompt: at most 2n + 1 bytes for n UTF-8 bytes (§3.7). */
  promptCodedBytes: maxCodedPromptBytes(PROMPT_MAX_BYTES),
  guidance: { min: 0, max: 100 },
  conditionBytes: 2 ** 24,
  payloadBytes: MAX_VARINT,
} as const;

const RECON_METHODS: readonly ReconMethod[] = ['flow', 'ancestral', 'mse'];
const FLAG_METHOD_MASK = 0x03;
const FLAG_PROMPT_RAW = 0x04;
const FLAG_CONDITIONING = 0x08;
const FLAG_PROMPT_CODED = 0x10;
const FLAG_CONDITION = 0x20;
const FLAG_RESERVED = 0xc0;

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// ---------------------------------------------------------------------------------------------
// Writer

function invalid(message: string): never {
  throw new DfcError('invalid', message);
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null;
}

function checkInt(value: unknown, what: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    invalid(`${what} must be an integer in [${min}, ${max}], got ${String(value)}`);
  }
  return value;
}

function checkBytes(value: unknown, what: string, min: number, max: number): Uint8Array {
  if (!(value instanceof Uint8Array)) invalid(`${what} must be a Uint8Array`);
  if (value.length < min || value.length > max) {
    invalid(min === max ? `${what} must be ${min} bytes, got ${value.length}` : `${what} must be ${min}..${max} bytes, got ${value.length}`);
  }
  return value;
}

/** UTF-8 of a string; lone surrogates have no UTF-8 form and would not round-trip. */
function checkUtf8(value: unknown, what: string, min: number, max: number): Uint8Array {
  if (typeof value !== 'string') invalid(`${what} must be a string`);
  if (/[\uD800-\uDFFF]/u.test(value)) invalid(`${what} contains a lone surrogate`);
  return checkBytes(utf8Encoder.encode(value), `${what} (UTF-8)`, min, max);
}

function obj(value: unknown, what: string): Record<string, unknown> {
  if (!isRecord(value)) invalid(`${what} must be an object`);
  return value;
}

/** A guidance value as the header stores it: a float32 (exactly), finite, +0 or positive, at most 100. */
function checkGuidance(value: unknown, what: string): number {
  const { min, max } = DFC_LIMITS.guidance;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || Object.is(value, -0)) {
    invalid(`${what} must be a number in [${min}, ${max}], got ${String(value)}`);
  }
  if (Math.fround(value) !== value) invalid(`${what} ${value} is not a float32 value (round it with Math.fround first)`);
  return value;
}

export function writeDfc(file: DfcFile): Uint8Array {
  const L = DFC_LIMITS;
  const f = obj(file, 'file');
  const h = obj(f.header, 'header');
  if (h.version !== DFC_VERSION) invalid(`header.version must be ${DFC_VERSION}, got ${String(h.version)}`);
  const model = obj(h.model, 'header.model');
  const image = obj(h.image, 'header.image');
  const latent = obj(h.latent, 'header.latent');
  const schedule = obj(h.schedule, 'header.schedule');
  const seed = obj(h.seed, 'header.seed');
  const recon = obj(h.recon, 'header.recon');

  const modelId = checkUtf8(model.id, 'model.id', L.modelIdBytes.min, L.modelIdBytes.max);
  const modelHash = checkBytes(model.hash, 'model.hash', L.modelHashBytes, L.modelHashBytes);
  const scheduleId = checkUtf8(schedule.id, 'schedule.id', L.scheduleIdBytes.min, L.scheduleIdBytes.max);
  const scheduleHash = checkBytes(schedule.hash, 'schedule.hash', L.scheduleHashBytes, L.scheduleHashBytes);
  const methodIndex = RECON_METHODS.indexOf(recon.method as ReconMethod);
  if (methodIndex < 0) invalid(`recon.method must be one of ${RECON_METHODS.join(', ')}, got ${String(recon.method)}`);
  const coding = checkBytes(h.coding, 'coding', 0, L.codingBytes);
  const prompt = h.prompt === undefined ? undefined : checkUtf8(h.prompt, 'prompt', 0, L.promptBytes);
  if (h.promptCoding !== undefined && h.promptCoding !== 'raw' && h.promptCoding !== 'coded') invalid(`promptCoding must be 'raw' or 'coded', got ${String(h.promptCoding)}`);
  if (h.promptCoding !== undefined && prompt === undefined) invalid('promptCoding is given but there is no prompt');
  const rawPrompt = h.promptCoding === 'raw';
  let conditioning: { guidance: number; denoiseGuidance: number } | undefined;
  if (h.conditioning !== undefined) {
    const c = obj(h.conditioning, 'header.conditioning');
    conditioning = { guidance: checkGuidance(c.guidance, 'conditioning.guidance'), denoiseGuidance: checkGuidance(c.denoiseGuidance, 'conditioning.denoiseGuidance') };
  }
  const condition = h.condition === undefined ? undefined : checkBytes(h.condition, 'condition', 0, L.conditionBytes);
  const payload = checkBytes(f.payload, 'payload', 0, L.payloadBytes);

  const w = new ByteWriter();
  for (const b of DFC_MAGIC) w.u8(b);
  w.u8(DFC_VERSION);
  const promptFlag = prompt === undefined ? 0 : rawPrompt ? FLAG_PROMPT_RAW : FLAG_PROMPT_CODED;
  w.u8(methodIndex | promptFlag | (conditioning ? FLAG_CONDITIONING : 0) | (condition ? FLAG_CONDITION : 0));
  w.lengthPrefixed(modelId);
  w.bytes(modelHash);
  w.varint(checkInt(image.width, 'image.width', L.imageSide.min, L.imageSide.max));
  w.varint(checkInt(image.height, 'image.height', L.imageSide.min, L.imageSide.max));
  w.varint(checkInt(image.channels, 'image.channels', L.imageChannels.min, L.imageChannels.max));
  w.varint(checkInt(latent.channels, 'latent.channels', L.latentChannels.min, L.latentChannels.max));
  w.varint(checkInt(latent.height, 'latent.height', L.latentSide.min, L.latentSide.max));
  w.varint(checkInt(latent.width, 'latent.width', L.latentSide.min, L.latentSide.max));
  w.lengthPrefixed(scheduleId);
  w.bytes(scheduleHash);
  w.u32le(checkInt(seed.lo, 'seed.lo', 0, 0xffffffff));
  w.u32le(checkInt(seed.hi, 'seed.hi', 0, 0xffffffff));
  w.varint(checkInt(recon.steps, 'recon.steps', L.reconSteps.min, L.reconSteps.max));
  w.varint(checkInt(h.stepsCoded, 'stepsCoded', L.stepsCoded.min, L.stepsCoded.max));
  w.lengthPrefixed(coding);
  if (prompt && rawPrompt) w.lengthPrefixed(prompt);
  if (conditioning) {
    w.f32le(conditioning.guidance);
    w.f32le(conditioning.denoiseGuidance);
  }
  if (prompt && !rawPrompt) {
    w.varint(prompt.length);
    w.lengthPrefixed(encodePromptBytes(prompt));
  }
  if (condition) w.lengthPrefixed(condition);
  w.lengthPrefixed(payload);
  const bodyEnd = w.length;
  const out = w.finish();
  const withCrc = new Uint8Array(bodyEnd + 4);
  withCrc.set(out);
  new DataView(withCrc.buffer).setUint32(bodyEnd, crc32(out), true);
  return withCrc;
}

// ---------------------------------------------------------------------------------------------
// Reader

function readUtf8(r: ByteReader, what: string, min: number, max: number): string {
  const start = r.pos;
  const raw = r.lengthPrefixed(max, what);
  if (raw.length < min) throw new DfcError('corrupt', `${what} at offset ${start} is ${raw.length} bytes, at least ${min} required`);
  return decodeUtf8(raw, what, start);
}

function decodeUtf8(raw: Uint8Array, what: string, start: number): string {
  try {
    return utf8Decoder.decode(raw);
  } catch {
    throw new DfcError('corrupt', `${what} at offset ${start} is not valid UTF-8`);
  }
}

/** A float32 guidance value: finite, sign bit clear, at most 100 (else 'corrupt'). */
function readGuidance(r: ByteReader, what: string): number {
  const start = r.pos;
  const { bits, value } = r.f32le(what);
  const { min, max } = DFC_LIMITS.guidance;
  if (bits >>> 31 || !Number.isFinite(value) || value < min || value > max) {
    throw new DfcError('corrupt', `${what} at offset ${start} (float32 bits 0x${bits.toString(16).padStart(8, '0')}) is not a number in [${min}, ${max}]`);
  }
  return value;
}

/** §3.7: UTF-8 length, coded length, coded bytes; accepted only as the writer's exact encoding. */
function readCodedPrompt(r: ByteReader): string {
  const L = DFC_LIMITS;
  const start = r.pos;
  const n = r.boundedVarint('prompt length', 0, L.promptBytes);
  const coded = r.lengthPrefixed(maxCodedPromptBytes(n), 'coded prompt');
  const utf8 = decodePromptBytes(coded, n);
  if (!utf8) throw new DfcError('corrupt', `coded prompt at offset ${start} is not the encoding of ${n} bytes`);
  return decodeUtf8(utf8, 'prompt', start);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

function checkMagicVersion(bytes: Uint8Array): void {
  for (let i = 0; i < DFC_MAGIC.length; i++) {
    if (i >= bytes.length) throw new DfcError('truncated', `file is ${bytes.length} bytes, shorter than the magic`);
    if (bytes[i] !== DFC_MAGIC[i]) throw new DfcError('magic', 'not a .dfc file (bad magic)');
  }
  if (bytes.length <= DFC_MAGIC.length) throw new DfcError('truncated', 'file ends before the version byte');
  const version = bytes[DFC_MAGIC.length];
  if (version !== DFC_VERSION) {
    throw new DfcError('version', version > DFC_VERSION
      ? `.dfc version ${version} is newer than this reader (supports ${DFC_VERSION})`
      : `.dfc version ${version} is not supported (this reader supports ${DFC_VERSION})`);
  }
}

/** The header fields, from the flags byte to the prompt; leaves `r` at the payload length. */
function readHeaderFields(r: ByteReader): DfcHeader {
  const L = DFC_LIMITS;
  r.pos = DFC_MAGIC.length + 1;
  const flags = r.u8('flags');
  if (flags & FLAG_RESERVED) throw new DfcError('corrupt', `reserved flag bits set (flags 0x${flags.toString(16)})`);
  if (flags & FLAG_PROMPT_RAW && flags & FLAG_PROMPT_CODED) throw new DfcError('corrupt', `two prompts flagged (flags 0x${flags.toString(16)})`);
  if ((flags & FLAG_METHOD_MASK) >= RECON_METHODS.length) throw new DfcError('corrupt', `unknown recon method ${flags & FLAG_METHOD_MASK}`);
  const method = RECON_METHODS[flags & FLAG_METHOD_MASK];

  const modelId = readUtf8(r, 'model.id', L.modelIdBytes.min, L.modelIdBytes.max);
  const modelHash = r.bytes(L.modelHashBytes, 'model.hash');
  const width = r.boundedVarint('image.width', L.imageSide.min, L.imageSide.max);
  const height = r.boundedVarint('image.height', L.imageSide.min, L.imageSide.max);
  const channels = r.boundedVarint('image.channels', L.imageChannels.min, L.imageChannels.max);
  const latentChannels = r.boundedVarint('latent.channels', L.latentChannels.min, L.latentChannels.max);
  const latentHeight = r.boundedVarint('latent.height', L.latentSide.min, L.latentSide.max);
  const latentWidth = r.boundedVarint('latent.width', L.latentSide.min, L.latentSide.max);
  const scheduleId = readUtf8(r, 'schedule.id', L.scheduleIdBytes.min, L.scheduleIdBytes.max);
  const scheduleHash = r.bytes(L.scheduleHashBytes, 'schedule.hash');
  const seedLo = r.u32le('seed.lo');
  const seedHi = r.u32le('seed.hi');
  const reconSteps = r.boundedVarint('recon.steps', L.reconSteps.min, L.reconSteps.max);
  const stepsCoded = r.boundedVarint('stepsCoded', L.stepsCoded.min, L.stepsCoded.max);
  const coding = r.lengthPrefixed(L.codingBytes, 'coding');
  const rawPrompt = flags & FLAG_PROMPT_RAW ? readUtf8(r, 'prompt', 0, L.promptBytes) : undefined;
  const conditioning = flags & FLAG_CONDITIONING
    ? { guidance: readGuidance(r, 'conditioning.guidance'), denoiseGuidance: readGuidance(r, 'conditioning.denoiseGuidance') }
    : undefined;
  const prompt = flags & FLAG_PROMPT_CODED ? readCodedPrompt(r) : rawPrompt;
  const condition = flags & FLAG_CONDITION ? r.lengthPrefixed(L.conditionBytes, 'condition') : undefined;

  const header: DfcHeader = {
    version: DFC_VERSION,
    model: { id: modelId, hash: modelHash },
    image: { width, height, channels },
    latent: { channels: latentChannels, height: latentHeight, width: latentWidth },
    schedule: { id: scheduleId, hash: scheduleHash },
    seed: { lo: seedLo, hi: seedHi },
    recon: { method, steps: reconSteps },
    coding,
    stepsCoded,
  };
  if (prompt !== undefined) header.prompt = prompt;
  if (rawPrompt !== undefined) header.promptCoding = 'raw';
  if (conditioning) header.conditioning = conditioning;
  if (condition) header.condition = condition;
  return header;
}

/**
 * The header of a .dfc from a prefix of the file (a ranged read of its first bytes), for deciding
 * whether an existing output can be kept without fetching it. Not verified: the checksum covers
 * the whole file, so a decoder must still use readDfc. DfcError 'truncated' when `bytes` ends
 * inside the header (read more).
 */
export function readDfcHeader(bytes: Uint8Array): DfcHeader {
  if (!(bytes instanceof Uint8Array)) throw new DfcError('invalid', 'input must be a Uint8Array');
  checkMagicVersion(bytes);
  return readHeaderFields(new ByteReader(bytes));
}

/** DfcError 'model-mismatch' unless the header's model hash is `expect` (readDfc's last check, §3.6 step 5). */
export function checkModelHash(header: DfcHeader, expect: Uint8Array): void {
  if (!sameBytes(expect, header.model.hash)) {
    throw new DfcError('model-mismatch', `file was coded with model ${header.model.id} (hash ${hex(header.model.hash)}), expected hash ${hex(expect)}`);
  }
}

export interface ReadDfcOptions {
  /** If given (8 bytes), the file's model hash must equal it, else DfcError 'model-mismatch'. */
  expectModelHash?: Uint8Array;
}

/**
 * Parses and checks a .dfc file. Throws only DfcError, in the order of docs/format.md §3.6:
 * magic, version, truncated/corrupt structure, checksum, model mismatch.
 */
export function readDfc(bytes: Uint8Array, opts: ReadDfcOptions = {}): DfcFile {
  const L = DFC_LIMITS;
  if (!(bytes instanceof Uint8Array)) throw new DfcError('invalid', 'input must be a Uint8Array');
  const expect = opts.expectModelHash;
  if (expect !== undefined && !(expect instanceof Uint8Array && expect.length === L.modelHashBytes)) {
    throw new DfcError('invalid', `expectModelHash must be a ${L.modelHashBytes}-byte Uint8Array`);
  }

  checkMagicVersion(bytes);
  const r = new ByteReader(bytes);
  const header = readHeaderFields(r);

  const lengthAt = r.pos;
  const payloadLength = r.varint('payload length');
  if (payloadLength + 4 > r.remaining) {
    throw new DfcError('truncated', `payload of ${payloadLength} bytes and checksum need ${payloadLength + 4} bytes after offset ${r.pos}, ${r.remaining} left`);
  }
  if (payloadLength + 4 < r.remaining) {
    throw new DfcError('corrupt', `${r.remaining - payloadLength - 4} unexpected bytes after the checksum (payload length at offset ${lengthAt})`);
  }
  const payload = r.bytes(payloadLength, 'payload');
  const bodyEnd = r.pos;
  const stored = r.u32le('checksum');
  const computed = crc32(bytes, 0, bodyEnd);
  if (stored !== computed) {
    throw new DfcError('corrupt', `checksum mismatch (stored 0x${stored.toString(16).padStart(8, '0')}, computed 0x${computed.toString(16).padStart(8, '0')})`);
  }

  if (expect !== undefined) checkModelHash(header, expect);

  return { header, payload };
}
