import { randomBytes, randomUUID } from 'node:crypto';
import type { Position, RecordedEvent } from '@schedstack/event-store';
import { connect, type JetStreamManager, type NatsConnection, type StoredMsg } from 'nats';
import { natsUrl } from '@schedstack/testing';
import { ensureEventsStream } from '../jetstream/events-stream';

/**
 * Per-test JetStream isolation on the shared NATS server: a stream and subject prefix of its own,
 * deleted afterwards.
 */
export interface TestEventsStream {
  readonly streamName: string;
  readonly prefix: string;
}

export class JetStreamTestbed {
  readonly base = randomBytes(4).toString('hex');
  private counter = 0;
  private readonly streams: string[] = [];
  nc!: NatsConnection;
  jsm!: JetStreamManager;

  async connect(): Promise<void> {
    this.nc = await connect({ servers: natsUrl(), name: `messaging-test-${this.base}` });
    this.jsm = await this.nc.jetstreamManager();
  }

  /** Names only; `createStream` also creates it. */
  names(): TestEventsStream {
    this.counter += 1;
    const id = `${this.base}_${this.counter}`;
    const names = { streamName: `TEST_EVENTS_${id}`, prefix: `tevents_${id}` };
    this.streams.push(names.streamName);
    return names;
  }

  async createStream(options: { duplicateWindowMs?: number } = {}): Promise<TestEventsStream> {
    const names = this.names();
    await ensureEventsStream(this.jsm, {
      name: names.streamName,
      subjects: [`${names.prefix}.>`],
      duplicateWindowMs: options.duplicateWindowMs,
    });
    return names;
  }

  async readAll(streamName: string): Promise<StoredMsg[]> {
    const info = await this.jsm.streams.info(streamName);
    const messages: StoredMsg[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      messages.push(await this.jsm.streams.getMessage(streamName, { seq }));
    }
    return messages;
  }

  async messageCount(streamName: string): Promise<number> {
    return (await this.jsm.streams.info(streamName)).state.messages;
  }

  async close(): Promise<void> {
    if (!this.nc) return;
    for (const name of this.streams) await this.jsm.streams.delete(name).catch(() => undefined);
    await this.nc.close();
  }
}

export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A synthetic recorded event at position `commit/prepare` = `n/n`. */
export function recordedEvent(n: number, type = 'schedule.created', streamName = 'proj1.live.schedule-s1'): RecordedEvent {
  const position: Position = { commit: BigInt(1000 + n), prepare: BigInt(n) };
  return {
    id: randomUUID(),
    streamName,
    type,
    data: { n, nested: { list: [n] } },
    metadata: { correlation_id: `c${n}` },
    revision: n,
    position,
    createdAt: new Date(Date.UTC(2030, 0, 1, 0, 0, n)),
  };
}

/** A LoggerService that keeps messages for assertions instead of printing them. */
export class RecordingLogger {
  readonly lines: Array<{ level: string; message: string }> = [];
  log(message: unknown): void {
    this.lines.push({ level: 'log', message: String(message) });
  }
  warn(message: unknown): void {
    this.lines.push({ level: 'warn', message: String(message) });
  }
  error(message: unknown): void {
    this.lines.push({ level: 'error', message: String(message) });
  }
}
