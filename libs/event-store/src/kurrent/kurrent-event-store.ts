import {
  ANY,
  AppendExpectedRevision,
  BACKWARDS,
  END,
  EventStoreDBClient,
  JSONType,
  NO_STREAM,
  RecordedEvent as KurrentRecordedEvent,
  START as FROM_START,
  STREAM_EXISTS,
  StreamNotFoundError,
  WrongExpectedVersionError,
  excludeSystemEvents,
  jsonEvent,
} from '@eventstore/db-client';
import type { AllStreamSubscription, ReadPosition } from '@eventstore/db-client';
import {
  AppendRequest,
  AppendResult,
  EventStore,
  subscriberBatches,
  ExpectedRevision,
  NewEvent,
  Position,
  ReadAllOptions,
  RecordedEvent,
  START,
  SubscribeOptions,
  Subscription,
  WrongExpectedRevisionError,
  comparePositions,
} from '../event-store.port';

export interface KurrentEventStoreOptions {
  /** A client owned by the caller; `close()` leaves it open. */
  readonly client?: EventStoreDBClient;
  /** e.g. `esdb://localhost:2113?tls=false`; the store creates and owns the client. */
  readonly connectionString?: string;
}

const DEFAULT_READ_LIMIT = 1000;
const PAGE_SIZE = 500;
const HANDLER_RETRY_DELAY_MS = 500;
const RESUBSCRIBE_DELAY_MS = 1000;

const isStart = (p: Position): boolean => p.commit < 0n;
const isSystem = (e: KurrentRecordedEvent): boolean => e.type.startsWith('$') || e.streamId.startsWith('$');
const fromPosition = (p: Position): ReadPosition => (isStart(p) ? FROM_START : { commit: p.commit, prepare: p.prepare });

function toExpectedRevision(expected: ExpectedRevision): AppendExpectedRevision {
  if (expected === 'any') return ANY;
  if (expected === 'no_stream') return NO_STREAM;
  if (expected === 'stream_exists') return STREAM_EXISTS;
  return BigInt(expected);
}

function toRecordedEvent(e: KurrentRecordedEvent): RecordedEvent {
  // Positions on stream reads arrived with server 22.6; every caller relies on them.
  if (!e.position) throw new Error(`KurrentDB returned no position for event ${e.id}: server older than 22.6?`);
  const metadata =
    e.metadata && typeof e.metadata === 'object' && !Array.isArray(e.metadata) && !(e.metadata instanceof Uint8Array)
      ? (e.metadata as Record<string, unknown>)
      : {};
  return {
    id: e.id,
    streamName: e.streamId,
    type: e.type,
    data: e.data,
    metadata,
    revision: Number(e.revision),
    position: { commit: e.position.commit, prepare: e.position.prepare },
    createdAt: e.created,
  };
}

/** KurrentDB / EventStoreDB adapter: the server's own $all order and idempotency by event id. */
export class KurrentEventStore implements EventStore {
  readonly client: EventStoreDBClient;
  private readonly ownsClient: boolean;
  private readonly subscriptions = new Set<KurrentSubscription>();

  constructor(options: KurrentEventStoreOptions) {
    if (options.client) {
      this.client = options.client;
      this.ownsClient = false;
    } else if (options.connectionString) {
      this.client = EventStoreDBClient.connectionString(options.connectionString);
      this.ownsClient = true;
    } else {
      throw new Error('KurrentEventStore needs a client or a connectionString');
    }
  }

  async appendToStream(streamName: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    if (events.length === 0) throw new Error(`Stream '${streamName}': nothing to append`);
    const ids = events.map((e) => e.id);
    const repeated = ids.filter((id, i) => ids.indexOf(id) !== i);
    if (repeated.length > 0) throw new Error(`Stream '${streamName}': event ids repeated within one append: ${repeated.join(', ')}`);

    const data = events.map((e) =>
      jsonEvent({ id: e.id, type: e.type, data: (e.data === undefined ? null : e.data) as JSONType, metadata: e.metadata ?? {} }),
    );
    try {
      const result = await this.client.appendToStream(streamName, data, { expectedRevision: toExpectedRevision(expected) });
      const nextExpectedRevision = Number(result.nextExpectedRevision);
      if (result.position && result.position.commit >= 0n) {
        return { nextExpectedRevision, position: { commit: result.position.commit, prepare: result.position.prepare } };
      }
      // Idempotent replays may come back without a position: take the original event's.
      const [last] = await this.readStreamPage(streamName, nextExpectedRevision, 1);
      if (!last) throw new Error(`KurrentDB returned no position for the append to '${streamName}'`);
      return { nextExpectedRevision, position: last.position };
    } catch (error) {
      if (!(error instanceof WrongExpectedVersionError)) throw error;
      // The server reports a partial replay (some ids already at the expected place) as a
      // version conflict; name the duplicates as the PostgreSQL adapter does.
      const duplicates = await this.duplicatesAt(streamName, expected, ids);
      if (duplicates.length > 0) throw new Error(`Stream '${streamName}': events already appended: ${duplicates.join(', ')}`);
      const actual = error.actualVersion;
      throw new WrongExpectedRevisionError(streamName, expected, actual === 'no_stream' || actual < 0n ? 'no_stream' : Number(actual));
    }
  }

