import { randomBytes, randomUUID } from 'node:crypto';
import {
  AppendResult,
  EventStore,
  ExpectedRevision,
  NewEvent,
  Position,
  RecordedEvent,
  START,
  Subscription,
  WrongExpectedRevisionError,
  comparePositions,
} from '../event-store.port';

export type EventStoreFactory = () => Promise<{ store: EventStore; cleanup: () => Promise<void> }>;

/*
 * The behaviour every EventStore adapter must have. One store serves the whole suite and each test
 * uses fresh stream names; tests that read `$all` assume nobody else writes to that store meanwhile.
 */

export const uniqueStreamName = (label = 'schedule'): string =>
  `prj_${randomBytes(4).toString('hex')}.test.${label}-sch_${randomBytes(6).toString('hex')}`;

export const newEvent = (type = 'ScheduleCreated', data: unknown = { n: randomBytes(2).toString('hex') }, metadata?: Record<string, unknown>): NewEvent => ({
  id: randomUUID(),
  type,
  data,
  metadata,
});

/** Polls `probe` until it returns a truthy value. */
export async function waitFor<T>(probe: () => T | Promise<T>, what: string, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs}ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** `$all` readers only see an append once no older transaction is open (PostgreSQL); wait for that. */
export const waitVisible = (store: EventStore, position: Position): Promise<boolean> =>
  waitFor(async () => comparePositions(await store.headPosition(), position) >= 0, 'the append to become visible in $all');

export async function expectConflict(append: Promise<AppendResult>, expected: ExpectedRevision, actual: number | 'no_stream'): Promise<void> {
  const error = await append.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WrongExpectedRevisionError);
  expect(error).toMatchObject({ expected, actual });
}

const ids = (events: readonly { id: string }[]): string[] => events.map((e) => e.id);

function expectStrictlyIncreasing(positions: readonly Position[]): void {
  for (let i = 1; i < positions.length; i++) {
    if (comparePositions(positions[i - 1], positions[i]) >= 0) {
      throw new Error(`Positions out of order at index ${i}: ${String(positions[i - 1].commit)}/${String(positions[i - 1].prepare)} then ${String(positions[i].commit)}/${String(positions[i].prepare)}`);
    }
  }
}

interface Collector {
  /** Every delivered event. */
  readonly all: RecordedEvent[];
  /** The delivered events of the streams asked for. */
  readonly events: RecordedEvent[];
  readonly errors: unknown[];
  readonly subscription: Subscription;
}

/** Subscribes from `after` and keeps the events of `streams` (earlier tests' events may come first). */
function collect(store: EventStore, after: Position, streams: readonly string[], before?: (event: RecordedEvent) => Promise<void>): Collector {
  const all: RecordedEvent[] = [];
  const events: RecordedEvent[] = [];
  const errors: unknown[] = [];
  const subscription = store.subscribeToAll({
    after,
    onEvent: async (event) => {
      all.push(event);
      if (!streams.includes(event.streamName)) return;
      await before?.(event);
      events.push(event);
    },
    onError: (error) => errors.push(error),
  });
  return { all, events, errors, subscription };
}

