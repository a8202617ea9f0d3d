import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scheduleFromId, ScheduleError } from '../src/codec/schedule/timesteps.js';
import { REFERENCE_TIMESTEPS } from '../src/codec/schedule/paper.js';
import { alphaBars, SD_SCHEDULE } from '../src/codec/schedule/ddpm.js';
import { alphaBarTable } from '../src/models/bundle.js';
import { FLUX_DEV_SHIFT } from '../src/codec/schedule/flow.js';
import { flowSigmaFromAlphaBar } from '../src/codec/schedule/noise-level.js';

test("'paper' is the reference's 161 SD steps at the same alpha-bars: its t reads alphas_cumprod[t - 1]", () => {
  const table = alphaBars(SD_SCHEDULE);
  const s = scheduleFromId(table, 'paper');
  assert.equal(s.timesteps.length, 161);
  assert.deepEqual([s.timesteps[0], s.timesteps.at(-1)], [971, 0]);
  REFERENCE_TIMESTEPS.forEach((t, i) => assert.equal(s.alphaBars[i], table[t - 1]));
  assert.equal(scheduleFromId(table, 'paper').hash.join(), s.hash.join(), 'one id, one hash');
});

test("'paper-flow' puts each of the reference's Flux steps (sigma = (t - 1) / 1000, t >= 10) on the nearest timestep of the model's table", () => {
  const table = alphaBarTable({ kind: 'flow', shift: FLUX_DEV_SHIFT, steps: 1000 });
  const s = scheduleFromId(table, 'paper-flow');
  // Our Flux table is the shifted sigma schedule: near sigma 0 its steps are 1.65x coarser, so some merge.
  assert.ok(s.timesteps.length > 130 && s.timesteps.length <= 152, `${s.timesteps.length} steps`);
  for (let i = 1; i < s.timesteps.length; i++) assert.ok(s.timesteps[i] < s.timesteps[i - 1]);
  const first = flowSigmaFromAlphaBar(s.alphaBars[0]), last = flowSigmaFromAlphaBar(s.alphaBars.at(-1)!);
  assert.ok(Math.abs(first - 0.971) < 0.002, `first sigma ${first}`);
  assert.ok(Math.abs(last - 0.009) < 0.001, `last sigma ${last}`);
});

test('paper schedules need a 1000-step table', () => {
  assert.throws(() => scheduleFromId(new Float64Array(500).map((_, i) => 1 - (i + 1) / 501), 'paper'), ScheduleError);
});
