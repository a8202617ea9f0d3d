import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  crc32, readDfc, readDfcHeader, writeDfc, DfcError, DFC_LIMITS, encodePromptBytes, decodePromptBytes, maxCodedPromptBytes, PROMPT_PRIOR,
  type DfcErrorCode, type DfcFile, type DfcHeader,
} from '../src/codec/format/index.js';

const LONG = process.env.DIFFC_LONG === '1';
const fromHex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const ascii = (s: string) => Uint8Array.from(Buffer.from(s, 'latin1'));

function lcg(seed: number) {
  let s = seed >>> 0;
  const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
  return { u32: next, below: (n: number) => Math.floor((next() / 2 ** 32) * n) };
}

function errorCode(fn: () => unknown): DfcErrorCode | 'ok' {
  try {
    fn();
    return 'ok';
  } catch (e) {
    if (!(e instanceof DfcError)) throw new Error(`expected DfcError, got ${String(e)}`);
    return e.code;
  }
}

const typicalHeader = (): DfcHeader => ({
  version: 1,
  model: { id: 'sd-turbo', hash: fromHex('1d5c830be2449a70') },
  image: { width: 512, height: 512, channels: 3 },
  latent: { channels: 4, height: 64, width: 64 },
  schedule: { id: 'ddpm-sl-1000', hash: fromHex('a10f3c77') },
  seed: { lo: 0x9e3779b9, hi: 0x7f4a7c15 },
  recon: { method: 'flow', steps: 4 },
  coding: fromHex('011008'),
  stepsCoded: 12,
});

function samples(): DfcFile[] {
  const r = lcg(3);
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => r.below(256));
  const minimal: DfcHeader = {
    version: 1,
    model: { id: 'm', hash: new Uint8Array(8) },
    image: { width: 1, height: 1, channels: 1 },
    latent: { channels: 1, height: 1, width: 1 },
    schedule: { id: 's', hash: new Uint8Array(4) },
    seed: { lo: 0, hi: 0 },
    recon: { method: 'mse', steps: 0 },
    coding: new Uint8Array(0),
    stepsCoded: 0,
  };
  const L = DFC_LIMITS;
  const maximal: DfcHeader = {
    version: 1,
    model: { id: 'é'.repeat(127) + 'x', hash: bytes(8) },
    image: { width: L.imageSide.max, height: L.imageSide.max, channels: L.imageChannels.max },
    latent: { channels: L.latentChannels.max, height: L.latentSide.max, width: L.latentSide.max },
    schedule: { id: 'z'.repeat(255), hash: bytes(4) },
    seed: { lo: 0xffffffff, hi: 0xffffffff },
    recon: { method: 'ancestral', steps: L.reconSteps.max },
    coding: bytes(L.codingBytes),
    stepsCoded: L.stepsCoded.max,
    prompt: '🌅'.repeat(1024),
    conditioning: { guidance: 100, denoiseGuidance: Math.fround(99.9) },
  };
  const cond = { guidance: 1, denoiseGuidance: 5 };
  return [
    { header: typicalHeader(), payload: bytes(300) },
    { header: { ...typicalHeader(), prompt: '\uFEFFa lighthouse — 灯台 🌊', promptCoding: 'raw' }, payload: bytes(37) },
    { header: { ...typicalHeader(), prompt: '', promptCoding: 'raw' }, payload: new Uint8Array(0) },
    { header: minimal, payload: new Uint8Array(0) },
    { header: (({ conditioning: _c, ...m }) => ({ ...m, promptCoding: 'raw' as const }))(maximal), payload: bytes(5000) },
    // What writers make now: the conditioning field and the coded prompt.
    { header: { ...typicalHeader(), conditioning: cond }, payload: bytes(300) },
    { header: { ...typicalHeader(), conditioning: { guidance: 3.5, denoiseGuidance: 3.5 }, prompt: 'a lighthouse on a cliff at dusk' }, payload: bytes(60) },
    { header: { ...typicalHeader(), conditioning: { guidance: 0, denoiseGuidance: 2 ** -149 }, prompt: '\uFEFFa lighthouse — 灯台 🌊' }, payload: bytes(37) },
    { header: { ...typicalHeader(), conditioning: cond, prompt: '' }, payload: new Uint8Array(0) },
    { header: { ...typicalHeader(), prompt: 'coded, no conditioning' }, payload: bytes(5) },
    { header: { ...typicalHeader(), conditioning: cond, prompt: 'raw with conditioning', promptCoding: 'raw' }, payload: bytes(5) },
    { header: maximal, payload: bytes(5000) },
    // A conditional model's file: the coded condition before the payload (§3.9), empty or not.
    { header: { ...typicalHeader(), conditioning: cond, condition: bytes(41) }, payload: bytes(80) },
    { header: { ...typicalHeader(), conditioning: cond, prompt: 'with a condition', condition: new Uint8Array(0) }, payload: bytes(3) },
  ];
}

