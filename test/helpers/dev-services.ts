/**
 * Real services for tests. privateMinio() starts a MinIO of its own with infra/dev-up.sh (in a
 * temporary state dir, so it never touches the shared `npm run dev:up` instance and may be
 * stopped and restarted freely) and stops it with infra/dev-down.sh.
 *
 * When the MinIO binary is not built, the tests that need it skip with a message naming
 * `npm run dev:up`; with DIFFC_REQUIRE_SERVICES=1 they fail instead.
 */
import { execFile } from 'node:child_process';
import { access, constants, mkdtemp, readFile, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../..', import.meta.url));

export const servicesRequired = process.env.DIFFC_REQUIRE_SERVICES === '1';

/** node:test options for a test that needs `name`: a skip with the reason, unless required. */
export async function needs(name: 'minio' | 'temporal'): Promise<{ missing: string | null; opts: { skip?: string } }> {
  const missing = await missingService(name);
  return { missing, opts: missing && !servicesRequired ? { skip: `${missing}; skipped (DIFFC_REQUIRE_SERVICES=1 makes it a failure)` } : {} };
}

export function servicesBinDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.DIFFC_SERVICES_BIN ?? join(env.DIFFC_CACHE ?? join(homedir(), '.cache', 'diffc'), 'bin');
}

/** null when the binary is there, else what is missing and how to get it. */
export async function missingService(name: 'minio' | 'temporal'): Promise<string | null> {
  const bin = join(servicesBinDir(), name);
  try {
    await access(bin, constants.X_OK);
    return null;
  } catch {
    return `${name} is not built (${bin} is missing): run \`npm run dev:up\` once to build it (several minutes)`;
  }
}

/** KEY=VALUE lines as infra/dev-up.sh writes them (no quoting: its values are shell-safe). */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out[m[1]] = m[2];
  }
  return out;
}

/** dev-up.sh in a fresh state dir; on failure the dir goes and the error names the service. */
async function firstStart(name: string, dir: string, up: () => Promise<unknown>): Promise<void> {
  try {
    await up();
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    const err = e as { stderr?: string; message: string };
    throw new Error(`infra/dev-up.sh ${name} failed: ${err.stderr || err.message}`);
  }
}

/**
 * A private service's first start, tried up to 3 times, each in a new state dir and so on new
 * free ports: dev-up.sh picks ports by binding and releasing them, and another process can take
 * one before the service binds it (seen in CI as a dev server that "exited while starting").
 */
async function withFreshStarts<T>(name: string, start: () => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await start();
    } catch (e) {
      if (i >= attempts) throw e;
      console.error(`# ${name}: start ${i} of ${attempts} failed, retrying on fresh ports: ${(e as Error).message.split('\n')[0]}`);
    }
  }
}

export interface Minio {
  /** The state file's values: S3_ENDPOINT, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, S3_BUCKET, MINIO_PID, ... */
  env: Record<string, string>;
  /** SIGTERM to the recorded PID; resolves once the process is gone. */
  kill(): Promise<void>;
  /** infra/dev-up.sh minio again: restarts it on the same port with the same data. */
  restart(): Promise<void>;
  /** infra/dev-down.sh and the state dir removed. */
  stop(): Promise<void>;
}

/** `extraEnv` goes to infra/dev-up.sh (e.g. DIFFC_TRIGGER_URL + DIFFC_TRIGGER_SECRET for a webhook). */
export function privateMinio(extraEnv: Record<string, string> = {}): Promise<Minio> {
  return withFreshStarts('minio', () => startMinio(extraEnv));
}

async function startMinio(extraEnv: Record<string, string>): Promise<Minio> {
  const dir = await mkdtemp(join(tmpdir(), 'diffc-minio-'));
  const state = join(dir, 'state');
  const env = { ...process.env, ...extraEnv, DIFFC_SERVICES_STATE: state, DIFFC_NO_BUILD: '1' };
  const script = (name: string) => run('bash', [join(REPO, 'infra', name), 'minio'], { env, timeout: 120_000 });
  const read = async () => parseEnvFile(await readFile(`${state}.env`, 'utf8'));
  await firstStart('minio', dir, () => script('dev-up.sh'));
  const m: Minio = {
    env: await read(),
    async kill() {
      const pid = Number(m.env.MINIO_PID);
      process.kill(pid, 'SIGTERM');
      for (let i = 0; i < 200; i++) {
        try {
          process.kill(pid, 0);
        } catch {
          return;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`MinIO (pid ${pid}) did not stop within 10 s`);
    },
    async restart() {
      await script('dev-up.sh');
      m.env = await read();
    },
    async stop() {
      try {
        await script('dev-down.sh');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
  return m;
}

export interface Temporal {
  /** host:port of the frontend. */
  address: string;
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** A Temporal dev server of its own (infra/dev-up.sh temporal in a temporary state dir). */
export function privateTemporal(): Promise<Temporal> {
  return withFreshStarts('temporal', startTemporal);
}

async function startTemporal(): Promise<Temporal> {
  const dir = await mkdtemp(join(tmpdir(), 'diffc-temporal-'));
  const state = join(dir, 'state');
  const env = { ...process.env, DIFFC_SERVICES_STATE: state, DIFFC_NO_BUILD: '1' };
  const script = (name: string) => run('bash', [join(REPO, 'infra', name), 'temporal'], { env, timeout: 120_000 });
  await firstStart('temporal', dir, () => script('dev-up.sh'));
  const vars = parseEnvFile(await readFile(`${state}.env`, 'utf8'));
  return {
    address: vars.TEMPORAL_ADDRESS, env: vars,
    async stop() {
      try {
        await script('dev-down.sh');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Task queue names of their own, so tests never take each other's tasks. */
export function testQueues(name: string): { io: string; gpu: string } {
  const tag = `${name}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  return { io: `io-${tag}`, gpu: `gpu-${tag}` };
}

/** node:test options for a test that needs every one of `names` (the first missing one decides). */
export async function needsAll(...names: ('minio' | 'temporal')[]): Promise<{ missing: string | null; opts: { skip?: string } }> {
  for (const n of names) {
    const r = await needs(n);
    if (r.missing) return r;
  }
  return { missing: null, opts: {} };
}

/** The S3_* settings a client of `minio` needs (what s3ConfigFromEnv reads). */
export function s3EnvOf(minio: Minio): Record<string, string> {
  const keys = ['S3_ENDPOINT', 'S3_REGION', 'S3_FORCE_PATH_STYLE', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY'];
  return Object.fromEntries(keys.map((k) => [k, minio.env[k]]));
}

/** Sets `vars` in process.env (as a deployed worker reads them); the result puts the old values back. */
export function setEnv(vars: Record<string, string>): () => void {
  const old = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  return () => {
    for (const [k, v] of Object.entries(old)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}
