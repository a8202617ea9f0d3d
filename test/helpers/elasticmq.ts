/**
 * A private ElasticMQ (SQS-compatible server, infra/elasticmq.sh fetches it from Maven Central)
 * for tests: its own free port, queues from a generated config file (a queue may name a DLQ and
 * maxReceiveCount, ElasticMQ's form of an SQS RedrivePolicy), ready once ListQueues names every
 * queue, and killed by stop(). When it is not fetched, tests skip with the command to run; with
 * DIFFC_REQUIRE_SERVICES=1 they fail instead.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { GetQueueAttributesCommand, GetQueueUrlCommand, ListQueuesCommand, ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import { servicesRequired } from './dev-services.js';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPT = join(REPO, 'infra', 'elasticmq.sh');

/** Any key works with ElasticMQ; the SDK only needs some to sign with. */
export const SQS_TEST_ENV = { AWS_ACCESS_KEY_ID: 'elasticmq', AWS_SECRET_ACCESS_KEY: 'elasticmq', AWS_REGION: 'us-east-1' };

export interface QueueSpec {
  readonly name: string;
  /** Default visibility timeout of the queue (ElasticMQ's default is 30 s). */
  readonly visibilitySeconds?: number;
  /** A RedrivePolicy: after maxReceiveCount receives the message moves to `name`. */
  readonly deadLetters?: { readonly name: string; readonly maxReceiveCount: number };
}

export interface Elasticmq {
  readonly endpoint: string;
  readonly sqs: SQSClient;
  queueUrl(name: string): Promise<string>;
  /** Visible + in flight + delayed: 0 means the queue holds nothing at all. */
  depth(name: string): Promise<{ visible: number; inFlight: number; delayed: number }>;
  /** Receives (and leaves) up to `max` messages with their attributes, polling until `max` or `waitMs`. */
  drain(name: string, max: number, waitMs?: number): Promise<Message[]>;
  stop(): Promise<void>;
}

/** null when ElasticMQ is fetched, else what is missing and how to get it. */
export async function missingElasticmq(): Promise<string | null> {
  const version = (await run('bash', [SCRIPT, 'version'])).stdout.trim();
  const stamp = join(process.env.DIFFC_CACHE ?? join(homedir(), '.cache', 'diffc'), 'elasticmq', version, '.complete');
  try {
    await access(stamp);
    return null;
  } catch {
    return `ElasticMQ ${version} is not fetched (${stamp} is missing): run \`bash infra/elasticmq.sh fetch\` (Maven Central, ~30 s)`;
  }
}

/** node:test options for a test that needs ElasticMQ. */
export async function needsElasticmq(): Promise<{ missing: string | null; opts: { skip?: string } }> {
  const missing = await missingElasticmq();
  return { missing, opts: missing && !servicesRequired ? { skip: `${missing}; skipped (DIFFC_REQUIRE_SERVICES=1 makes it a failure)` } : {} };
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

function configText(port: number, queues: readonly QueueSpec[]): string {
  const q = queues.map((s) => {
    const parts = [
      ...(s.visibilitySeconds !== undefined ? [`defaultVisibilityTimeout = ${s.visibilitySeconds} seconds`] : []),
      ...(s.deadLetters ? [`deadLettersQueue { name = "${s.deadLetters.name}", maxReceiveCount = ${s.deadLetters.maxReceiveCount} }`] : []),
    ];
    return `  "${s.name}" { ${parts.join(', ')} }`;
  });
  return [
    'include classpath("application.conf")',
    `node-address { protocol = http, host = 127.0.0.1, port = ${port}, context-path = "" }`,
    `rest-sqs { enabled = true, bind-port = ${port}, bind-hostname = "127.0.0.1", sqs-limits = strict }`,
    'rest-stats { enabled = false }',
    'generate-node-address = false',
    'queues {', ...q, '}', '',
  ].join('\n');
}

/** Starts one; a port taken between choosing and binding it costs a retry on a new one. */
export async function privateElasticmq(queues: readonly QueueSpec[]): Promise<Elasticmq> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startElasticmq(queues);
    } catch (e) {
      if (attempt >= 3) throw e;
      console.error(`# elasticmq: start ${attempt} of 3 failed, retrying on a fresh port: ${(e as Error).message.split('\n')[0]}`);
    }
  }
}

async function startElasticmq(queues: readonly QueueSpec[]): Promise<Elasticmq> {
  const classpath = (await run('bash', [SCRIPT, 'classpath'], { timeout: 300_000 })).stdout.trim();
  const dir = await mkdtemp(join(tmpdir(), 'diffc-elasticmq-'));
  const port = await freePort();
  const conf = join(dir, 'elasticmq.conf');
  await writeFile(conf, configText(port, queues));
  const logFile = join(dir, 'elasticmq.log');
  const fd = openSync(logFile, 'w');
  // Small heap, serial GC and C1 only: a test server on a shared machine starts faster that way.
  const proc: ChildProcess = spawn('java', ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', `-Dconfig.file=${conf}`,
    '-cp', classpath, 'org.elasticmq.server.Main'], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const endpoint = `http://127.0.0.1:${port}`;
  const sqs = new SQSClient({ endpoint, region: SQS_TEST_ENV.AWS_REGION, credentials: { accessKeyId: 'elasticmq', secretAccessKey: 'elasticmq' }, maxAttempts: 1 });
  const stop = async () => {
    sqs.destroy();
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const start = Date.now();
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error('exited while starting');
      const names = await sqs.send(new ListQueuesCommand({})).then((r) => r.QueueUrls ?? [], () => null);
      if (names && queues.every((q) => names.some((u) => u.endsWith(`/${q.name}`)))) break;
      if (Date.now() - start > 90_000) throw new Error('not ready within 90 s');
      await new Promise((r) => setTimeout(r, 250));
    }
    console.error(`# elasticmq on ${endpoint} ready in ${((Date.now() - start) / 1000).toFixed(1)} s`);
  } catch (e) {
    const tail = (await readFile(logFile, 'utf8').catch(() => '')).split('\n').slice(-20).join('\n');
    await stop();
    throw new Error(`ElasticMQ ${(e as Error).message}:\n${tail}`);
  }
  const attr = (a: Record<string, string> | undefined, k: string) => Number(a?.[k] ?? 0);
  const queueUrl = async (name: string) => (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl!;
  return {
    endpoint, sqs, stop, queueUrl,
    async depth(name) {
      const r = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: await queueUrl(name), AttributeNames: ['All'] }));
      return {
        visible: attr(r.Attributes, 'ApproximateNumberOfMessages'),
        inFlight: attr(r.Attributes, 'ApproximateNumberOfMessagesNotVisible'),
        delayed: attr(r.Attributes, 'ApproximateNumberOfMessagesDelayed'),
      };
    },
    async drain(name, max, waitMs = 60_000) {
      const url = await queueUrl(name);
      const got = new Map<string, Message>();
      const end = Date.now() + waitMs;
      while (got.size < max && Date.now() < end) {
        // A long visibility, so what was read is not read again while collecting.
        const r = await sqs.send(new ReceiveMessageCommand({
          QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 600,
          MessageAttributeNames: ['All'], MessageSystemAttributeNames: ['All'],
        }));
        for (const m of r.Messages ?? []) got.set(m.MessageId!, m);
      }
      return [...got.values()];
    },
  };
}