  /** KurrentDB appends to one stream per call: the requests go concurrently, each on its own. */
  appendToStreams(requests: readonly AppendRequest[]): Promise<(AppendResult | Error)[]> {
    return Promise.all(
      requests.map((r) => this.appendToStream(r.streamName, r.events, r.expected).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))))),
    );
  }

  private async duplicatesAt(streamName: string, expected: ExpectedRevision, ids: readonly string[]): Promise<string[]> {
    if (expected !== 'no_stream' && typeof expected !== 'number') return [];
    const from = expected === 'no_stream' ? 0 : expected + 1;
    const written = await this.readStreamPage(streamName, from, ids.length);
    return written.filter((e) => ids.includes(e.id)).map((e) => e.id);
  }

  async readStream(streamName: string, options?: { fromRevision?: number }): Promise<RecordedEvent[]> {
    return this.readStreamPage(streamName, options?.fromRevision ?? 0);
  }

  readStreams(streamNames: readonly string[]): Promise<RecordedEvent[][]> {
    return Promise.all(streamNames.map((name) => this.readStream(name)));
  }

  private async readStreamPage(streamName: string, fromRevision: number, maxCount?: number): Promise<RecordedEvent[]> {
    const out: RecordedEvent[] = [];
    try {
      for await (const resolved of this.client.readStream(streamName, { fromRevision: BigInt(fromRevision), maxCount })) {
        if (resolved.event) out.push(toRecordedEvent(resolved.event));
      }
    } catch (error) {
      if (error instanceof StreamNotFoundError) return [];
      throw error;
    }
    return out;
  }

  async readAll(options?: ReadAllOptions): Promise<RecordedEvent[]> {
    const after = options?.after ?? START;
    const limit = options?.limit ?? DEFAULT_READ_LIMIT;
    const out: RecordedEvent[] = [];
    // Pages of $all from `seen`; a page may repeat its start (reads from a position are inclusive)
    // and holds system events, which are dropped.
    let seen = after;
    for (;;) {
      let count = 0;
      let last: Position | undefined;
      for await (const resolved of this.client.readAll({ fromPosition: fromPosition(seen), maxCount: PAGE_SIZE })) {
        count++;
        const e = resolved.event;
        if (!e) continue;
        last = e.position;
        if (comparePositions(e.position, seen) <= 0 || isSystem(e)) continue;
        out.push(toRecordedEvent(e));
        if (out.length === limit) return out;
      }
      if (count < PAGE_SIZE || !last || comparePositions(last, seen) <= 0) return out;
      seen = last;
    }
  }

  async headPosition(): Promise<Position> {
    let from: ReadPosition = END;
    let seen: Position | undefined;
    for (;;) {
      let count = 0;
      let last: Position | undefined;
      for await (const resolved of this.client.readAll({ fromPosition: from, direction: BACKWARDS, maxCount: PAGE_SIZE })) {
        count++;
        const e = resolved.event;
        if (!e) continue;
        last = e.position;
        if (seen && comparePositions(e.position, seen) >= 0) continue;
        if (!isSystem(e)) return { commit: e.position.commit, prepare: e.position.prepare };
      }
      if (count < PAGE_SIZE || !last) return START;
      seen = last;
      from = last;
    }
  }

  subscribeToAll(options: SubscribeOptions): Subscription {
    const subscription = new KurrentSubscription(this.client, options, (s) => this.subscriptions.delete(s));
    this.subscriptions.add(subscription);
    subscription.start();
    return subscription;
  }

  async ping(): Promise<boolean> {
    try {
      // Any answer from the server will do; a missing stream is the cheapest one.
      for await (const resolved of this.client.readStream('schedstack-ping', { maxCount: 1, deadline: 2000 })) {
        void resolved;
      }
      return true;
    } catch (error) {
      return error instanceof StreamNotFoundError;
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    if (this.ownsClient) await this.client.dispose();
  }
}

/** A catch-up subscription that re-subscribes from its checkpoint after a failure. */
class KurrentSubscription implements Subscription {
  private checkpoint: Position;
  private closed = false;
  private current: AllStreamSubscription | undefined;
  private interrupt: (() => void) | undefined;
  private loop: Promise<void> = Promise.resolve();

  constructor(
    private readonly client: EventStoreDBClient,
    private readonly options: SubscribeOptions,
    private readonly onClosed: (s: KurrentSubscription) => void,
  ) {
    this.checkpoint = options.after;
  }

  start(): void {
    this.loop = this.run();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.interrupt?.();
    await this.current?.unsubscribe().catch(() => undefined);
    await this.loop;
    this.onClosed(this);
  }

  private reportError(error: unknown): void {
    try {
      this.options.onError?.(error);
    } catch {
      // A failing error callback must not stop the subscription.
    }
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      const subscription = this.client.subscribeToAll({ fromPosition: fromPosition(this.checkpoint), filter: excludeSystemEvents() });
      this.current = subscription;
      try {
        // Async iteration pulls the next event only after the handler finished: one at a time.
        for await (const resolved of subscription) {
          const e = resolved.event;
          if (!e || isSystem(e)) continue;
          const event = toRecordedEvent(e);
          if (comparePositions(event.position, this.checkpoint) <= 0) continue;
          if (!(await this.deliver(event))) break;
          this.checkpoint = event.position;
        }
      } catch (error) {
        if (!this.closed) this.reportError(error);
      } finally {
        this.current = undefined;
        await subscription.unsubscribe().catch(() => undefined);
      }
      if (!this.closed) await this.pause(RESUBSCRIBE_DELAY_MS);
    }
  }

  private async deliver(event: RecordedEvent): Promise<boolean> {
    while (!this.closed) {
      try {
        // KurrentDB's subscription streams events one by one: a batch subscriber gets batches of one.
        await subscriberBatches(this.options).handle([event]);
        return true;
      } catch (error) {
        this.reportError(error);
        await this.pause(HANDLER_RETRY_DELAY_MS);
      }
    }
    return false;
  }

  private pause(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.interrupt = done;
    });
  }
}
