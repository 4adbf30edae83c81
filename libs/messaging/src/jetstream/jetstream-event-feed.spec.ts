import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { START, type RecordedEvent, type Subscription } from '@schedstack/event-store';
import { describeWithNats, freePort, natsUrl } from '@schedstack/testing';
import { connect, type NatsConnection } from 'nats';
import type { FeedEvent } from '../event-feed.port';
import { JetStreamTestbed, recordedEvent, RecordingLogger, waitFor, type TestEventsStream } from '../testing/jetstream-fixtures';
import { encodeEventMessage, ensureEventsStream, subjectForEvent } from './events-stream';
import { consumerNamePrefix, JetStreamEventFeed } from './jetstream-event-feed';

describe('consumerNamePrefix', () => {
  it('replaces characters JetStream does not allow in consumer names', () => {
    expect(consumerNamePrefix('schedules.projection:list *>/x')).toBe('schedules_projection_list____x');
  });
});

describeWithNats('JetStreamEventFeed', () => {
  const bed = new JetStreamTestbed();
  const subscriptions: Subscription[] = [];
  const connections: NatsConnection[] = [];

  beforeAll(() => bed.connect());
  afterEach(async () => {
    for (const s of subscriptions.splice(0)) await s.close();
    for (const nc of connections.splice(0)) await nc.close();
  });
  afterAll(() => bed.close());

  /** Publishes like the relay does; returns the stream sequences. */
  async function publish(stream: TestEventsStream, events: readonly RecordedEvent[]): Promise<number[]> {
    const js = bed.nc.jetstream();
    const sequences: number[] = [];
    for (const event of events) {
      const { body, headers } = encodeEventMessage(event);
      const subject = subjectForEvent(stream.prefix, event) ?? 'unscoped';
      sequences.push((await js.publish(subject, body, { msgID: event.id, headers })).seq);
    }
    return sequences;
  }

  /** A message on the stream's subjects that the relay did not write. */
  async function publishForeign(stream: TestEventsStream): Promise<void> {
    await bed.nc.jetstream().publish(`${stream.prefix}.proj1.live.schedule.created`, new TextEncoder().encode('not json'));
  }

  function feedFor(stream: TestEventsStream, options: { retryDelayMs?: number; nc?: NatsConnection; logger?: RecordingLogger } = {}): JetStreamEventFeed {
    return new JetStreamEventFeed({
      nc: options.nc ?? bed.nc,
      streamName: stream.streamName,
      subjectPrefix: stream.prefix,
      retryDelayMs: options.retryDelayMs ?? 100,
      logger: options.logger ?? new RecordingLogger(),
    });
  }

  async function collect(
    feed: JetStreamEventFeed,
    options: { consumer: string; types?: string[]; after?: RecordedEvent['position']; afterSequence?: number },
    onEvent: (event: RecordedEvent) => Promise<void> = async () => undefined,
  ): Promise<RecordedEvent[]> {
    const received: RecordedEvent[] = [];
    const subscription = await feed.subscribe({
      consumer: options.consumer,
      types: options.types,
      after: options.after ?? START,
      afterSequence: options.afterSequence,
      onEvent: async (event) => {
        await onEvent(event);
        received.push(event);
      },
      onError: () => undefined,
    });
    subscriptions.push(subscription);
    return received;
  }

  async function collectBatches(
    feed: JetStreamEventFeed,
    options: {
      consumer: string;
      types?: string[];
      after?: RecordedEvent['position'];
      afterSequence?: number;
      maxBatch?: number;
      onError?: (error: unknown) => void;
      onBatch?: (batch: readonly FeedEvent[]) => Promise<void>;
    },
  ): Promise<FeedEvent[][]> {
    const batches: FeedEvent[][] = [];
    const subscription = await feed.subscribe({
      consumer: options.consumer,
      types: options.types,
      after: options.after ?? START,
      afterSequence: options.afterSequence,
      maxBatch: options.maxBatch,
      onEvents: async (batch) => {
        await options.onBatch?.(batch);
        batches.push([...batch]);
      },
      onError: options.onError ?? (() => undefined),
    });
    subscriptions.push(subscription);
    return batches;
  }

  /** Closes the subscription made last (afterEach would close it otherwise). */
  async function closeLatest(): Promise<void> {
    await subscriptions.pop()?.close();
  }

  const ids = (events: readonly RecordedEvent[]): string[] => events.map((e) => e.id);
  const flat = (batches: readonly FeedEvent[][]): RecordedEvent[] => batches.flat().map((item) => item.event);
  const settle = (ms = 200): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

  async function consumerConfigs(stream: TestEventsStream) {
    return (await bed.jsm.consumers.list(stream.streamName).next()).map((c) => c.config);
  }

  it('delivers every event in stream order, decoded back into the recorded event', async () => {
    const stream = await bed.createStream();
    const events = [
      recordedEvent(1),
      recordedEvent(2, 'delivery.scheduled', 'proj1.sandbox.delivery-d1'),
      recordedEvent(3, 'schedule.canceled'),
      recordedEvent(4, 'delivery.attempted', 'proj2.test.delivery-d2'),
    ];
    await publish(stream, events);
    const received = await collect(feedFor(stream), { consumer: 'schedules.all-events' });
    await waitFor(() => received.length === events.length, 10_000, 'all events');
    expect(received).toEqual(events);
  });

  it('delivers only the requested types, still in order, including events published later', async () => {
    const stream = await bed.createStream();
    const events = [
      recordedEvent(1, 'schedule.created'),
      recordedEvent(2, 'delivery.scheduled'),
      recordedEvent(3, 'schedule.canceled'),
      recordedEvent(4, 'schedule.created'),
    ];
    await publish(stream, events.slice(0, 2));
    const single = await collect(feedFor(stream), { consumer: 'one-type', types: ['schedule.created'] });
    const several = await collect(feedFor(stream), {
      consumer: 'two-types',
      types: ['schedule.created', 'schedule.canceled'],
    });
    await publish(stream, events.slice(2));
    await waitFor(() => single.length === 2 && several.length === 3, 10_000, 'filtered events');
    // Give a wrongly delivered event the chance to show up before asserting.
    await settle();
    expect(ids(single)).toEqual([events[0].id, events[3].id]);
    expect(ids(several)).toEqual([events[0].id, events[2].id, events[3].id]);
  });

  it('skips events at or before the subscriber checkpoint', async () => {
    const stream = await bed.createStream();
    const events = [1, 2, 3, 4].map((n) => recordedEvent(n));
    await publish(stream, events);
    const received = await collect(feedFor(stream), { consumer: 'checkpointed', after: events[1].position });
    await waitFor(() => received.length === 2, 10_000, 'events after the checkpoint');
    await settle();
    expect(ids(received)).toEqual([events[2].id, events[3].id]);
  });

  it('hands a batch subscriber what is available, in order, at most maxBatch at a time, with stream sequences', async () => {
    const stream = await bed.createStream();
    const events = Array.from({ length: 600 }, (_, i) => recordedEvent(i + 1));
    const sequences = await publish(stream, events);
    const batches = await collectBatches(feedFor(stream), { consumer: 'batched', maxBatch: 100 });
    await waitFor(() => flat(batches).length === events.length, 10_000, 'all events');
    expect(ids(flat(batches))).toEqual(ids(events));
    expect(batches.flat().map((item) => item.sequence)).toEqual(sequences);
    expect(Math.max(...batches.map((b) => b.length))).toBeLessThanOrEqual(100);
    // Already in the stream: read ahead and handed over together, not one by one.
    expect(batches.length).toBeLessThan(events.length);
  });

  it('retries a failed batch whole, before anything after it', async () => {
    const stream = await bed.createStream();
    const events = [1, 2, 3, 4, 5].map((n) => recordedEvent(n));
    await publish(stream, events.slice(0, 3));
    const errors: unknown[] = [];
    const attempts: string[][] = [];
    let failed = false;
    const batches = await collectBatches(feedFor(stream, { retryDelayMs: 150 }), {
      consumer: 'flaky-batches',
      onError: (error) => errors.push(error),
      onBatch: async (batch) => {
        attempts.push(batch.map((item) => item.event.id));
        if (!failed) {
          failed = true;
          // Meanwhile more events arrive: the retry still gets the failed batch, unchanged.
          await publish(stream, events.slice(3));
          throw new Error('transient');
        }
      },
    });
    await waitFor(() => flat(batches).length === 5, 10_000, 'all events');
    expect(attempts[1]).toEqual(attempts[0]);
    expect(ids(flat(batches))).toEqual(ids(events));
    expect(errors).toEqual([new Error('transient')]);
  });

  it('retries a failed event of a single-event subscriber before anything after it', async () => {
    const stream = await bed.createStream();
    const events = [1, 2, 3, 4, 5].map((n) => recordedEvent(n));
    await publish(stream, events);
    const attempts: number[] = [];
    let failed = false;
    const received = await collect(feedFor(stream, { retryDelayMs: 150 }), { consumer: 'flaky' }, async (event) => {
      const n = (event.data as { n: number }).n;
      attempts.push(n);
      if (n === 3 && !failed) {
        failed = true;
        throw new Error('transient');
      }
    });
    await waitFor(() => received.length === 5, 10_000, 'all events');
    expect(attempts).toEqual([1, 2, 3, 3, 4, 5]);
    expect(ids(received)).toEqual(ids(events));
  });

  it('resumes right after the checkpointed stream sequence, with an ordered consumer and no durable one', async () => {
    const stream = await bed.createStream();
    const events = [1, 2, 3, 4, 5].map((n) => recordedEvent(n));
    const sequences = await publish(stream, events);
    const batches = await collectBatches(feedFor(stream), { consumer: 'resuming', after: events[2].position, afterSequence: sequences[2] });
    await waitFor(() => flat(batches).length === 2, 10_000, 'events after the checkpoint');
    expect(ids(flat(batches))).toEqual([events[3].id, events[4].id]);
    const [config] = await consumerConfigs(stream);
    expect(config).toMatchObject({ deliver_policy: 'by_start_sequence', opt_start_seq: sequences[2] + 1, ack_policy: 'none' });
    expect(config.durable_name).toBeUndefined();
    await closeLatest();
    expect(await consumerConfigs(stream)).toEqual([]);
  });

  it('reads from the start when the stream no longer holds the checkpoint at its sequence (recreated or shorter)', async () => {
    // The old stream had two foreign messages first: the checkpointed event 3 was at sequence 5.
    // In the new one, sequence 5 holds event 5; resuming at 6 would skip events 4 and 5.
    const stream = await bed.createStream();
    const events = [1, 2, 3, 4, 5, 6].map((n) => recordedEvent(n));
    await publish(stream, events.slice(0, 5));
    const logger = new RecordingLogger();
    const moved = await collectBatches(feedFor(stream, { logger }), { consumer: 'moved', after: events[2].position, afterSequence: 5 });
    const beyond = await collectBatches(feedFor(stream), { consumer: 'beyond', after: events[2].position, afterSequence: 50 });
    await publish(stream, events.slice(5));
    await waitFor(() => flat(moved).length === 3 && flat(beyond).length === 3, 10_000, 'events after the checkpoint');
    await settle();
    expect(ids(flat(moved))).toEqual(ids(events.slice(3)));
    expect(ids(flat(beyond))).toEqual(ids(events.slice(3)));
    expect(logger.lines).toContainEqual({ level: 'log', message: expect.stringContaining('reads it from the start') as string });
  });

  it('follows a stream deleted and recreated under it, without duplicates or gaps', async () => {
    const stream = await bed.createStream();
    const events = [1, 2, 3, 4, 5].map((n) => recordedEvent(n));
    // A foreign message first: event 3 is at sequence 4 here, event 4 will be there in the new one.
    await publishForeign(stream);
    await publish(stream, events.slice(0, 3));
    const batches = await collectBatches(feedFor(stream), { consumer: 'recreated' });
    await waitFor(() => flat(batches).length === 3, 10_000, 'first events');

    await bed.jsm.streams.delete(stream.streamName);
    await ensureEventsStream(bed.jsm, { name: stream.streamName, subjects: [`${stream.prefix}.>`] });
    // As the relay does: the new stream is filled again from the start, then goes on.
    await publish(stream, events);
    await waitFor(() => flat(batches).length === 5, 20_000, 'events of the new stream');
    await settle();
    expect(ids(flat(batches))).toEqual(ids(events));
  });

  it('recreates its consumer when the server loses it (as on a restart), without duplicates or gaps', async () => {
    const stream = await bed.createStream();
    const events = [1, 2, 3, 4, 5].map((n) => recordedEvent(n));
    await publish(stream, events.slice(0, 2));
    const batches = await collectBatches(feedFor(stream), { consumer: 'lost' });
    await waitFor(() => flat(batches).length === 2, 10_000, 'first events');
    const [lost] = await bed.jsm.consumers.list(stream.streamName).next();
    await bed.jsm.consumers.delete(stream.streamName, lost.name);
    await publish(stream, events.slice(2));
    await waitFor(() => flat(batches).length === 5, 20_000, 'events after the loss');
    await settle();
    expect(ids(flat(batches))).toEqual(ids(events));
    const names = (await bed.jsm.consumers.list(stream.streamName).next()).map((c) => c.name);
    expect(names).not.toContain(lost.name);
  });

  it.each([
    ['drops', false],
    ['loses what the server sent, then drops', true],
  ])('carries on when the broker connection %s and comes back, with what was published meanwhile', async (_, loseInFlight) => {
    const stream = await bed.createStream();
    const events = Array.from({ length: 40 }, (_, i) => recordedEvent(i + 1));
    const proxy = await TcpProxy.start(new URL(natsUrl().replace(/^nats:/, 'http:')));
    try {
      const nc = await connect({ servers: `127.0.0.1:${proxy.port}`, reconnectTimeWait: 100, maxReconnectAttempts: -1 });
      connections.push(nc);
      await publish(stream, events.slice(0, 10));
      const logger = new RecordingLogger();
      const batches = await collectBatches(feedFor(stream, { nc, logger }), { consumer: 'reconnecting' });
      await waitFor(() => flat(batches).length === 10, 10_000, 'events before the outage');

      // Losing messages the server counts as delivered leaves a gap in the delivery sequence.
      if (loseInFlight) proxy.blackhole();
      else await proxy.cut();
      await publish(stream, events.slice(10, 30));
      await settle(300);
      if (loseInFlight) await proxy.cut();
      await proxy.restore();
      await publish(stream, events.slice(30));
      await waitFor(() => flat(batches).length === 40, 30_000, 'events after the outage');
      await settle();
      expect(ids(flat(batches))).toEqual(ids(events));
      if (loseInFlight) {
        expect(logger.lines).toContainEqual({ level: 'log', message: expect.stringContaining('missed messages; resuming after stream sequence 10') as string });
      }
      await closeLatest();
    } finally {
      await proxy.stop();
    }
  });

  it('skips and logs a message the relay did not write', async () => {
    const stream = await bed.createStream();
    const events = [1, 2].map((n) => recordedEvent(n));
    await publish(stream, events.slice(0, 1));
    await publishForeign(stream);
    await publish(stream, events.slice(1));
    const logger = new RecordingLogger();
    const received = await collect(feedFor(stream, { logger }), { consumer: 'foreign' });
    await waitFor(() => received.length === 2, 10_000, 'the relayed events');
    expect(ids(received)).toEqual(ids(events));
    expect(logger.lines).toContainEqual({ level: 'warn', message: expect.stringContaining('skips stream message 2') as string });
  });

  it('gives every subscription every event: replicas do not share them out', async () => {
    const stream = await bed.createStream();
    const events = Array.from({ length: 20 }, (_, i) => recordedEvent(i + 1));
    const a = await collectBatches(feedFor(stream), { consumer: 'replicated' });
    const b = await collectBatches(feedFor(stream), { consumer: 'replicated' });
    await publish(stream, events);
    await waitFor(() => flat(a).length === 20 && flat(b).length === 20, 10_000, 'both replicas');
    expect(ids(flat(a))).toEqual(ids(events));
    expect(ids(flat(b))).toEqual(ids(events));
  });

  it('close() waits for the batch being handled and hands over nothing after it', async () => {
    const stream = await bed.createStream();
    const events = [1, 2, 3].map((n) => recordedEvent(n));
    await publish(stream, events);
    let release: () => void = () => undefined;
    const slow = new Promise<void>((resolve) => (release = resolve));
    let handling = false;
    const before = await collect(feedFor(stream), { consumer: 'draining' }, async (event) => {
      if ((event.data as { n: number }).n === 2) {
        handling = true;
        await slow;
      }
    });
    await waitFor(() => handling, 10_000, 'event 2 in the handler');
    const closed = closeLatest();
    let closeDone = false;
    void closed.then(() => (closeDone = true));
    await settle(100);
    expect(closeDone).toBe(false);
    release();
    await closed;
    await settle();
    expect(ids(before)).toEqual([events[0].id, events[1].id]);
    expect(await consumerConfigs(stream)).toEqual([]);

    // The next subscriber starts from its own checkpoint: the feed keeps no state.
    const after = await collect(feedFor(stream), { consumer: 'draining', after: events[1].position });
    await waitFor(() => after.length === 1, 10_000, 'event 3 after reopening');
    expect(ids(after)).toEqual([events[2].id]);
  });

  it('fails to subscribe when the stream does not exist', async () => {
    const { streamName, prefix } = bed.names();
    const feed = new JetStreamEventFeed({ nc: bed.nc, streamName, subjectPrefix: prefix });
    await expect(feed.subscribe({ consumer: 'x', after: START, onEvent: async () => undefined })).rejects.toThrow(/stream not found/);
  });
});

/** A TCP hop in front of NATS whose connections a test can cut, as a broker outage would. */
class TcpProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private discarding = false;

  private constructor(
    readonly port: number,
    private readonly target: URL,
  ) {}

  static async start(target: URL): Promise<TcpProxy> {
    const proxy = new TcpProxy(await freePort(), target);
    await proxy.restore();
    return proxy;
  }

  /** Accepts connections again. */
  async restore(): Promise<void> {
    const server = createServer((client) => {
      const upstream = tcpConnect(Number(this.target.port || 4222), this.target.hostname);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => socket.destroy());
      }
      client.pipe(upstream);
      upstream.on('data', (chunk: Buffer) => {
        if (!this.discarding) client.write(chunk);
      });
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.server = server;
  }

  /** Keeps connections open but throws away what the server sends, until `cut()`. */
  blackhole(): void {
    this.discarding = true;
  }

  /** Drops every connection and refuses new ones until `restore()`. */
  async cut(): Promise<void> {
    this.discarding = false;
    const server = this.server;
    this.server = null;
    const closed = new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  async stop(): Promise<void> {
    await this.cut();
  }
}
