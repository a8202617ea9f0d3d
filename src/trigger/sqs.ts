/**
 * The SQS source of bucket events: long-polls a queue that S3 (directly, through SNS, or through
 * EventBridge) notifies, and hands each created object to `start` (signal-with-start of its
 * output's compressImage, as the HTTP receiver does). The rules, chosen so that nothing is lost
 * and nothing is done twice:
 *
 *   - a message is deleted only once every event in it was handed over (a duplicate is handed
 *     over like any other: the run ignores a version it already has), or it held nothing to do
 *     (filtered keys, an s3:TestEvent);
 *   - a failed start is transient: the message is left, reappears when its visibility timeout
 *     ends, and after the queue's RedrivePolicy maxReceiveCount receives SQS moves it to the DLQ;
 *   - a poison message (not JSON, not an S3 event, a bucket not served, no version) is known to
 *     fail on every receive: with a DLQ URL it is sent there at once, with the reason as message
 *     attributes, then deleted; without one it is left for the RedrivePolicy;
 *   - while a message is worked on its visibility is renewed every third of the timeout, so a
 *     slow Temporal does not make it visible to a second consumer;
 *   - stop() (SIGTERM) stops polling at once, gives in-flight messages drainSeconds to finish,
 *     then hands the rest back (visibility 0) so another consumer takes them now.
 * A consumer killed outright loses nothing: its undeleted messages reappear after their timeout.
 */
import {
  ChangeMessageVisibilityCommand, DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand,
  type Message, type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SourceVersion } from '../orchestration/types.js';
import type { ObjectCreatedEvent } from './events.js';
import type { EventFilter } from './filter.js';
import type { HandedOver } from './server.js';
import { TriggerError } from './errors.js';
import { classifyMessage, type MessageClass } from './sqs-message.js';

export type SqsLog = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

export interface SqsConsumerOptions<J> {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly dlqUrl?: string;
  readonly buckets: readonly string[];
  readonly filter: EventFilter;
  /** The job for an accepted event; throwing makes the message poison. */
  readonly prepare: (ev: ObjectCreatedEvent, version: SourceVersion) => J;
  /** Hands the job over; throwing is a transient failure (the message is left for redelivery). */
  readonly start: (job: J, ev: ObjectCreatedEvent) => Promise<HandedOver>;
  readonly waitSeconds: number;
  readonly batchSize: number;
  readonly concurrency: number;
  readonly visibilitySeconds: number;
  readonly drainSeconds: number;
  readonly log?: SqsLog;
}

export interface SqsStats {
  received: number;
  deleted: number;
  /** Events handed over (one message may hold several). */
  signalled: number;
  /** Poison messages sent to the DLQ by us. */
  deadLettered: number;
  /** Poison messages left for the queue's RedrivePolicy (no DLQ URL, or sending to it failed). */
  leftForRedrive: number;
  /** Messages left after a failed start. */
  transient: number;
  testEvents: number;
  /** In flight at the end of the drain, handed back with visibility 0. */
  abandoned: number;
}

/** Attribute names on a message we dead-letter (SQS allows 10; we add 4). */
export const POISON_ATTRIBUTES = {
  code: 'diffc-poison-code',
  reason: 'diffc-poison-reason',
  sourceQueue: 'diffc-source-queue',
  sourceMessageId: 'diffc-source-message-id',
} as const;

interface Work {
  readonly message: Message;
  done: Promise<void>;
  timer?: NodeJS.Timeout;
  /** Handed back at the end of the drain: no more calls to SQS for it. */
  abandoned: boolean;
}

export class SqsConsumer<J> {
  readonly stats: SqsStats = { received: 0, deleted: 0, signalled: 0, deadLettered: 0, leftForRedrive: 0, transient: 0, testEvents: 0, abandoned: 0 };
  private stopping = false;
  private running = false;
  private readonly abort = new AbortController();
  private readonly inFlight = new Set<Work>();
  private wake: (() => void) | undefined;
  private readonly buckets: ReadonlySet<string>;
  private readonly log: SqsLog;

  constructor(private readonly o: SqsConsumerOptions<J>) {
    if (o.buckets.length === 0) throw new TriggerError('config', 'the SQS consumer needs the buckets it serves (DIFFC_TRIGGER_BUCKETS)');
    this.buckets = new Set(o.buckets);
    this.log = o.log ?? (() => undefined);
  }