/** The header as a JSON vector stores it (hashes and coding blob in hex). */
function headerFromJson(j: Record<string, unknown> & { model: { hash: string }; schedule: { hash: string }; coding: string }): DfcHeader {
  return { ...j, model: { ...j.model, hash: fromHex(j.model.hash) }, schedule: { ...j.schedule, hash: fromHex(j.schedule.hash) }, coding: fromHex(j.coding) } as unknown as DfcHeader;
}

test('CRC-32 check values', () => {
  assert.equal(crc32(ascii('123456789')), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
  assert.equal(crc32(ascii('The quick brown fox jumps over the lazy dog')), 0x414fa339);
  assert.equal(crc32(ascii('xx123456789yy'), 2, 11), 0xcbf43926);
});

test('write/read round trip is exact, and reading a Node Buffer gives plain copies', () => {
  for (const file of samples()) {
    const bytes = writeDfc(file);
    const back = readDfc(bytes);
    assert.deepEqual(back, file);
    assert.deepEqual(writeDfc(back), bytes);
    const fromBuffer = readDfc(Buffer.from(bytes));
    assert.deepEqual(fromBuffer, file);
    assert.equal(Object.getPrototypeOf(fromBuffer.payload), Uint8Array.prototype);
  }
});

test('header size of a typical file', () => {
  const h = typicalHeader();
  const overhead = writeDfc({ header: h, payload: new Uint8Array(0) }).length;
  const withPayload = writeDfc({ header: h, payload: new Uint8Array(300) }).length;
  // magic 4 + version 1 + flags 1 + model id 1+8 + hash 8 + image 2+2+1 + latent 1+1+1
  // + schedule id 1+12 + hash 4 + seed 8 + steps 1 + stepsCoded 1 + coding 1+3 + payload length 1 + CRC 4
  assert.equal(overhead, 67);
  assert.equal(withPayload - 300, 68); // the payload length takes 2 bytes from 128 on
  console.log(`  typical header: ${overhead} bytes with an empty payload, ${withPayload - 300} with 300 payload bytes (ids 'sd-turbo', 'ddpm-sl-1000', 3-byte coding blob, no prompt)`);
  // What writers add now: the conditioning field (2 float32), and a prompt coded instead of raw.
  const cond = { guidance: 1, denoiseGuidance: 5 };
  const size = (x: Partial<DfcHeader>) => writeDfc({ header: { ...h, ...x }, payload: new Uint8Array(0) }).length;
  assert.equal(size({ conditioning: cond }), 75);
  const prompt = 'a lighthouse on a cliff at dusk';
  const raw = size({ prompt, promptCoding: 'raw' }), coded = size({ prompt, conditioning: cond });
  assert.equal(raw, 67 + 1 + 31);
  assert.equal(coded, 75 + 2 + 17);
  console.log(`  with the conditioning field: ${size({ conditioning: cond })} bytes; with a 31-byte prompt: ${coded} (raw prompt and no conditioning: ${raw})`);
});

test('coded prompts: fixed vectors, canonical, within 2n + 1 bytes, and what they save', () => {
  const V = JSON.parse(readFileSync(new URL('./vectors/dfc-prompt-coding-v1.json', import.meta.url), 'utf8'));
  assert.equal(PROMPT_PRIOR.length, 256);
  assert.equal(PROMPT_PRIOR.reduce((a, b) => a + b, 0), 2659);
  let raw = 0, coded = 0;
  for (const c of V.cases as { prompt: string; utf8Bytes: number; coded: string }[]) {
    const utf8 = new TextEncoder().encode(c.prompt);
    assert.equal(utf8.length, c.utf8Bytes);
    const enc = encodePromptBytes(utf8);
    assert.equal(Buffer.from(enc).toString('hex'), c.coded, c.prompt.slice(0, 30));
    assert.deepEqual(decodePromptBytes(enc, utf8.length), utf8);
    assert.ok(enc.length <= maxCodedPromptBytes(utf8.length));
    if (/^[\x20-\x7e]{9,199}$/.test(c.prompt)) { raw += utf8.length; coded += enc.length; }
    // One encoding per prompt: other byte strings are refused or are another prompt's encoding.
    if (enc.length > 0) {
      assert.equal(decodePromptBytes(Uint8Array.from([...enc, 0]), utf8.length), null, 'a trailing zero byte');
      for (const other of [enc.subarray(0, enc.length - 1), Uint8Array.from(enc, (b, i) => (i === 0 ? b ^ 0x40 : b))]) {
        const d = decodePromptBytes(other, utf8.length);
        if (d) {
          assert.notDeepEqual(d, utf8);
          assert.deepEqual(encodePromptBytes(d), other);
        }
      }
    }
  }
  console.log(`  English vector prompts: ${raw} UTF-8 bytes -> ${coded} coded (${(coded / raw).toFixed(2)})`);
  assert.ok(coded / raw < 0.6);
  // The worst case: always the currently least likely byte (not UTF-8; the coder takes any bytes).
  for (const n of [1, 2, 3, 7, 64, DFC_LIMITS.promptBytes]) {
    const freq = [...PROMPT_PRIOR];
    const worst = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 1; k < 256; k++) if (freq[k] < freq[s]) s = k;
      worst[i] = s;
      freq[s] += 16;
      if (freq.reduce((a, b) => a + b, 0) > 8192) for (let k = 0; k < 256; k++) freq[k] = (freq[k] + 1) >>> 1;
    }
    const enc = encodePromptBytes(worst);
    assert.ok(enc.length <= maxCodedPromptBytes(n), `worst case n=${n}: ${enc.length} bytes`);
    assert.deepEqual(decodePromptBytes(enc, n), worst);
  }
});

