/**
 * Regenerates the bitstream test vectors from the TypeScript reference:
 *   test/vectors/entropy-v1.json   range-coder encodings (ops to replay + exact output bytes)
 *   test/vectors/dfc-example-v1.bin / .json   a small .dfc file of the first v1 writers (raw
 *       prompt, no conditioning field) and its expected header
 *   test/vectors/dfc-example-v1-conditioned.bin / .json   the same file as writers make it now:
 *       conditioning (guidance, denoise guidance) and the range-coded prompt (§3.7)
 *   test/vectors/dfc-example-v1-condition.bin / .json   a conditional model's file: the coded
 *       condition field (§3.9) as well
 *   test/vectors/dfc-prompt-coding-v1.json   coded prompts (§3.7): UTF-8 in, exact bytes out
 * The files are normative once committed: changing them means changing docs/format.md's version.
 * Usage: npx tsx scripts/gen-format-vectors.ts
 */
import { writeFileSync } from 'node:fs';
import { AdaptiveIntCoder, AdaptiveModel, RangeEncoder, StaticModel, type AdaptiveModelOptions } from '../src/codec/entropy/index.js';
import { encodePromptBytes, writeDfc, type DfcHeader } from '../src/codec/format/index.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const fromHexStr = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
/** JSON with arrays of plain values kept on one line (ops, frequencies). */
const json = (x: unknown) => JSON.stringify(x, null, 1).replace(/\[[^[\]{}]*\]/g, (a) => a.replace(/\s+/g, '')) + '\n';

/** Small deterministic integer generator for inputs (not part of the spec). */
function lcg(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
}

type Op =
  | ['sym', number, number, number] // encode(cum, freq, total)
  | ['bits', number, number] // encodeBits(value, nbits)
  | ['static' | 'adaptive' | 'int', number, number]; // models[kind][index].encode(enc, value)

interface Case {
  name: string;
  models: { static: number[][]; adaptive: Array<AdaptiveModelOptions & { nsym: number }>; int: Array<{ maxBuckets: number }> };
  ops: Op[];
}

function runOps(c: Case): Uint8Array {
  const enc = new RangeEncoder();
  const st = c.models.static.map((f) => new StaticModel(f));
  const ad = c.models.adaptive.map((m) => new AdaptiveModel(m.nsym, m));
  const ic = c.models.int.map((m) => new AdaptiveIntCoder(m.maxBuckets));
  for (const op of c.ops) {
    if (op[0] === 'sym') enc.encode(op[1], op[2], op[3]);
    else if (op[0] === 'bits') enc.encodeBits(op[1], op[2]);
    else if (op[0] === 'static') st[op[1]].encode(enc, op[2]);
    else if (op[0] === 'adaptive') ad[op[1]].encode(enc, op[2]);
    else ic[op[1]].encode(enc, op[2]);
  }
  return enc.finish();
}

/**
 * Ops that keep the coding interval straddling one point P for `n` symbols, so the encoder emits a
 * long run of 0xFF bytes, and then pick the sub-range just above P: the carry must ripple through
 * the whole run. Tracks the encoder state with BigInt (docs/format.md §2.2, §2.3).
 */
function straddleOps(n: number): Op[] {
  const T = 65536n;
  let low = 0n, range = 0xffffffffn, p = 0x80000000n;
  const ops: Op[] = [];
  const code = (cum: bigint, freq: bigint) => {
    ops.push(['sym', Number(cum), Number(freq), Number(T)]);
    const r = range / T;
    low += r * cum;
    range = cum + freq === T ? range - r * cum : r * freq;
    while (range < 1n << 24n) { low <<= 8n; p <<= 8n; range <<= 8n; }
  };
  code(1n, 60000n); // start off the bottom of the range, P still inside
  for (let i = 0; i < n; i++) code((p - low) / (range / T) - 1n, 3n);
  code((p - low) / (range / T) + 1n, 2n); // lies entirely above P
  code(7n, 9n);
  return ops;
}