  /**
   * Checks that the queue (and DLQ) exist and reports the queue's RedrivePolicy. Throws
   * TriggerError 'config' for a queue that does not exist; a policy we cannot read is a warning.
   */
  async checkQueues(): Promise<{ redrivePolicy?: string }> {
    const attrs = await this.attributes(this.o.queueUrl, 'queue');
    if (this.o.dlqUrl) await this.attributes(this.o.dlqUrl, 'dead-letter queue');
    const redrivePolicy = attrs?.RedrivePolicy;
    if (attrs && !redrivePolicy) {
      this.log('warn', 'sqs.no-redrive-policy', {
        queueUrl: this.o.queueUrl,
        detail: 'the queue has no RedrivePolicy: a message whose start keeps failing is retried forever; set one (docs/deploy.md)',
      });
    }
    return { redrivePolicy };
  }

  /** Polls until stop(); resolves, after the drain, with the counts. */
  async run(): Promise<SqsStats> {
    if (this.running) throw new Error('SqsConsumer.run: already running');
    this.running = true;
    const o = this.o;
    this.log('info', 'sqs.polling', { queueUrl: o.queueUrl, dlqUrl: o.dlqUrl, concurrency: o.concurrency, visibilitySeconds: o.visibilitySeconds });
    let backoff = 1000;
    while (!this.stopping) {
      if (this.inFlight.size >= o.concurrency) {
        await new Promise<void>((r) => { this.wake = r; });
        continue;
      }
      let messages: Message[];
      try {
        const res = await o.sqs.send(new ReceiveMessageCommand({
          QueueUrl: o.queueUrl,
          MaxNumberOfMessages: Math.min(o.batchSize, o.concurrency - this.inFlight.size),
          WaitTimeSeconds: o.waitSeconds,
          VisibilityTimeout: o.visibilitySeconds,
          MessageSystemAttributeNames: ['ApproximateReceiveCount'],
        }), { abortSignal: this.abort.signal });
        messages = res.Messages ?? [];
        backoff = 1000;
      } catch (e) {
        if (this.stopping) break;
        this.log('warn', 'sqs.receive-failed', { error: String(e), retryInMs: backoff });
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, 30_000);
        continue;
      }
      for (const m of messages) this.track(m);
    }
    await this.drain();
    this.log('info', 'sqs.stopped', { ...this.stats });
    return this.stats;
  }

  /** Stops polling now (an outstanding long poll is aborted); run() resolves after the drain. Idempotent. */
  stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.log('info', 'sqs.stopping', { inFlight: this.inFlight.size, drainSeconds: this.o.drainSeconds });
    this.abort.abort();
    this.wake?.();
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  private track(m: Message): void {
    this.stats.received++;
    this.log('debug', 'sqs.received', { messageId: m.MessageId, receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? 0) });
    const w: Work = { message: m, abandoned: false, done: Promise.resolve() };
    const everyMs = Math.max(1000, (this.o.visibilitySeconds * 1000) / 3);
    w.timer = setInterval(() => void this.extend(w), everyMs);
    w.done = this.handle(w)
      .catch((e: unknown) => {
        // A bug, not a message problem: leave the message (it comes back) and say so.
        this.stats.transient++;
        this.log('error', 'sqs.internal-error', { messageId: m.MessageId, error: String(e) });
      })
      .finally(() => {
        clearInterval(w.timer);
        this.inFlight.delete(w);
        this.wake?.();
      });
    this.inFlight.add(w);
  }

  private async handle(w: Work): Promise<void> {
    const m = w.message;
    const c: MessageClass<J> = classifyMessage(m.Body, { buckets: this.buckets, filter: this.o.filter, prepare: this.o.prepare });
    if (c.kind === 'poison') return this.poison(w, c.code, c.reason);
    if (c.kind === 'test-event') {
      this.stats.testEvents++;
      this.log('info', 'sqs.test-event', { messageId: m.MessageId });
      return this.delete(w);
    }
    for (const f of c.filtered) this.log('info', 'sqs.filtered', { messageId: m.MessageId, key: f.key, reason: f.reason });
    for (const a of c.todo) {
      if (w.abandoned) return;
      let ref: HandedOver;
      try {
        ref = await this.o.start(a.job, a.ev);
      } catch (e) {
        // Left for redelivery: events already handed over are handed over again then, which
        // their runs ignore (same version).
        this.stats.transient++;
        this.log('warn', 'sqs.start-failed', { messageId: m.MessageId, bucket: a.ev.bucket, key: a.ev.key, error: String(e) });
        return;
      }
      this.stats.signalled++;
      this.log('info', 'sqs.signalled', { messageId: m.MessageId, bucket: a.ev.bucket, key: a.ev.key, ...ref, version: a.version });
    }
    if (w.abandoned) return;
    return this.delete(w);
  }

  private async poison(w: Work, code: string, reason: string): Promise<void> {
    const m = w.message;
    const fields = { messageId: m.MessageId, code, reason, receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? 0) };
    if (!this.o.dlqUrl) {
      this.stats.leftForRedrive++;
      this.log('warn', 'sqs.poison', { ...fields, action: 'left for the queue\'s RedrivePolicy' });
      return;
    }
    const text = (s: string) => ({ DataType: 'String', StringValue: s });
    try {
      // Send first, delete after: a crash between leaves a copy in each queue (the main one's is
      // dead-lettered again), never none.
      await this.o.sqs.send(new SendMessageCommand({
        QueueUrl: this.o.dlqUrl,
        MessageBody: m.Body ?? '',
        MessageAttributes: {
          [POISON_ATTRIBUTES.code]: text(code),
          [POISON_ATTRIBUTES.reason]: text(reason.slice(0, 4096)),
          [POISON_ATTRIBUTES.sourceQueue]: text(this.o.queueUrl),
          [POISON_ATTRIBUTES.sourceMessageId]: text(m.MessageId ?? 'unknown'),
        },
      }));
    } catch (e) {
      this.stats.leftForRedrive++;
      this.log('error', 'sqs.dead-letter-failed', { ...fields, error: String(e), action: 'left for the queue\'s RedrivePolicy' });
      return;
    }
    this.stats.deadLettered++;
    this.log('warn', 'sqs.poison', { ...fields, action: 'sent to the dead-letter queue', dlqUrl: this.o.dlqUrl });
    await this.delete(w);
  }

  private async delete(w: Work): Promise<void> {
    clearInterval(w.timer);
    try {
      await this.o.sqs.send(new DeleteMessageCommand({ QueueUrl: this.o.queueUrl, ReceiptHandle: w.message.ReceiptHandle }));
      this.stats.deleted++;
      this.log('debug', 'sqs.deleted', { messageId: w.message.MessageId });
    } catch (e) {
      // It comes back and is handed over again: a duplicate, which the runs ignore.
      this.log('error', 'sqs.delete-failed', { messageId: w.message.MessageId, error: String(e) });
    }
  }

  private async extend(w: Work): Promise<void> {
    if (w.abandoned) return;
    try {
      await this.o.sqs.send(new ChangeMessageVisibilityCommand({
        QueueUrl: this.o.queueUrl, ReceiptHandle: w.message.ReceiptHandle, VisibilityTimeout: this.o.visibilitySeconds,
      }));
      this.log('debug', 'sqs.extended', { messageId: w.message.MessageId, visibilitySeconds: this.o.visibilitySeconds });
    } catch (e) {
      this.log('warn', 'sqs.extend-failed', { messageId: w.message.MessageId, error: String(e) });
    }
  }

  /** Waits up to drainSeconds for in-flight messages, then hands the rest back. */
  private async drain(): Promise<void> {
    if (this.inFlight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([...this.inFlight].map((w) => w.done)),
        new Promise<void>((r) => { timer = setTimeout(r, this.o.drainSeconds * 1000); }),
      ]);
      clearTimeout(timer);
    }
    await Promise.all([...this.inFlight].map(async (w) => {
      w.abandoned = true;
      clearInterval(w.timer);
      this.stats.abandoned++;
      try {
        await this.o.sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: this.o.queueUrl, ReceiptHandle: w.message.ReceiptHandle, VisibilityTimeout: 0 }));
        this.log('warn', 'sqs.abandoned', { messageId: w.message.MessageId, detail: 'still in flight at the end of the drain; visible again now' });
      } catch (e) {
        this.log('warn', 'sqs.abandoned', { messageId: w.message.MessageId, detail: 'could not reset its visibility; it reappears when the timeout ends', error: String(e) });
      }
    }));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => {
      const t = setTimeout(r, ms);
      this.abort.signal.addEventListener('abort', () => { clearTimeout(t); r(); }, { once: true });
    });
  }

  private async attributes(url: string, what: string): Promise<Record<string, string> | undefined> {
    try {
      const r = await this.o.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn', 'RedrivePolicy', 'VisibilityTimeout'] }));
      this.log('info', 'sqs.queue', { what, url, ...(r.Attributes ?? {}) });
      return r.Attributes ?? {};
    } catch (e) {
      const name = (e as Error).name;
      if (name === 'QueueDoesNotExist' || name === 'AWS.SimpleQueueService.NonExistentQueue') {
        throw new TriggerError('config', `the ${what} ${url} does not exist`, { cause: e });
      }
      // Without sqs:GetQueueAttributes we can still consume; the redrive policy stays unchecked.
      this.log('warn', 'sqs.queue-unchecked', { what, url, error: String(e) });
      return undefined;
    }
  }
}