test('fixed example file (first v1 writers: raw prompt, no conditioning) parses and is reproduced by the writer', () => {
  const bin = new Uint8Array(readFileSync(new URL('./vectors/dfc-example-v1.bin', import.meta.url)));
  const J = JSON.parse(readFileSync(new URL('./vectors/dfc-example-v1.json', import.meta.url), 'utf8'));
  // Its prompt is the raw field (flags bit 2), which the reader reports as promptCoding 'raw'.
  const expected: DfcHeader = { ...headerFromJson(J.header), promptCoding: 'raw' };
  assert.equal(bin.length, J.size);
  const file = readDfc(bin, { expectModelHash: fromHex('1d5c830be2449a70') });
  assert.deepEqual(file.header, expected);
  assert.equal(file.header.conditioning, undefined);
  assert.deepEqual(file.payload, fromHex(J.payload));
  assert.deepEqual(writeDfc({ header: expected, payload: fromHex(J.payload) }), bin);
  assert.deepEqual(writeDfc(file), bin);
  // Spot checks against the spec's layout (docs/format.md §3.3).
  assert.deepEqual(Array.from(bin.subarray(0, 6)), [0x89, 0x44, 0x46, 0x43, 0x01, 0x04]);
  assert.equal(new DataView(bin.buffer, bin.byteOffset).getUint32(bin.length - 4, true), crc32(bin, 0, bin.length - 4));
});

