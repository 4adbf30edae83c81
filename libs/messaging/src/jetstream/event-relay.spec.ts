import { randomUUID } from 'node:crypto';
import { positionToString, subscriberBatches, type EventStore, type SubscribeOptions } from '@schedstack/event-store';
import { describeWithNats, type OwnNatsServer, startOwnNatsServer } from '@schedstack/testing';
import { connect, JSONCodec, type JetStreamClient, type NatsConnection } from 'nats';
import { appendEach, createTestEventStore, newEvent, type TestEventStore } from '../testing/event-store-fixtures';
import { JetStreamTestbed, RecordingLogger, waitFor, type TestEventsStream } from '../testing/jetstream-fixtures';
import { EventRelay, type EventRelayOptions } from './event-relay';
import { ensureEventsStream, type EventMessageBody } from './events-stream';

describeWithNats('EventRelay', () => {
  const bed = new JetStreamTestbed();
  let fixture: TestEventStore;
  const relays: EventRelay[] = [];

  beforeAll(() => bed.connect());
  beforeEach(async () => {
    fixture = await createTestEventStore('relay');
  });
  afterEach(async () => {
    for (const relay of relays.splice(0)) await relay.stop();
    await fixture.dispose();
  });
  afterAll(() => bed.close());

  function relay(stream: TestEventsStream, options: Partial<EventRelayOptions> = {}): EventRelay {
    const created = new EventRelay({
      store: fixture.store,
      nc: bed.nc,
      streamName: stream.streamName,
      subjectPrefix: stream.prefix,
      retryInitialDelayMs: 50,
      logger: new RecordingLogger(),
      ...options,
    });
    relays.push(created);
    return created;
  }

  async function storedIds(stream: TestEventsStream): Promise<string[]> {
    return (await bed.readAll(stream.streamName)).map((m) => m.header.get('Nats-Msg-Id'));
  }

  it('publishes each scoped event with its subject, headers and body', async () => {
    const stream = bed.names();
    await appendEach(fixture.store, [
      ['proj1.live.schedule-s1', 'schedule.created'],
      ['proj1.sandbox.delivery-d1', 'delivery.scheduled'],
      ['user-u1', 'user.registered'],
      ['proj2.test.schedule-s2', 'schedule.canceled'],
    ]);
    // readAll shows a commit once no older transaction in the cluster is still open (other suites
    // write concurrently), so wait for all four to become visible.
    let events = await fixture.store.readAll();
    await waitFor(async () => (events = await fixture.store.readAll()).length === 4, 10_000, '4 visible events');
    const relayer = relay(stream);
    await relayer.start();
    await waitFor(async () => (await bed.messageCount(stream.streamName).catch(() => 0)) === 3, 10_000, '3 messages');
    await waitFor(() => positionToString(relayer.lastPosition) === positionToString(events[3].position));

    const messages = await bed.readAll(stream.streamName);
    const scoped = [events[0], events[1], events[3]];
    expect(messages.map((m) => m.subject)).toEqual([
      `${stream.prefix}.proj1.live.schedule.created`,
      `${stream.prefix}.proj1.sandbox.delivery.scheduled`,
      `${stream.prefix}.proj2.test.schedule.canceled`,
    ]);
    messages.forEach((message, i) => {
      const event = scoped[i];
      expect(message.header.get('Nats-Msg-Id')).toBe(event.id);
      expect(message.header.get('Sched-Position')).toBe(positionToString(event.position));
      expect(message.header.get('Sched-Event-Type')).toBe(event.type);
      expect(JSONCodec<EventMessageBody>().decode(message.data)).toEqual({
        id: event.id,
        stream: event.streamName,
        type: event.type,
        data: event.data,
        metadata: event.metadata,
        revision: event.revision,
        position: positionToString(event.position),
        created_at: event.createdAt.toISOString(),
      });
    });
    expect(relayer.published).toBe(3);

    const info = await bed.jsm.streams.info(stream.streamName);
    expect(info.config.subjects).toEqual([`${stream.prefix}.>`]);
    expect(info.config.duplicate_window).toBe(120_000_000_000);
    expect(info.config.storage).toBe('file');
  });

  it('resumes from the last message in the stream: a new instance publishes each event exactly once', async () => {
    // A tiny duplicate window: msg-id dedupe cannot be what prevents duplicates here.
    const stream = await bed.createStream({ duplicateWindowMs: 200 });
    const entries: Array<[string, string]> = [
      ['p.live.schedule-a', 'schedule.created'],
      ['p.live.schedule-b', 'schedule.created'],
      ['p.live.schedule-a', 'schedule.canceled'],
    ];
    const ids = await appendEach(fixture.store, entries);
    const first = relay(stream, { duplicateWindowMs: 200 });
    await first.start();
    await waitFor(async () => (await bed.messageCount(stream.streamName)) === 3, 10_000, 'first 3');
    await first.stop();

    ids.push(...(await appendEach(fixture.store, entries.slice(0, 2))));
    // Visible once no older transaction in the cluster is open (other suites write concurrently).
    await waitFor(async () => (await first.measureLag()) === 2, 10_000, 'lag of 2');
    expect(first.lagEvents).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 400));

    const second = relay(stream, { duplicateWindowMs: 200 });
    await second.start();
    await waitFor(async () => (await bed.messageCount(stream.streamName)) === 5, 10_000, '5 messages');
    await waitFor(() => second.published === 2, 5000, 'second relay caught up');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await storedIds(stream)).toEqual(ids);
    await expect(second.measureLag()).resolves.toBe(0);
  });

  it('never duplicates with two relays running concurrently', async () => {
    const stream = await bed.createStream();
    const a = relay(stream);
    const b = relay(stream);
    await Promise.all([a.start(), b.start()]);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(
        ...(await appendEach(fixture.store, [
          [`p.live.schedule-${i}`, 'schedule.created'],
          [`p.sandbox.delivery-${i}`, 'delivery.scheduled'],
        ])),
      );
    }
    await waitFor(async () => (await bed.messageCount(stream.streamName)) === 10, 10_000, '10 messages');
    const head = positionToString(await fixture.store.headPosition());
    await waitFor(
      () => positionToString(a.lastPosition) === head && positionToString(b.lastPosition) === head,
      10_000,
      'both relays at the head',
    );
    expect(await storedIds(stream)).toEqual(ids);
    expect(a.published + b.published).toBe(10);
  });

  it('a replica lagging beyond the duplicate window resynchronises instead of republishing', async () => {
    const stream = await bed.createStream({ duplicateWindowMs: 200 });
    const ids = await appendEach(fixture.store, [['p.live.schedule-0', 'schedule.created']]);
    const leader = relay(stream, { duplicateWindowMs: 200 });
    await leader.start();
    await waitFor(async () => (await bed.messageCount(stream.streamName)) === 1, 10_000, 'first message');

    // The laggard sees the stream's last message, then its store subscription stalls.
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const logger = new RecordingLogger();
    const laggard = relay(stream, { duplicateWindowMs: 200, store: gated(fixture.store, gate), logger });
    await laggard.start();

    ids.push(
      ...(await appendEach(fixture.store, [
        ['p.live.schedule-1', 'schedule.created'],
        ['p.live.schedule-2', 'schedule.created'],
      ])),
    );
    await waitFor(async () => (await bed.messageCount(stream.streamName)) === 3, 10_000, '3 messages');
    await new Promise((resolve) => setTimeout(resolve, 400));
    open();
    const head = positionToString(await fixture.store.headPosition());
    await waitFor(() => positionToString(laggard.lastPosition) === head, 10_000, 'laggard at the head');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await storedIds(stream)).toEqual(ids);
    expect(laggard.published).toBe(0);
    expect(logger.lines).toContainEqual({
      level: 'warn',
      message: expect.stringContaining('moved ahead of this relay') as string,
    });
  });

  it('pipelines publishes and stores every event once, in store order', async () => {
    const stream = await bed.createStream();
    const ids = await appendMany(fixture.store, 300);
    await waitFor(async () => (await fixture.store.readAll()).length === 300, 10_000, '300 visible events');
    const { nc, stats } = instrumented(bed.nc);
    const relayer = relay(stream, { nc, maxInFlight: 32 });
    await relayer.start();
    await waitFor(async () => (await bed.messageCount(stream.streamName)) === 300, 20_000, '300 messages');
    await waitFor(() => relayer.published === 300, 5000, 'all acks');
    expect(await storedIds(stream)).toEqual(ids);
    // Several PubAcks outstanding at once, never more than allowed.
    expect(stats.maxInFlight).toBeGreaterThan(1);
    expect(stats.maxInFlight).toBeLessThanOrEqual(32);
  });

  it('a stop with publishes in flight, then a new instance: each event once, in order', async () => {
    // A tiny duplicate window: msg-id dedupe cannot be what prevents duplicates here.
    const stream = await bed.createStream({ duplicateWindowMs: 200 });
    const ids = await appendMany(fixture.store, 200);
    const first = relay(stream, { duplicateWindowMs: 200, maxInFlight: 64 });
    await first.start();
    await waitFor(async () => (await bed.messageCount(stream.streamName)) > 0, 10_000, 'some messages');
    await first.stop();
    ids.push(...(await appendMany(fixture.store, 100)));
    await new Promise((resolve) => setTimeout(resolve, 400));

    const second = relay(stream, { duplicateWindowMs: 200, maxInFlight: 64 });
    await second.start();
    await waitFor(async () => (await bed.messageCount(stream.streamName)) === 300, 20_000, '300 messages');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await storedIds(stream)).toEqual(ids);
    expect(first.published + second.published).toBe(300);
  });

  it('never duplicates with two pipelining relays, even when the duplicate window cannot help', async () => {
    const stream = await bed.createStream({ duplicateWindowMs: 200 });
    const a = relay(stream, { duplicateWindowMs: 200, maxInFlight: 16 });
    const b = relay(stream, { duplicateWindowMs: 200, maxInFlight: 16 });
    await Promise.all([a.start(), b.start()]);
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      ids.push(...(await appendMany(fixture.store, 30, 3)));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const head = positionToString(await fixture.store.headPosition());
    await waitFor(
      () => positionToString(a.lastPosition) === head && positionToString(b.lastPosition) === head,
      20_000,
      'both relays at the head',
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await storedIds(stream)).toEqual(ids);
    expect(a.published + b.published).toBe(300);
  });

  it.each<[string, PublishFault]>([
    ['was never sent', 'not-sent'],
    ['landed but its ack was lost', 'ack-lost'],
  ])('a failed publish that %s is retried from the first unacknowledged event: nothing skipped, nothing twice', async (_, fault) => {
    const stream = await bed.createStream();
    const ids = await appendMany(fixture.store, 100);
    await waitFor(async () => (await fixture.store.readAll()).length === 100, 10_000, '100 visible events');
    const logger = new RecordingLogger();
    const { nc } = instrumented(bed.nc, (n) => (n === 10 ? fault : null));
    const relayer = relay(stream, { nc, maxInFlight: 32, logger });
    await relayer.start();
    await waitFor(async () => (await bed.messageCount(stream.streamName)) === 100 && (await relayer.measureLag()) === 0, 20_000, 'all relayed');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await storedIds(stream)).toEqual(ids);
    expect(logger.lines.some((l) => l.level === 'warn')).toBe(true);
  });

  it('retries until JetStream accepts, without skipping an event', async () => {
    const stream = bed.names();
    const ids = await appendEach(fixture.store, [
      ['p.live.schedule-a', 'schedule.created'],
      ['p.live.schedule-b', 'schedule.created'],
    ]);
    // No stream yet and the relay may not create it: every attempt fails until it exists.
    const logger = new RecordingLogger();
    const relayer = relay(stream, { ensureStream: false, logger });
    await relayer.start();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(relayer.published).toBe(0);
    expect(logger.lines.filter((l) => /stream not found/.test(l.message)).length).toBeGreaterThan(1);
    await ensureEventsStream(bed.jsm, { name: stream.streamName, subjects: [`${stream.prefix}.>`] });
    await waitFor(async () => (await bed.messageCount(stream.streamName)) === 2, 10_000, '2 messages');
    expect(await storedIds(stream)).toEqual(ids);
  });
});

