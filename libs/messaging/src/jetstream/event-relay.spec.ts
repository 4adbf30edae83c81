import { positionToString, type EventStore, type SubscribeOptions } from '@schedstack/event-store';
import { describeWithNats } from '@schedstack/testing';
import { JSONCodec } from 'nats';
import { appendEach, createTestEventStore, type TestEventStore } from '../testing/event-store-fixtures';
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

/** The store, except that subscriptions hold every event until `gate` resolves. */
function gated(store: EventStore, gate: Promise<void>): EventStore {
  return {
    appendToStream: (...args) => store.appendToStream(...args),
    readStream: (...args) => store.readStream(...args),
    readAll: (...args) => store.readAll(...args),
    headPosition: () => store.headPosition(),
    ping: () => store.ping(),
    close: () => store.close(),
    subscribeToAll: (options: SubscribeOptions) =>
      store.subscribeToAll({
        ...options,
        onEvent: async (event) => {
          await gate;
          await options.onEvent(event);
        },
      }),
  };
}