test('fixed example file with the conditioning field and a coded prompt', () => {
  const bin = new Uint8Array(readFileSync(new URL('./vectors/dfc-example-v1-conditioned.bin', import.meta.url)));
  const J = JSON.parse(readFileSync(new URL('./vectors/dfc-example-v1-conditioned.json', import.meta.url), 'utf8'));
  const expected = headerFromJson(J.header);
  assert.equal(bin.length, J.size);
  const file = readDfc(bin);
  assert.deepEqual(file.header, expected);
  assert.deepEqual(file.header.conditioning, { guidance: 3.5, denoiseGuidance: 7.5 });
  assert.equal(file.header.promptCoding, undefined);
  assert.deepEqual(file.payload, fromHex(J.payload));
  assert.deepEqual(writeDfc({ header: expected, payload: fromHex(J.payload) }), bin);
  // Layout (§3.3): flags 0x18 = conditioning + coded prompt, method flow; after the coding blob
  // (varint 3, 01 10 08): guidance 3.5 and 7.5 as float32 LE, then varint 31, varint 17, the coded prompt.
  assert.deepEqual(Array.from(bin.subarray(0, 6)), [0x89, 0x44, 0x46, 0x43, 0x01, 0x18]);
  const coded = fromHex(J.promptCoded);
  const tail = Uint8Array.from([0x03, 0x01, 0x10, 0x08, 0x00, 0x00, 0x60, 0x40, 0x00, 0x00, 0xf0, 0x40, 31, coded.length, ...coded]);
  const at = Buffer.from(bin).indexOf(Buffer.from(tail));
  assert.ok(at > 0, 'coding blob, conditioning and coded prompt are consecutive');
  assert.equal(at + tail.length, bin.length - 4 - 1 - 40, 'then the payload length (1 byte), the payload and the CRC');
});

test('fixed example file with a coded condition (field 17)', () => {
  const bin = new Uint8Array(readFileSync(new URL('./vectors/dfc-example-v1-condition.bin', import.meta.url)));
  const J = JSON.parse(readFileSync(new URL('./vectors/dfc-example-v1-condition.json', import.meta.url), 'utf8'));
  const expected = { ...headerFromJson(J.header), condition: fromHex(J.header.condition) };
  assert.equal(bin.length, J.size);
  const file = readDfc(bin);
  assert.deepEqual(file.header, expected);
  assert.deepEqual(writeDfc({ header: expected, payload: fromHex(J.payload) }), bin);
  // flags 0x38: conditioning, coded prompt, condition; the condition's length and bytes right before the payload's.
  assert.equal(bin[5], 0x38);
  const cond = fromHex(J.header.condition), pay = fromHex(J.payload);
  const at = Buffer.from(bin).indexOf(Buffer.from([cond.length, ...cond, pay.length]));
  assert.equal(at + 1 + cond.length + 1 + pay.length + 4, bin.length);
  // A prefix of the chain keeps the condition (the header is rewritten whole).
  assert.deepEqual(readDfc(writeDfc({ header: { ...file.header, stepsCoded: 1 }, payload: pay.subarray(0, 2) })).header.condition, cond);
});