export function runEventStoreContract(name: string, factory: EventStoreFactory): void {
  describe(`EventStore contract: ${name}`, () => {
    let store: EventStore;
    let cleanup: () => Promise<void>;

    beforeAll(async () => {
      ({ store, cleanup } = await factory());
    });
    afterAll(async () => {
      await cleanup?.();
    });

    it('appends events and reads them back in revision order', async () => {
      const stream = uniqueStreamName();
      const first = newEvent('ScheduleCreated', { url: 'https://example.test/hook', nested: { at: [1, 2] } }, { correlationId: 'c-1' });
      const second = newEvent('ScheduleFired', { attempt: 1 });
      const startedAt = Date.now();

      const result = await store.appendToStream(stream, [first, second], 'no_stream');
      const read = await store.readStream(stream);

      expect(result.nextExpectedRevision).toBe(1);
      expect(read.map((e) => [e.id, e.streamName, e.type, e.revision])).toEqual([
        [first.id, stream, 'ScheduleCreated', 0],
        [second.id, stream, 'ScheduleFired', 1],
      ]);
      expect(read[0].data).toEqual({ url: 'https://example.test/hook', nested: { at: [1, 2] } });
      expect(read[0].metadata).toEqual({ correlationId: 'c-1' });
      expect(read[1].data).toEqual({ attempt: 1 });
      expect(read[1].metadata).toEqual({});
      expect(read[1].position).toEqual(result.position);
      expect(comparePositions(read[0].position, read[1].position)).toBeLessThan(0);
      expect(read[0].createdAt).toBeInstanceOf(Date);
      expect(Math.abs(read[0].createdAt.getTime() - startedAt)).toBeLessThan(60_000);
    });

    it('reads several streams at once, each like readStream, in the order asked (missing ones empty, repeats repeated)', async () => {
      const [a, b, missing] = [uniqueStreamName(), uniqueStreamName(), uniqueStreamName()];
      await store.appendToStream(a, [newEvent('A1'), newEvent('A2')], 'no_stream');
      await store.appendToStream(b, [newEvent('B1')], 'no_stream');
      await store.appendToStream(a, [newEvent('A3')], 1);

      const read = await store.readStreams([b, missing, a, b]);

      expect(read).toEqual([await store.readStream(b), [], await store.readStream(a), await store.readStream(b)]);
      expect(read[2].map((e) => [e.type, e.revision])).toEqual([['A1', 0], ['A2', 1], ['A3', 2]]);
      expect(await store.readStreams([])).toEqual([]);
    });

    it('appends to several streams at once, each on its own: a refused one does not stop the others', async () => {
      const taken = uniqueStreamName();
      await store.appendToStream(taken, [newEvent()], 'no_stream');
      const [a, b] = [uniqueStreamName(), uniqueStreamName()];
      const events = [newEvent('A1'), newEvent('B1'), newEvent('B2'), newEvent('X')];

      const results = await store.appendToStreams([
        { streamName: a, events: [events[0]], expected: 'no_stream' },
        { streamName: taken, events: [events[3]], expected: 'no_stream' },
        { streamName: b, events: [events[1], events[2]], expected: 'any' },
      ]);

      expect(results[0]).toMatchObject({ nextExpectedRevision: 0 });
      expect(results[1]).toBeInstanceOf(WrongExpectedRevisionError);
      expect(results[2]).toMatchObject({ nextExpectedRevision: 1 });
      expect((await store.readStream(a)).map((e) => e.id)).toEqual([events[0].id]);
      expect((await store.readStream(b)).map((e) => e.id)).toEqual([events[1].id, events[2].id]);
      expect((await store.readStream(taken)).map((e) => e.id)).not.toContain(events[3].id);
      // Positions are those of the last event of each append, in global order.
      expect((await store.readStream(b))[1].position).toEqual((results[2] as { position: unknown }).position);

      // Without a refusal the whole batch goes in; retried, it answers as the first time.
      const [c, d] = [uniqueStreamName(), uniqueStreamName()];
      const batch = [
        { streamName: c, events: [newEvent('C1')], expected: 'no_stream' as const },
        { streamName: d, events: [newEvent('D1')], expected: 'no_stream' as const },
      ];
      const first = await store.appendToStreams(batch);
      expect(first.every((r) => !(r instanceof Error))).toBe(true);
      expect(await store.appendToStreams(batch)).toEqual(first);
      expect(await store.appendToStreams([])).toEqual([]);
    });

    it('rejects an empty append', async () => {
      await expect(store.appendToStream(uniqueStreamName(), [], 'any')).rejects.toThrow();
    });

    describe('expected revision', () => {
      it("'no_stream' succeeds on a new stream and conflicts once the stream exists", async () => {
        const stream = uniqueStreamName();
        await expect(store.appendToStream(stream, [newEvent()], 'no_stream')).resolves.toMatchObject({ nextExpectedRevision: 0 });
        await expectConflict(store.appendToStream(stream, [newEvent()], 'no_stream'), 'no_stream', 0);
        expect(await store.readStream(stream)).toHaveLength(1);
      });

      it("'stream_exists' conflicts on a missing stream and succeeds on an existing one", async () => {
        const stream = uniqueStreamName();
        await expectConflict(store.appendToStream(stream, [newEvent()], 'stream_exists'), 'stream_exists', 'no_stream');
        expect(await store.readStream(stream)).toEqual([]);
        await store.appendToStream(stream, [newEvent()], 'no_stream');
        await expect(store.appendToStream(stream, [newEvent()], 'stream_exists')).resolves.toMatchObject({ nextExpectedRevision: 1 });
      });

      it('a number succeeds when it is the last revision and conflicts otherwise', async () => {
        const stream = uniqueStreamName();
        await expectConflict(store.appendToStream(stream, [newEvent()], 0), 0, 'no_stream');
        await store.appendToStream(stream, [newEvent(), newEvent()], 'no_stream');
        await expect(store.appendToStream(stream, [newEvent()], 1)).resolves.toMatchObject({ nextExpectedRevision: 2 });
        await expectConflict(store.appendToStream(stream, [newEvent()], 1), 1, 2);
        await expectConflict(store.appendToStream(stream, [newEvent()], 5), 5, 2);
        expect(ids(await store.readStream(stream))).toHaveLength(3);
      });

      it("'any' succeeds whether or not the stream exists", async () => {
        const stream = uniqueStreamName();
        await expect(store.appendToStream(stream, [newEvent()], 'any')).resolves.toMatchObject({ nextExpectedRevision: 0 });
        await expect(store.appendToStream(stream, [newEvent(), newEvent()], 'any')).resolves.toMatchObject({ nextExpectedRevision: 2 });
        expect((await store.readStream(stream)).map((e) => e.revision)).toEqual([0, 1, 2]);
      });
    });

    describe('concurrent appends with the same expected revision', () => {
      it('exactly one wins on an existing stream; the others get WrongExpectedRevisionError', async () => {
        const stream = uniqueStreamName();
        await store.appendToStream(stream, [newEvent()], 'no_stream');
        const attempts = Array.from({ length: 6 }, () => newEvent());
        const results = await Promise.allSettled(attempts.map((e) => store.appendToStream(stream, [e], 0)));

        const won = results.filter((r) => r.status === 'fulfilled');
        const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(5);
        for (const r of lost) {
          expect(r.reason).toBeInstanceOf(WrongExpectedRevisionError);
          expect(r.reason).toMatchObject({ expected: 0, actual: 1 });
        }
        const winner = attempts[results.indexOf(won[0])];
        expect(ids(await store.readStream(stream, { fromRevision: 1 }))).toEqual([winner.id]);
      });

      it("exactly one 'no_stream' append creates a new stream", async () => {
        const stream = uniqueStreamName();
        const results = await Promise.allSettled(Array.from({ length: 6 }, () => store.appendToStream(stream, [newEvent()], 'no_stream')));

        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) {
          if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(WrongExpectedRevisionError);
        }
        expect(await store.readStream(stream)).toHaveLength(1);
      });
    });

    describe('idempotency by event id', () => {
      it('appending the same events twice stores one copy and returns the same result', async () => {
        const stream = uniqueStreamName();
        const batch = [newEvent(), newEvent()];
        const original = await store.appendToStream(stream, batch, 'no_stream');
        const replay = await store.appendToStream(stream, batch, 'no_stream');
        expect(replay).toEqual(original);

        const next = [newEvent()];
        const appended = await store.appendToStream(stream, next, 1);
        expect(await store.appendToStream(stream, next, 1)).toEqual(appended);

        const any = [newEvent()];
        const anyResult = await store.appendToStream(stream, any, 'any');
        expect(await store.appendToStream(stream, any, 'any')).toEqual(anyResult);

        expect(ids(await store.readStream(stream))).toEqual([...ids(batch), ...ids(next), ...ids(any)]);
      });

      it('a replay after the stream moved on returns the original result without a revision check', async () => {
        const stream = uniqueStreamName();
        const first = [newEvent()];
        const original = await store.appendToStream(stream, first, 'no_stream');
        await store.appendToStream(stream, [newEvent()], 0);

        expect(await store.appendToStream(stream, first, 'no_stream')).toEqual(original);
        expect(await store.readStream(stream)).toHaveLength(2);
      });

      it('rejects an append where only some of the event ids already exist, writing nothing', async () => {
        const stream = uniqueStreamName();
        const first = newEvent();
        await store.appendToStream(stream, [first], 'no_stream');
        const fresh = newEvent();

        await expect(store.appendToStream(stream, [first, fresh], 'no_stream')).rejects.toThrow();
        expect(ids(await store.readStream(stream))).toEqual([first.id]);
      });
    });

    it('reads a stream from a revision; a missing stream reads as empty', async () => {
      const stream = uniqueStreamName();
      const batch = Array.from({ length: 5 }, () => newEvent());
      await store.appendToStream(stream, batch, 'no_stream');

      const tail = await store.readStream(stream, { fromRevision: 2 });
      expect(tail.map((e) => e.revision)).toEqual([2, 3, 4]);
      expect(ids(tail)).toEqual(ids(batch.slice(2)));
      expect(await store.readStream(stream, { fromRevision: 5 })).toEqual([]);
      expect(await store.readStream(uniqueStreamName())).toEqual([]);
    });

    describe('readAll', () => {
      it('returns events after a position in global order, exclusively, honouring the limit', async () => {
        // headPosition() may lag behind earlier appends (PostgreSQL: an older transaction still
        // open somewhere), so positions here come from this test's own events.
        const before = await store.headPosition();
        const a = uniqueStreamName('a');
        const b = uniqueStreamName('b');
        const [a1, a2, b1, a3] = [newEvent(), newEvent(), newEvent(), newEvent()];
        const r1 = await store.appendToStream(a, [a1, a2], 'no_stream');
        await store.appendToStream(b, [b1], 'no_stream');
        const r3 = await store.appendToStream(a, [a3], 1);
        await waitVisible(store, r3.position);

        const all = (await store.readAll({ after: before })).filter((e) => e.streamName === a || e.streamName === b);
        expect(ids(all)).toEqual([a1.id, a2.id, b1.id, a3.id]);
        expect(all.map((e) => e.streamName)).toEqual([a, a, b, a]);
        expect(all[1].position).toEqual(r1.position);
        expect(all[3].position).toEqual(r3.position);
        expectStrictlyIncreasing(all.map((e) => e.position));

        expect(ids(await store.readAll({ after: all[0].position }))).toEqual([a2.id, b1.id, a3.id]);
        expect(ids(await store.readAll({ after: all[1].position }))).toEqual([b1.id, a3.id]);
        expect(ids(await store.readAll({ after: all[0].position, limit: 2 }))).toEqual([a2.id, b1.id]);
        expect(ids(await store.readAll({ after: all[0].position, limit: 1 }))).toEqual([a2.id]);
        expect(await store.readAll({ after: r3.position })).toEqual([]);
        expect(ids(await store.readAll())).toEqual(expect.arrayContaining([a1.id, a3.id]));
      });

      it('pages through the whole log exactly once', async () => {
        const last = await store.appendToStream(uniqueStreamName(), [newEvent(), newEvent(), newEvent()], 'no_stream');
        await waitVisible(store, last.position);

        const paged: RecordedEvent[] = [];
        let after: Position = START;
        for (;;) {
          const page = await store.readAll({ after, limit: 4 });
          if (page.length === 0) break;
          expect(page.length).toBeLessThanOrEqual(4);
          paged.push(...page);
          after = page[page.length - 1].position;
        }
        expectStrictlyIncreasing(paged.map((e) => e.position));
        expect(new Set(ids(paged)).size).toBe(paged.length);
        expect(ids(paged)).toEqual(ids(await store.readAll({ limit: 100_000 })));
        expect(paged[paged.length - 1].position).toEqual(last.position);
      });
    });

    describe('subscribeToAll', () => {
      it('from START delivers old and new events in global order, exactly once', async () => {
        const stream = uniqueStreamName();
        const old = [newEvent(), newEvent()];
        const oldResult = await store.appendToStream(stream, old, 'no_stream');
        await waitVisible(store, oldResult.position);
        const history = await store.readAll({ limit: 100_000 });

        const { all: events, errors, subscription } = collect(store, START, [stream]);
        try {
          await waitFor(() => events.length >= history.length, 'the catch-up');
          const live = [newEvent(), newEvent()];
          await store.appendToStream(stream, [live[0]], 1);
          await store.appendToStream(stream, [live[1]], 2);
          await waitFor(() => events.some((e) => e.id === live[1].id), 'the live events');
          await new Promise((resolve) => setTimeout(resolve, 300));

          expect(ids(events)).toEqual([...ids(history), ...ids(live)]);
          expectStrictlyIncreasing(events.map((e) => e.position));
          expect(errors).toEqual([]);
        } finally {
          await subscription.close();
        }
      });

      it('from a checkpoint delivers only later events, old and new', async () => {
        const stream = uniqueStreamName();
        const [e1, e2, e3, e4] = [newEvent(), newEvent(), newEvent(), newEvent()];
        const r1 = await store.appendToStream(stream, [e1], 'no_stream');
        const r3 = await store.appendToStream(stream, [e2, e3], 0);
        await waitVisible(store, r3.position);

        const { all, events, subscription } = collect(store, r1.position, [stream]);
        try {
          await waitFor(() => events.length >= 2, 'the catch-up past the checkpoint');
          await store.appendToStream(stream, [e4], 2);
          await waitFor(() => events.some((e) => e.id === e4.id), 'the live event');
          await new Promise((resolve) => setTimeout(resolve, 300));

          expect(ids(events)).toEqual([e2.id, e3.id, e4.id]);
          for (const e of all) expect(comparePositions(e.position, r1.position)).toBeGreaterThan(0);
          expectStrictlyIncreasing(all.map((e) => e.position));
        } finally {
          await subscription.close();
        }
      });

      it('redelivers the same event after the handler throws, then continues in order', async () => {
        const head = await store.headPosition();
        const stream = uniqueStreamName();
        const [e1, e2] = [newEvent(), newEvent()];
        const calls: string[] = [];
        const failure = new Error('handler failed once');
        let failed = false;
        const { events, errors, subscription } = collect(store, head, [stream], async (event) => {
          calls.push(event.id);
          if (event.id === e1.id && !failed) {
            failed = true;
            throw failure;
          }
        });
        try {
          await store.appendToStream(stream, [e1], 'no_stream');
          await store.appendToStream(stream, [e2], 0);
          await waitFor(() => events.some((e) => e.id === e2.id), 'the second event');

          expect(calls).toEqual([e1.id, e1.id, e2.id]);
          expect(ids(events)).toEqual([e1.id, e2.id]);
          expect(errors).toContain(failure);
        } finally {
          await subscription.close();
        }
      });


      it('a batch subscriber gets every event once, in order, in batches of at most maxBatch; a failed batch is retried whole', async () => {
        const head = await store.headPosition();
        const stream = uniqueStreamName();
        const appended = Array.from({ length: 30 }, () => newEvent());
        await store.appendToStream(stream, appended, 'no_stream');
        const batches: string[][] = [];
        const applied: string[] = [];
        let failedOnce = false;
        const subscription = store.subscribeToAll({
          after: head,
          maxBatch: 7,
          onEvents: async (events) => {
            const mine = events.filter((e) => e.streamName === stream).map((e) => e.id);
            batches.push(mine);
            if (mine.length > 0 && !failedOnce) {
              failedOnce = true;
              throw new Error('the first batch fails once');
            }
            applied.push(...mine);
          },
        });
        try {
          await waitFor(() => applied.length >= appended.length, 'every event');
          expect(applied).toEqual(ids(appended));
          expect(batches.every((b) => b.length <= 7)).toBe(true);
          // The failed batch came again, the same events.
          const firstNonEmpty = batches.filter((b) => b.length > 0);
          expect(firstNonEmpty[1]).toEqual(firstNonEmpty[0]);
        } finally {
          await subscription.close();
        }
      });
      it('close() resolves only after the in-flight handler finished, and stops delivery', async () => {
        const head = await store.headPosition();
        const stream = uniqueStreamName();
        let release!: () => void;
        const gate = new Promise<void>((resolve) => (release = resolve));
        let started = false;
        const { events, subscription } = collect(store, head, [stream], async () => {
          started = true;
          await gate;
        });
        await store.appendToStream(stream, [newEvent()], 'no_stream');
        await waitFor(() => started, 'the handler to start');

        let closed = false;
        const closing = subscription.close().then(() => (closed = true));
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(closed).toBe(false);
        release();
        await closing;
        expect(events).toHaveLength(1);

        await store.appendToStream(stream, [newEvent()], 0);
        await new Promise((resolve) => setTimeout(resolve, 500));
        expect(events).toHaveLength(1);
      });
    });

    it('headPosition is the position of the newest event', async () => {
      const before = await store.headPosition();
      const result = await store.appendToStream(uniqueStreamName(), [newEvent(), newEvent()], 'no_stream');
      await waitVisible(store, result.position);

      const head = await store.headPosition();
      expect(head).toEqual(result.position);
      expect(comparePositions(head, before)).toBeGreaterThan(0);
    });

    it('ping answers true', async () => {
      await expect(store.ping()).resolves.toBe(true);
    });
  });
}
