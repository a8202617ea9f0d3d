/**
 * A `diffc worker` child process for kill tests: its JSON log lines (DIFFC_LOG_LEVEL=debug) are
 * collected as they arrive, and a test can wait for a line, read what it logged, and kill it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

export interface LogLine { msg: string; step?: number; from?: number; to?: number; output?: string; pid: number }

export class WorkerProcess {
  readonly proc: ChildProcess;
  readonly lines: LogLine[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];

  /** A gpu+io worker on `queues`, with `env` over this process's environment. */
  constructor(queues: { io: string; gpu: string }, env: Record<string, string>) {
    this.proc = spawn(process.execPath, [join(REPO, 'bin', 'diffc.js'), 'worker', '--queues', 'gpu,io', '--health-port=-1',
      '--queue-io', queues.io, '--queue-gpu', queues.gpu], { env: { ...process.env, ...env, DIFFC_LOG_LEVEL: 'debug' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let buf = '';
    this.proc.stderr!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const text = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!text.startsWith('{')) continue;
        const l = JSON.parse(text) as LogLine;
        this.lines.push(l);
        this.waiters = this.waiters.filter((w) => (w.pred(l) ? (w.resolve(l), false) : true));
      }
    });
    this.exited = new Promise((r) => this.proc.once('exit', (code, signal) => r({ code, signal })));
  }

  /** The first line (already seen or still to come) matching `pred`; rejects on timeout or exit. */
  waitFor(pred: (l: LogLine) => boolean, what: string, ms = 120_000): Promise<LogLine> {
    const seen = this.lines.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`worker ${this.proc.pid}: no ${what} within ${ms} ms`)), ms);
      this.waiters.push({ pred, resolve: (l) => { clearTimeout(t); resolve(l); } });
      void this.exited.then(({ code, signal }) => reject(new Error(`worker ${this.proc.pid} exited (${code ?? signal}) before ${what}`)));
    });
  }

  /** The `step` field of every line with this message (e.g. 'step', 'checkpoint'). */
  of(msg: string): number[] {
    return this.lines.filter((l) => l.msg === msg).map((l) => l.step!);
  }

  /** SIGKILL, unless it has exited already. */
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill('SIGKILL');
    await this.exited;
  }
}