test('bad guidance values: the writer says invalid, the reader corrupt', () => {
  const base: DfcHeader = { ...typicalHeader(), conditioning: { guidance: 1, denoiseGuidance: 5 } };
  for (const [what, g] of [['NaN', NaN], ['Infinity', Infinity], ['negative', -1], ['-0', -0], ['over 100', 100.5], ['not float32', 0.1], ['string', '1'], ['missing', undefined]] as const) {
    for (const key of ['guidance', 'denoiseGuidance'] as const) {
      const header = { ...base, conditioning: { ...base.conditioning!, [key]: g } };
      assert.equal(errorCode(() => writeDfc({ header, payload: new Uint8Array(1) })), 'invalid', `${key} ${what}`);
    }
  }
  assert.equal(errorCode(() => writeDfc({ header: { ...base, conditioning: 3 as unknown as DfcHeader['conditioning'] }, payload: new Uint8Array(0) })), 'invalid');
  assert.equal(errorCode(() => writeDfc({ header: { ...base, promptCoding: 'raw' }, payload: new Uint8Array(0) })), 'invalid', 'promptCoding without a prompt');
  assert.equal(errorCode(() => writeDfc({ header: { ...base, prompt: 'x', promptCoding: 'zip' as 'raw' }, payload: new Uint8Array(0) })), 'invalid');
  assert.equal(errorCode(() => writeDfc({ header: { ...base, prompt: 'x'.repeat(4097) }, payload: new Uint8Array(0) })), 'invalid');
  // The reader: the field sits right after the coding blob (a 3-byte blob ending 01 10 08).
  const good = writeDfc({ header: base, payload: new Uint8Array(3) });
  const at = Buffer.from(good).indexOf(Buffer.from([0x03, 0x01, 0x10, 0x08])) + 4;
  assert.equal(new DataView(good.buffer).getFloat32(at + 4, true), 5);
  for (const bits of [0x7fc00000, 0x7f800000, 0xff800000, 0x80000000, 0xbf800000, 0x42ca0000 /* 101 */, 0x42c80001 /* just over 100 */]) {
    for (const off of [0, 4]) {
      const m = good.slice();
      new DataView(m.buffer).setUint32(at + off, bits, true);
      assert.equal(errorCode(() => readDfc(fixCrc(m))), 'corrupt', `bits 0x${bits.toString(16)} at +${off}`);
      assert.equal(errorCode(() => readDfcHeader(m)), 'corrupt');
    }
  }
  for (const [bits, value] of [[0x42c80000, 100], [0x00000000, 0], [0x00000001, 2 ** -149]] as const) {
    const m = good.slice();
    new DataView(m.buffer).setUint32(at, bits, true);
    assert.equal(readDfc(fixCrc(m)).header.conditioning?.guidance, value);
  }
});

test('bad coded prompts are corrupt; both prompt flags are corrupt; legacy files read as before', () => {
  const h: DfcHeader = { ...typicalHeader(), conditioning: { guidance: 1, denoiseGuidance: 1 } };
  const prompt = 'a red bicycle';
  const utf8 = new TextEncoder().encode(prompt);
  const coded = encodePromptBytes(utf8);
  const good = writeDfc({ header: { ...h, prompt }, payload: new Uint8Array(0) });
  const field = Uint8Array.from([utf8.length, coded.length, ...coded]);
  const at = Buffer.from(good).indexOf(Buffer.from(field));
  assert.ok(at > 0);
  const withField = (f: number[]) => fixCrc(Uint8Array.from([...good.subarray(0, at), ...f, ...good.subarray(at + field.length)]));
  assert.deepEqual(readDfc(withField([...field])).header.prompt, prompt);
  // A longer stream that decodes to the same bytes, a changed byte, the wrong length, an over-long field.
  assert.equal(errorCode(() => readDfc(withField([utf8.length, coded.length + 1, ...coded, 0x80]))), 'corrupt');
  assert.equal(errorCode(() => readDfc(withField([utf8.length, coded.length, ...coded.subarray(0, -1), coded.at(-1)! ^ 1]))), 'corrupt');
  assert.equal(errorCode(() => readDfc(withField([utf8.length + 2, coded.length, ...coded]))), 'corrupt', 'two bytes longer');
  assert.equal(errorCode(() => readDfc(withField([0, 1, 0x33]))), 'corrupt', 'coded bytes for an empty prompt');
  assert.equal(errorCode(() => readDfc(withField([1, 4, 1, 2, 3, 4]))), 'corrupt', 'over 2n + 1 bytes');
  assert.equal(errorCode(() => readDfc(withField([0x81, 0x20, 0]))), 'corrupt', 'prompt length 4097');
  // Well-coded bytes that are not UTF-8.
  const notUtf8 = encodePromptBytes(Uint8Array.from([0x61, 0xff, 0x62]));
  assert.equal(errorCode(() => readDfc(withField([3, notUtf8.length, ...notUtf8]))), 'corrupt');
  // The field's end cut off: truncated, not corrupt.
  assert.equal(errorCode(() => readDfcHeader(good.subarray(0, at + field.length - 1))), 'truncated');
  // Raw (bit 2) and coded (bit 4) prompt together.
  const both = good.slice();
  both[5] |= 0x04;
  assert.equal(errorCode(() => readDfc(fixCrc(both))), 'corrupt');
  // A file of the first writers: no conditioning, raw prompt; read as such and rewritten as it was.
  const legacy = writeDfc({ header: { ...typicalHeader(), prompt, promptCoding: 'raw' }, payload: new Uint8Array(9) });
  assert.equal(legacy[5], 0x04);
  assert.ok(Buffer.from(legacy).includes(Buffer.from([utf8.length, ...utf8])));
  const back = readDfc(legacy);
  assert.equal(back.header.conditioning, undefined);
  assert.equal(back.header.prompt, prompt);
  assert.equal(back.header.promptCoding, 'raw');
  assert.deepEqual(writeDfc(back), legacy);
});

