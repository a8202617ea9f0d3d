/** The workflow-safe SHA-256 equals node:crypto's, so work prefixes mean the same wherever computed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { sha256Hex } from '../src/orchestration/sha256.js';

test('sha256Hex equals node:crypto for empty, block-boundary, multi-block and non-ASCII inputs', () => {
  const inputs = ['', 'abc', 'a'.repeat(55), 'a'.repeat(56), 'a'.repeat(63), 'a'.repeat(64), 'a'.repeat(1000), 'dfc/in/ü €/😀.png.dfc'];
  for (let n = 0; n < 200; n++) inputs.push(Array.from({ length: n }, (_, i) => String.fromCharCode(32 + ((i * 7 + n) % 90))).join(''));
  for (const s of inputs) assert.equal(sha256Hex(s), createHash('sha256').update(s, 'utf8').digest('hex'), JSON.stringify(s.slice(0, 40)));
});
