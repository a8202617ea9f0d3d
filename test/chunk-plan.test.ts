import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CodingParams, planForKl } from '../src/codec/chain/chunk-plan.js';

interface Case { klBits: number; dims: number; maxChunkBits: number; paddingQuarterBits: number; chunkKlQuarterBits: number; targetStdPercent: number; chunks: number; k: number }
const vectors = JSON.parse(readFileSync(new URL('vectors/chunk-plan-v1.json', import.meta.url), 'utf8')) as { cases: Case[] };

test('planForKl follows docs/format.md §4.1 on the fixed vectors (chunkKl 0 = B)', () => {
  assert.ok(vectors.cases.length >= 10);
  for (const c of vectors.cases) {
    const p = CodingParams.parse({ maxChunkBits: c.maxChunkBits, paddingQuarterBits: c.paddingQuarterBits, chunkKlQuarterBits: c.chunkKlQuarterBits, targetStdPercent: c.targetStdPercent });
    assert.deepEqual(planForKl(c.klBits, c.dims, p), { chunks: c.chunks, k: c.k }, JSON.stringify(c));
  }
});

test('chunkKl 0 targets B bits per chunk, not B - padding (the spec once said so; files were always written with B)', () => {
  const p = CodingParams.parse({ maxChunkBits: 12, paddingQuarterBits: 4, targetStdPercent: 100 });
  // 100 bits at 12 per chunk: 9 chunks of 11.1 bits, k = ceil(11.1 + 1) = 13 -> capped at 12. With 11 per chunk it would be 10 chunks, k = 11.
  assert.deepEqual(planForKl(100, 1000, p), { chunks: 9, k: 12 });
});