test('reader error codes: magic, version, truncated, corrupt, model-mismatch', () => {
  const good = writeDfc(samples()[0]);
  const withByte = (i: number, v: number) => { const b = good.slice(); b[i] = v; return b; };
  assert.equal(errorCode(() => readDfc(ascii('GIF89a....'))), 'magic');
  assert.equal(errorCode(() => readDfc(withByte(0, 0x88))), 'magic');
  assert.equal(errorCode(() => readDfc(new Uint8Array(0))), 'truncated');
  assert.equal(errorCode(() => readDfc(good.subarray(0, 4))), 'truncated');
  for (const v of [0, 2, 17, 255]) {
    const b = withByte(4, v);
    assert.equal(errorCode(() => readDfc(b)), 'version');
  }
  assert.throws(() => readDfc(withByte(4, 2)), /version 2 is newer than this reader/);
  // Truncation at every length of every sample file.
  for (const whole of samples().map(writeDfc)) {
    for (let n = 0; n < whole.length; n++) assert.equal(errorCode(() => readDfc(whole.subarray(0, n))), 'truncated', `prefix ${n}`);
  }
  assert.equal(errorCode(() => readDfc(Uint8Array.from([...good, 0]))), 'corrupt');
  assert.equal(errorCode(() => readDfc(withByte(good.length - 1, good[good.length - 1] ^ 1))), 'corrupt');
  for (const bit of [0x40, 0x80]) assert.equal(errorCode(() => readDfc(withByte(5, bit))), 'corrupt'); // reserved flag bits
  // The condition flag on a file without the field: what follows does not parse as it.
  assert.notEqual(errorCode(() => readDfc(withByte(5, good[5] | 0x20))), 'ok');
  // Its length is bounded (2^24) and checked against the bytes present before anything is copied.
  const withCond = writeDfc({ header: { ...typicalHeader(), condition: Uint8Array.from([1, 2, 3]) }, payload: new Uint8Array(4) });
  assert.deepEqual(readDfc(withCond).header.condition, Uint8Array.from([1, 2, 3]));
  assert.throws(() => writeDfc({ header: { ...typicalHeader(), condition: new Uint8Array(2 ** 24 + 1) }, payload: new Uint8Array(0) }), /condition must be 0\.\.16777216 bytes/);
  assert.equal(errorCode(() => readDfc(good, { expectModelHash: new Uint8Array(8) })), 'model-mismatch');
  assert.equal(errorCode(() => readDfc(good, { expectModelHash: new Uint8Array(4) })), 'invalid');
  assert.equal(errorCode(() => readDfc('not bytes' as unknown as Uint8Array)), 'invalid');
  // A corrupt file reports 'corrupt', not 'model-mismatch', even if the hash also differs.
  assert.equal(errorCode(() => readDfc(withByte(good.length - 1, 0), { expectModelHash: new Uint8Array(8) })), 'corrupt');
  // Every single-bit error is caught.
  for (let i = 0; i < good.length; i++) {
    for (let bit = 0; bit < 8; bit++) {
      const b = withByte(i, good[i] ^ (1 << bit));
      assert.notEqual(errorCode(() => readDfc(b)), 'ok', `flip byte ${i} bit ${bit}`);
    }
  }
});