const none = { static: [], adaptive: [], int: [] };
const rnd = lcg(2024);
const geometric = (p: number, max: number) => {
  let k = 0;
  while (k < max && rnd() / 2 ** 32 < p) k++;
  return k;
};
const cases: Case[] = [
  { name: 'empty', models: none, ops: [] },
  { name: 'one-symbol', models: none, ops: [['sym', 1, 1, 3]] },
  {
    name: 'raw-bits',
    models: none,
    ops: [['bits', 0, 0], ['bits', 1, 1], ['bits', 0xffff, 16], ['bits', 0, 16], ['bits', 0x5a5, 12],
      ...Array.from({ length: 40 }, (): Op => { const n = rnd() % 17; return ['bits', rnd() % 2 ** n, n]; })],
  },
  { name: 'carry-through-ff', models: none, ops: straddleOps(24) },
  {
    name: 'static-skewed',
    models: { ...none, static: [[1, 2, 60000, 3, 5530], [1, 1]] },
    ops: Array.from({ length: 300 }, (): Op => (rnd() & 7) === 0 ? ['static', 1, rnd() & 1] : ['static', 0, rnd() % 10 < 8 ? 2 : rnd() % 5]),
  },
  {
    name: 'adaptive',
    models: { ...none, adaptive: [{ nsym: 8 }, { nsym: 5, increment: 24, limit: 1024, initial: [5, 4, 3, 2, 1] }] },
    ops: Array.from({ length: 400 }, (_, i): Op => ['adaptive', i & 1, geometric(0.45, i & 1 ? 4 : 7)]),
  },
  {
    name: 'int',
    models: { ...none, int: [{ maxBuckets: 33 }, { maxBuckets: 9 }] },
    ops: [0, 1, 2, 3, 65535, 65536, 131071, 2 ** 31, 2 ** 32 - 1, 2 ** 32 - 2, 7, 0, 0, 1]
      .map((v): Op => ['int', 0, v])
      .concat(Array.from({ length: 60 }, (_, i): Op => i & 1 ? ['int', 1, rnd() % 256] : ['int', 0, rnd() >>> (rnd() % 32)])),
  },
  {
    name: 'mixed',
    models: { static: [[7, 1, 300, 20]], adaptive: [{ nsym: 16, increment: 16, limit: 4096 }], int: [{ maxBuckets: 33 }] },
    ops: Array.from({ length: 500 }, (): Op => {
      switch (rnd() % 5) {
        case 0: return ['static', 0, rnd() % 4];
        case 1: return ['adaptive', 0, geometric(0.7, 15)];
        case 2: return ['int', 0, geometric(0.9, 40) * 1000];
        case 3: { const n = rnd() % 17; return ['bits', rnd() % 2 ** n, n]; }
        default: { const t = 1 + (rnd() % 65536); const cum = rnd() % t; return ['sym', cum, 1 + (rnd() % (t - cum)), t]; }
      }
    }),
  },
];

const entropy = {
  spec: 'docs/format.md §2 (range coder v1)',
  note: 'Replay ops in order on one RangeEncoder; models are created fresh per case from its "models" entry. bytes is the exact finish() output.',
  cases: cases.map((c) => ({ ...c, bytes: hex(runOps(c)) })),
};
writeFileSync(new URL('../test/vectors/entropy-v1.json', import.meta.url), json(entropy));

// The first v1 writers stored the prompt as raw UTF-8 and no conditioning: this file must stay
// exactly what they wrote (promptCoding 'raw' reproduces it; its JSON keeps its original form).
const header: DfcHeader = {
  version: 1,
  model: { id: 'sd-turbo', hash: Uint8Array.from([0x1d, 0x5c, 0x83, 0x0b, 0xe2, 0x44, 0x9a, 0x70]) },
  image: { width: 512, height: 512, channels: 3 },
  latent: { channels: 4, height: 64, width: 64 },
  schedule: { id: 'ddpm-sl-1000', hash: Uint8Array.from([0xa1, 0x0f, 0x3c, 0x77]) },
  seed: { lo: 0x9e3779b9, hi: 0x7f4a7c15 },
  recon: { method: 'flow', steps: 4 },
  coding: Uint8Array.from([0x01, 0x10, 0x08]),
  stepsCoded: 12,
  prompt: 'a lighthouse on a cliff at dusk',
  promptCoding: 'raw',
};
const payload = Uint8Array.from({ length: 40 }, (_, i) => (i * 37 + 11) & 0xff);
const headerJson = (h: DfcHeader) => ({ ...h, model: { ...h.model, hash: hex(h.model.hash) }, schedule: { ...h.schedule, hash: hex(h.schedule.hash) }, coding: hex(h.coding) });
const bytes = writeDfc({ header, payload });
writeFileSync(new URL('../test/vectors/dfc-example-v1.bin', import.meta.url), bytes);
const { promptCoding: _raw, ...legacyJson } = headerJson(header);
writeFileSync(new URL('../test/vectors/dfc-example-v1.json', import.meta.url), json({
  spec: 'docs/format.md §3 (.dfc v1)',
  note: 'dfc-example-v1.bin parses to this header and payload; writing them back gives the same bytes.',
  header: legacyJson,
  payload: hex(payload),
  size: bytes.length,
}));

