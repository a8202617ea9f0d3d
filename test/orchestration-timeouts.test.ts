/** Activity timeouts sized from the work (src/orchestration/timeouts.ts), and refused formats (activities/work-format.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import {
  heartbeatSeconds, LOAD_ALLOWANCE_S, qualitySearchDecodes, RECON_ALLOWANCE_STEPS, measured, startToCloseSeconds, STEP_MARGIN, UNMEASURED_STEP_S_PER_MP, VAE_S_PER_MP, MAX_START_TO_CLOSE_S,
} from '../src/orchestration/timeouts.js';
import { checkFormat, checkInput, readWork, UNSUPPORTED_VERSION, WORK_FORMATS } from '../activities/work-format.js';

test('start-to-close grows with the image before a step is measured, and with the measured step time after', () => {
  const small = startToCloseSeconds({ kind: 'steps', steps: 16 }, { pixels: 1e6 });
  const big = startToCloseSeconds({ kind: 'steps', steps: 16 }, { pixels: 33e6 });
  assert.equal(small, LOAD_ALLOWANCE_S + 16 * UNMEASURED_STEP_S_PER_MP);
  assert.ok(big > small * 10, `8K ${big} s vs 1 MP ${small} s`);
  const fast = startToCloseSeconds({ kind: 'steps', steps: 16 }, { pixels: 33e6, stepSeconds: 2 });
  assert.equal(fast, LOAD_ALLOWANCE_S + STEP_MARGIN * 16 * 2);
  // A 4K Flux decode: chain ranges at the measured step time, then 16 reconstruction steps plus the VAE.
  const finish = startToCloseSeconds({ kind: 'decode-finish', reconSteps: 16 }, { pixels: 8.3e6, stepSeconds: 30 });
  assert.equal(finish, Math.ceil(LOAD_ALLOWANCE_S + STEP_MARGIN * 16 * 30 + 8.3 * VAE_S_PER_MP));
  assert.ok(finish > 30 * 60, 'more than the old constant 30 minutes');
  assert.equal(startToCloseSeconds({ kind: 'steps', steps: 1e6 }, { pixels: 1e9 }), MAX_START_TO_CLOSE_S);
  assert.ok(startToCloseSeconds({ kind: 'latent' }, { pixels: 33e6 }) > startToCloseSeconds({ kind: 'latent' }, { pixels: 1e6 }));
});

test('an assemble that searches for a quality target gets time for its prefix decodes', () => {
  const w = { pixels: 8.3e6, stepSeconds: 30 };
  const plain = startToCloseSeconds({ kind: 'assemble' }, w);
  assert.equal(plain, LOAD_ALLOWANCE_S + 600);
  assert.deepEqual([1, 2, 3, 16, 17, 28].map(qualitySearchDecodes), [1, 2, 3, 5, 6, 6]);
  const q = startToCloseSeconds({ kind: 'assemble', qualitySearch: { steps: 28 } }, w);
  assert.equal(q, Math.ceil(plain + 6 * (STEP_MARGIN * (28 + RECON_ALLOWANCE_STEPS) * 30 + 8.3 * VAE_S_PER_MP)));
});

test('the heartbeat timeout is the job\'s unless a worker\'s event loop stalled longer', () => {
  assert.equal(heartbeatSeconds(120, { pixels: 1 }), 120);
  assert.equal(heartbeatSeconds(120, { pixels: 1, stallSeconds: 20 }), 120);
  assert.equal(heartbeatSeconds(120, { pixels: 1, stallSeconds: 100 }), 310);
  assert.equal(heartbeatSeconds(5, { pixels: 1, stallSeconds: 1e6 }), 3600);
});

test('measurements fold: the latest step time, the worst stall', () => {
  let w = measured({ pixels: 10 }, { stepSeconds: 3, stallSeconds: 2 });
  w = measured(w, { stepSeconds: 4, stallSeconds: 1 });
  w = measured(w, {});
  assert.deepEqual(w, { pixels: 10, stepSeconds: 4, stallSeconds: 2 });
});

test('formats: absent and known versions pass; a newer one is refused with a retryable, named failure', () => {
  checkFormat('chain', undefined, 'k');
  checkFormat('job', WORK_FORMATS.job, 'k');
  checkInput({}, 'encodeSteps');
  const refused = (f: () => unknown, re: RegExp) => assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof ApplicationFailure);
    assert.equal(e.type, UNSUPPORTED_VERSION);
    assert.equal(e.nonRetryable, false, 'another worker (of the newer build) may take it');
    assert.match(e.message, re);
    return true;
  });
  refused(() => checkInput({ format: WORK_FORMATS.input + 1 }, 'encodeSteps'), /encodeSteps input: input format 2 is not one this worker understands/);
  refused(() => readWork('chain', new TextEncoder().encode(JSON.stringify({ version: 7, step: 0 })), 'w/chain.json'), /w\/chain\.json: chain format 7/);
  refused(() => checkFormat('decode', 'x', 'k'), /decode format "x"/);
  assert.throws(() => readWork('job', new TextEncoder().encode('{oops'), 'w/job.json'), /w\/job\.json: the work object is not JSON/);
});
