import { START, type RecordedEvent, type Subscription } from '@schedstack/event-store';
import { appendEach, createTestEventStore, type TestEventStore } from '../testing/event-store-fixtures';
import { waitFor } from '../testing/jetstream-fixtures';
import type { FeedEvent } from '../event-feed.port';
import { StoreEventFeed } from './store-event-feed';

describe('StoreEventFeed', () => {
  let fixture: TestEventStore;
  const subscriptions: Subscription[] = [];

  beforeAll(async () => {
    fixture = await createTestEventStore('store_feed');
  });
  afterEach(async () => {
    for (const s of subscriptions.splice(0)) await s.close();
  });
  afterAll(() => fixture.dispose());

  async function collect(types?: string[], after = START): Promise<RecordedEvent[]> {
    const received: RecordedEvent[] = [];
    subscriptions.push(
      await new StoreEventFeed(fixture.store).subscribe({
        consumer: 'test.feed',
        types,
        after,
        onEvent: async (event) => {
          received.push(event);
        },
      }),
    );
    return received;
  }

  it('delivers every event in global order, then only the requested types, live appends included', async () => {
    const ids = await appendEach(fixture.store, [
      ['p1.live.schedule-a', 'schedule.created'],
      ['p1.live.delivery-b', 'delivery.scheduled'],
      ['p1.sandbox.schedule-c', 'schedule.created'],
    ]);
    const all = await collect();
    const schedules = await collect(['schedule.created']);
    const twoTypes = await collect(['schedule.canceled', 'delivery.scheduled']);
    ids.push(
      ...(await appendEach(fixture.store, [
        ['p1.live.schedule-a', 'schedule.canceled'],
        ['p2.test.schedule-d', 'schedule.created'],
      ])),
    );

    await waitFor(() => all.length === 5 && schedules.length === 3 && twoTypes.length === 2, 10_000, 'events');
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(all.map((e) => e.id)).toEqual(ids);
    expect(schedules.map((e) => e.id)).toEqual([ids[0], ids[2], ids[4]]);
    expect(twoTypes.map((e) => e.id)).toEqual([ids[1], ids[3]]);
    expect(new Set(schedules.map((e) => e.type))).toEqual(new Set(['schedule.created']));
  });

  it('hands a batch subscriber the requested types in batches, in order, without a feed sequence', async () => {
    const ids = await appendEach(
      fixture.store,
      Array.from({ length: 30 }, (_, i): [string, string] => [`p1.live.schedule-b${i}`, i % 3 === 0 ? 'delivery.scheduled' : 'schedule.paused']),
    );
    const wanted = ids.filter((_, i) => i % 3 !== 0);
    const batches: FeedEvent[][] = [];
    subscriptions.push(
      await new StoreEventFeed(fixture.store).subscribe({
        consumer: 'test.batches',
        types: ['schedule.paused'],
        after: START,
        maxBatch: 4,
        onEvents: async (batch) => {
          batches.push([...batch]);
        },
      }),
    );
    await waitFor(() => batches.flat().length === wanted.length, 10_000, 'the paused events');
    expect(batches.flat().map((item) => item.event.id)).toEqual(wanted);
    expect(batches.flat().every((item) => item.sequence === null)).toBe(true);
    expect(Math.max(...batches.map((b) => b.length))).toBeLessThanOrEqual(4);
    expect(batches.length).toBeLessThan(wanted.length);
  });

  it('starts after the given checkpoint', async () => {
    const [first] = await fixture.store.readAll({ limit: 1 });
    const everything = await fixture.store.readAll();
    const received = await collect(undefined, first.position);
    await waitFor(() => received.length === everything.length - 1, 10_000, 'events after the checkpoint');
    expect(received.map((e) => e.id)).toEqual(everything.slice(1).map((e) => e.id));
  });
});
