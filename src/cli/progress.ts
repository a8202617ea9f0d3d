/**
 * Progress on stderr: a redrawn bar on a terminal, sparse plain lines otherwise, nothing when
 * quiet. stdout stays clean for --json.
 */
export class Progress {
  private readonly tty: boolean;
  private lastLine = 0;
  private started = Date.now();

  constructor(private readonly label: string, private total: number, private readonly quiet = false, private readonly stream: NodeJS.WriteStream = process.stderr) {
    this.tty = Boolean(stream.isTTY);
  }

  /** `total` updates the denominator when it is learnt late (a workflow's step count). */
  update(done: number, detail = '', total = this.total): void {
    if (this.quiet) return;
    this.total = total;
    const frac = this.total > 0 ? Math.min(1, done / this.total) : 1;
    const secs = ((Date.now() - this.started) / 1000).toFixed(1);
    if (this.tty) {
      const width = 24, fill = Math.round(frac * width);
      this.stream.write(`\r${this.label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${done}/${this.total} ${detail} ${secs}s\x1b[K`);
    } else if (Date.now() - this.lastLine > 1000 || done === this.total) {
      this.lastLine = Date.now();
      this.stream.write(`${this.label}: ${done}/${this.total} ${detail} (${secs}s)\n`);
    }
  }

  done(message = ''): void {
    if (this.quiet) return;
    if (this.tty) this.stream.write('\r\x1b[K');
    if (message) this.stream.write(message + '\n');
  }
}