// The same file from today's writers: conditioning field and coded prompt (flags 0x18).
const { promptCoding: _p, ...rest } = header;
const conditioned: DfcHeader = { ...rest, conditioning: { guidance: 3.5, denoiseGuidance: 7.5 } };
const condBytes = writeDfc({ header: conditioned, payload });
writeFileSync(new URL('../test/vectors/dfc-example-v1-conditioned.bin', import.meta.url), condBytes);
const promptUtf8 = new TextEncoder().encode(conditioned.prompt);
writeFileSync(new URL('../test/vectors/dfc-example-v1-conditioned.json', import.meta.url), json({
  spec: 'docs/format.md §3 (.dfc v1: conditioning field §3.3 #15, coded prompt §3.7)',
  note: 'dfc-example-v1-conditioned.bin parses to this header and payload; writing them back gives the same bytes. promptCoded is field 16\'s coded bytes.',
  header: headerJson(conditioned),
  payload: hex(payload),
  promptCoded: hex(encodePromptBytes(promptUtf8)),
  size: condBytes.length,
}));

// A conditional model's file (flags 0x38): the coded condition (§3.9, here the factorized stream of test/vectors/learned-entropy-v1.json,
// docs/learned-entropy.md) after the coded prompt.
const withCondition: DfcHeader = { ...conditioned, condition: fromHexStr('8aa4b0e5133c20db0cd80292be5c9cfe5e06f76f0d') };
const conditionBytes = writeDfc({ header: withCondition, payload });
writeFileSync(new URL('../test/vectors/dfc-example-v1-condition.bin', import.meta.url), conditionBytes);
writeFileSync(new URL('../test/vectors/dfc-example-v1-condition.json', import.meta.url), json({
  spec: 'docs/format.md §3 (.dfc v1: coded condition §3.3 #17, §3.9)',
  note: 'dfc-example-v1-condition.bin parses to this header and payload; writing them back gives the same bytes. condition is field 17\'s bytes.',
  header: { ...headerJson(withCondition), condition: hex(withCondition.condition!) },
  payload: hex(payload),
  size: conditionBytes.length,
}));

const prompts = [
  '', 'a', 'a lighthouse on a cliff at dusk', 'a photo of an astronaut riding a horse on mars',
  'A cozy coffee shop interior with warm lighting, people reading books, rain on the windows, highly detailed, 8k, trending on artstation',
  'Mountain landscape at sunrise. Snow-capped peaks, a calm lake reflecting the sky; mist in the valley.',
  '\uFEFFa lighthouse — 灯台 🌊', '\u0000\u00ff\u{10FFFF}', 'e'.repeat(600), '🌅'.repeat(1024),
];
const promptCases = prompts.map((p) => {
  const utf8 = new TextEncoder().encode(p);
  return { prompt: p, utf8Bytes: utf8.length, coded: hex(encodePromptBytes(utf8)) };
});
writeFileSync(new URL('../test/vectors/dfc-prompt-coding-v1.json', import.meta.url), json({
  spec: 'docs/format.md §3.7 (coded prompt)',
  note: 'coded is the exact range-coder output (§2) for the prompt\'s UTF-8 bytes under the §3.7 byte model; the header field is varint(utf8Bytes), varint(coded length), coded.',
  cases: promptCases,
}));
console.log(`entropy-v1.json: ${entropy.cases.length} cases; dfc-example-v1.bin: ${bytes.length} bytes; dfc-example-v1-conditioned.bin: ${condBytes.length} bytes; dfc-prompt-coding-v1.json: ${promptCases.length} prompts`);