test('varint blow-ups: huge declared lengths fail fast without allocating', () => {
  // payload length 2^32 - 1 declared in a tiny file
  const h = typicalHeader();
  const good = writeDfc({ header: h, payload: new Uint8Array(0) });
  const at = good.length - 5; // payload length varint (1 byte, 0), then CRC
  assert.equal(good[at], 0);
  const huge = Uint8Array.from([...good.subarray(0, at), 0xff, 0xff, 0xff, 0xff, 0x0f, ...good.subarray(at + 1)]);
  assert.equal(errorCode(() => readDfc(huge)), 'truncated');
  const tooLong = Uint8Array.from([...good.subarray(0, at), 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, ...good.subarray(at + 1)]);
  assert.equal(errorCode(() => readDfc(tooLong)), 'corrupt');
  const over32 = Uint8Array.from([...good.subarray(0, at), 0xff, 0xff, 0xff, 0xff, 0x10, ...good.subarray(at + 1)]);
  assert.equal(errorCode(() => readDfc(over32)), 'corrupt');
  const nonMinimal = Uint8Array.from([...good.subarray(0, at), 0x80, 0x00, ...good.subarray(at + 1)]);
  assert.equal(errorCode(() => readDfc(nonMinimal)), 'corrupt');
});

test('writer validation rejects bad headers with DfcError invalid', () => {
  const base = typicalHeader();
  const bad: Array<[string, unknown]> = [
    ['version', { ...base, version: 2 }],
    ['empty model id', { ...base, model: { ...base.model, id: '' } }],
    ['long model id', { ...base, model: { ...base.model, id: 'é'.repeat(128) } }],
    ['lone surrogate', { ...base, model: { ...base.model, id: 'a\uD800b' } }],
    ['hash length', { ...base, model: { ...base.model, hash: new Uint8Array(7) } }],
    ['hash type', { ...base, model: { ...base.model, hash: [1, 2, 3, 4, 5, 6, 7, 8] } }],
    ['schedule hash', { ...base, schedule: { ...base.schedule, hash: new Uint8Array(8) } }],
    ['width 0', { ...base, image: { ...base.image, width: 0 } }],
    ['width float', { ...base, image: { ...base.image, width: 1.5 } }],
    ['width NaN', { ...base, image: { ...base.image, width: NaN } }],
    ['height big', { ...base, image: { ...base.image, height: 65536 } }],
    ['channels 5', { ...base, image: { ...base.image, channels: 5 } }],
    ['latent', { ...base, latent: { ...base.latent, channels: 0 } }],
    ['seed negative', { ...base, seed: { lo: -1, hi: 0 } }],
    ['seed 2^32', { ...base, seed: { lo: 0, hi: 2 ** 32 } }],
    ['method', { ...base, recon: { method: 'euler', steps: 4 } }],
    ['steps', { ...base, recon: { method: 'flow', steps: -1 } }],
    ['coding size', { ...base, coding: new Uint8Array(1025) }],
    ['stepsCoded', { ...base, stepsCoded: 2 ** 28 + 1 }],
    ['prompt size', { ...base, prompt: 'x'.repeat(4097) }],
    ['prompt type', { ...base, prompt: 42 }],
    ['missing field', { ...base, latent: undefined }],
  ];
  for (const [what, header] of bad) {
    assert.equal(errorCode(() => writeDfc({ header: header as DfcHeader, payload: new Uint8Array(1) })), 'invalid', what);
  }
  assert.equal(errorCode(() => writeDfc({ header: base, payload: [1, 2] as unknown as Uint8Array })), 'invalid');
  assert.equal(errorCode(() => writeDfc(null as unknown as DfcFile)), 'invalid');
});

// ---------------------------------------------------------------------------------------------
// Fuzzing: every mutant either fails with a DfcError or parses to a header that the writer turns
// back into exactly the same bytes (one encoding per header).

