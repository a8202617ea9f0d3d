/**
 * The before/after a Temporal test file needs: a private dev server, a client on it and a scratch
 * folder, all removed afterwards. Without the temporal binary the file's tests skip (opts.skip),
 * or fail with DIFFC_REQUIRE_SERVICES=1 (`needs`).
 */
import { after, before } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { privateTemporal, type Temporal } from './dev-services.js';
import { parseTemporalConfig } from '../../src/orchestration/config.js';
import { connectClient } from '../../src/orchestration/client.js';

export interface TemporalSuite {
  readonly dir: string;
  readonly server: Temporal;
  readonly client: Client;
}

/** Registers the hooks; `set` receives the suite once it is up (the file keeps its own variables). */
export function temporalSuite(need: { missing: string | null; opts: { skip?: string } }, prefix: string, set: (s: TemporalSuite) => void): void {
  let s: { dir?: string; server?: Temporal; client?: Client } = {};
  before(async () => {
    if (need.missing) {
      if (need.opts.skip) return;
      throw new Error(need.missing);
    }
    const dir = await mkdtemp(join(tmpdir(), prefix));
    s = { dir };
    s.server = await privateTemporal();
    s.client = await connectClient(parseTemporalConfig({ address: s.server.address }));
    set(s as TemporalSuite);
  });
  after(async () => {
    await s.client?.connection.close();
    await s.server?.stop();
    if (s.dir) await rm(s.dir, { recursive: true, force: true });
  });
}