/**
 * A NATS server of this suite's own (never the machine's shared one), stopped with SIGTERM and
 * started again on the same port and JetStream store while the relay follows a trickle of appends.
 */
describeWithNats('EventRelay across a NATS server restart', () => {
  let server: OwnNatsServer;
  let fixture: TestEventStore;
  let nc: NatsConnection | null = null;
  let relayer: EventRelay | null = null;
  let appending: Promise<void> = Promise.resolve();
  let stopAppending = (): void => undefined;

  beforeAll(async () => {
    server = await startOwnNatsServer();
  }, 30_000);
  beforeEach(async () => {
    fixture = await createTestEventStore('relay_restart');
  });
  afterEach(async () => {
    stopAppending();
    await appending.catch(() => undefined);
    await relayer?.stop();
    await nc?.close().catch(() => undefined);
    await fixture.dispose();
  }, 30_000);
  // Whatever happened above: the server and its store directory go.
  afterAll(() => server?.close(), 30_000);

  it("resumes on the 'reconnect' status, not a publish timeout later: the stream catches up, each event once, in order", async () => {
    const streamName = `RESTART_${randomUUID().slice(0, 8)}`;
    const prefix = 'trestart';
    // Like production (reconnect forever), with a short wait between attempts to keep the test short.
    nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    const logger = new RecordingLogger();
    // Far longer than the catch-up budget below: a relay that only resynced once a publish lost in
    // the outage timed out could not make it.
    const relay = new EventRelay({ store: fixture.store, nc, streamName, subjectPrefix: prefix, retryInitialDelayMs: 50, publishTimeoutMs: 60_000, logger });
    relayer = relay;
    await relay.start();
    expect(relay.resumes).toEqual({ start: 1, reconnect: 0, refused: 0, failure: 0 });

    // A steady trickle: one event every 25 ms, before, during and after the outage.
    let appended = 0;
    let running = true;
    stopAppending = () => (running = false);
    appending = (async () => {
      while (running) {
        await appendMany(fixture.store, 1);
        appended++;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    })();
    await waitFor(() => relay.published >= 20, 10_000, 'relaying before the outage');

    await server.stop();
    const appendedAtStop = appended;
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    await server.start();
    const appendedWhileDown = appended - appendedAtStop;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    stopAppending();
    await appending;
    expect(appendedWhileDown).toBeGreaterThan(0);

    // (a) The stream catches up with the store: every event once, in store order, no gap.
    const checker = await connect({ servers: server.url });
    try {
      const jsm = await checker.jetstreamManager();
      let storeIds: string[] = [];
      await waitFor(
        async () => {
          storeIds = (await fixture.store.readAll({ limit: 10_000 })).map((e) => e.id);
          return storeIds.length === appended && (await jsm.streams.info(streamName)).state.messages === appended;
        },
        30_000,
        'the stream to catch up with the store',
      );
      const info = await jsm.streams.info(streamName);
      expect(info.state).toMatchObject({ first_seq: 1, last_seq: appended, messages: appended });
      const msgIds: string[] = [];
      for (let seq = 1; seq <= info.state.last_seq; seq++) msgIds.push((await jsm.streams.getMessage(streamName, { seq })).header.get('Nats-Msg-Id'));
      expect(msgIds).toEqual(storeIds);
      await waitFor(async () => (await relay.measureLag()) === 0, 10_000, 'no lag');
    } finally {
      await checker.close();
    }

    // (b) It resumed because the connection came back: no publish waited out its timeout.
    expect(relay.resumes.reconnect).toBeGreaterThanOrEqual(1);
    expect(logger.lines.filter((l) => /timeout/i.test(l.message))).toEqual([]);
    expect(logger.lines).toContainEqual({ level: 'warn', message: expect.stringContaining('NATS disconnected') as string });
  }, 90_000);
});

/** How a wrapped publish misbehaves: not sent at all, or sent but its ack lost. */
type PublishFault = 'not-sent' | 'ack-lost';

/**
 * `nc`, except that its JetStream publishes are counted (`maxInFlight`: most outstanding at once)
 * and the publishes for which `fault(n)` (n: 1-based call count) names a fault fail that way.
 */
function instrumented(nc: NatsConnection, fault: (n: number) => PublishFault | null = () => null) {
  const js = nc.jetstream();
  const stats = { calls: 0, inFlight: 0, maxInFlight: 0 };
  const wrapped: JetStreamClient = Object.create(js) as JetStreamClient;
  wrapped.publish = async (...args: Parameters<JetStreamClient['publish']>) => {
    const n = ++stats.calls;
    const kind = fault(n);
    if (kind === 'not-sent') throw new Error(`publish ${n} failed before it was sent`);
    stats.inFlight++;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    try {
      const ack = await js.publish(...args);
      if (kind === 'ack-lost') throw new Error(`ack of publish ${n} lost`);
      return ack;
    } finally {
      stats.inFlight--;
    }
  };
  const proxy = new Proxy(nc, {
    get(target, property) {
      if (property === 'jetstream') return () => wrapped;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { nc: proxy, stats };
}

/** Appends `count` events, `perStream` per append, to streams of the `p.live` scope; returns their ids in order. */
async function appendMany(store: EventStore, count: number, perStream = 10): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; ids.length < count; i++) {
    const events = Array.from({ length: Math.min(perStream, count - ids.length) }, () => newEvent('schedule.fire_planned'));
    await store.appendToStream(`p.live.schedule-${randomUUID()}`, events, 'no_stream');
    ids.push(...events.map((e) => e.id));
  }
  return ids;
}

/** The store, except that subscriptions hold every event until `gate` resolves. */
function gated(store: EventStore, gate: Promise<void>): EventStore {
  return {
    appendToStream: (...args) => store.appendToStream(...args),
    appendToStreams: (...args) => store.appendToStreams(...args),
    readStream: (...args) => store.readStream(...args),
    readStreams: (...args) => store.readStreams(...args),
    readAll: (...args) => store.readAll(...args),
    headPosition: () => store.headPosition(),
    ping: () => store.ping(),
    close: () => store.close(),
    subscribeToAll: (options: SubscribeOptions) => {
      const { maxBatch, handle } = subscriberBatches(options);
      return store.subscribeToAll({
        after: options.after,
        onError: options.onError,
        maxBatch,
        onEvents: async (events) => {
          await gate;
          await handle(events);
        },
      });
    },
  };
}