type Mutator = (b: Uint8Array, r: ReturnType<typeof lcg>) => Uint8Array;

const mutators: Array<[string, Mutator]> = [
  ['bit flips', (b, r) => { const m = b.slice(); for (let k = 1 + r.below(4); k > 0; k--) { const i = r.below(m.length); m[i] ^= 1 << r.below(8); } return m; }],
  ['byte set', (b, r) => { const m = b.slice(); m[r.below(m.length)] = r.below(256); return m; }],
  ['insert', (b, r) => { const i = r.below(b.length + 1); return Uint8Array.from([...b.subarray(0, i), r.below(256), ...b.subarray(i)]); }],
  ['delete', (b, r) => { const i = r.below(b.length); return Uint8Array.from([...b.subarray(0, i), ...b.subarray(i + 1)]); }],
  ['truncate', (b, r) => b.slice(0, r.below(b.length))],
  ['random span', (b, r) => { const m = b.slice(); const i = r.below(m.length), n = 1 + r.below(16); for (let j = i; j < Math.min(m.length, i + n); j++) m[j] = r.below(256); return m; }],
  ['random bytes', (_b, r) => Uint8Array.from({ length: r.below(200) }, () => r.below(256))],
  ['random after magic', (b, r) => Uint8Array.from([...b.subarray(0, 5), ...Array.from({ length: r.below(200) }, () => r.below(256))])],
  ['varint blow-up', (b, r) => {
    const i = 6 + r.below(Math.max(1, b.length - 6));
    const run = Array.from({ length: 1 + r.below(8) }, () => (r.below(2) ? 0xff : 0x80));
    return Uint8Array.from([...b.subarray(0, i), ...run, ...b.subarray(i + (r.below(2) ? 0 : 1))]);
  }],
  ['duplicate span', (b, r) => { const i = r.below(b.length), n = 1 + r.below(12); return Uint8Array.from([...b.subarray(0, i + n), ...b.subarray(i, i + n), ...b.subarray(i + n)]); }],
];

/** Recomputes the trailing CRC so that the mutation reaches the structural checks (hoisted: used above too). */
function fixCrc(m: Uint8Array): Uint8Array {
  if (m.length < 4) return m;
  const out = m.slice();
  new DataView(out.buffer).setUint32(out.length - 4, crc32(out, 0, out.length - 4), true);
  return out;
}

test(`fuzz: ${LONG ? '≥ 100,000' : 'a few thousand'} mutations give a DfcError or an exact round trip`, () => {
  const bases = samples().map(writeDfc);
  const total = LONG ? 120_000 : 6000;
  const r = lcg(LONG ? 0xfeed : 0xbeef);
  const typicalHash = typicalHeader().model.hash;
  const outcomes = new Map<string, number>();
  const t0 = performance.now();
  for (let n = 0; n < total; n++) {
    const base = bases[n % bases.length];
    const [name, mutate] = mutators[r.below(mutators.length)];
    let m = mutate(base, r);
    if (r.below(2)) m = fixCrc(m);
    const expectModelHash = r.below(4) === 0 ? typicalHash : undefined;
    let code: string;
    try {
      const file = readDfc(m, { expectModelHash });
      code = 'ok';
      const again = writeDfc(file);
      assert.deepEqual(again, m, `${name}: accepted mutant is not canonical`);
      assert.deepEqual(readDfc(again), file);
    } catch (e) {
      if (!(e instanceof DfcError)) throw new Error(`${name}: non-DfcError ${String(e)}`, { cause: e });
      if (e.code === 'invalid') throw new Error(`${name}: reader reported 'invalid': ${e.message}`);
      code = e.code;
    }
    outcomes.set(code, (outcomes.get(code) ?? 0) + 1);
  }
  const ms = performance.now() - t0;
  console.log(`  ${total} mutations in ${ms.toFixed(0)} ms: ${[...outcomes].map(([k, v]) => `${k} ${v}`).join(', ')}`);
  assert.ok((outcomes.get('corrupt') ?? 0) > 0 && (outcomes.get('truncated') ?? 0) > 0);
});
