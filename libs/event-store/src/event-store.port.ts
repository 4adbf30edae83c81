/**
 * The event store port (SPEC §1). Adapters: PostgreSQL (default) and KurrentDB/EventStoreDB.
 * Both run the one contract suite in `testing/event-store.contract.ts`.
 */

/**
 * A position in the global log. Ordered by (commit, prepare) — the same pair KurrentDB uses.
 * The PostgreSQL adapter puts the appending transaction's id in `commit` and a sequence number in
 * `prepare`, so reading "all after P" never skips an event whose transaction committed late.
 */
export interface Position {
  readonly commit: bigint;
  readonly prepare: bigint;
}

export const START: Position = { commit: -1n, prepare: -1n };

export function comparePositions(a: Position, b: Position): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}

export function positionToString(p: Position): string {
  return `${p.commit}/${p.prepare}`;
}

export function parsePosition(text: string): Position {
  const match = /^(-?\d+)\/(-?\d+)$/.exec(text);
  if (!match) throw new Error(`Not a position: '${text}'`);
  return { commit: BigInt(match[1]), prepare: BigInt(match[2]) };
}

/** An event to append. `id` is a UUID chosen by the caller; appending the same id twice is a no-op. */
export interface NewEvent {
  readonly id: string;
  readonly type: string;
  readonly data: unknown;
  readonly metadata?: Readonly<Record<string, unknown>>;
}

export interface RecordedEvent {
  readonly id: string;
  readonly streamName: string;
  readonly type: string;
  readonly data: unknown;
  readonly metadata: Readonly<Record<string, unknown>>;
  /** 0-based index of the event in its stream. */
  readonly revision: number;
  readonly position: Position;
  readonly createdAt: Date;
}

/**
 * What the caller expects the stream to look like before the append.
 * `'no_stream'`: it must not exist; `'stream_exists'`: it must exist; a number: its last revision.
 */
export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | number;

export interface AppendResult {
  /** Revision of the last event of the stream after the append. */
  readonly nextExpectedRevision: number;
  /** Position of the last appended event (of the original append when it was a replay). */
  readonly position: Position;
}

export class WrongExpectedRevisionError extends Error {
  constructor(
    readonly streamName: string,
    readonly expected: ExpectedRevision,
    readonly actual: number | 'no_stream',
  ) {
    super(`Stream '${streamName}': expected revision ${String(expected)}, actual ${String(actual)}`);
    this.name = 'WrongExpectedRevisionError';
  }
}

export interface ReadAllOptions {
  /** Exclusive: events strictly after this position. Default START. */
  readonly after?: Position;
  readonly limit?: number;
}

export interface Subscription {
  close(): Promise<void>;
}

interface SubscribeCommon {
  /** Exclusive start: the subscriber's checkpoint. */
  readonly after: Position;
  /** Called when the handler throws or the connection fails; the subscription retries by itself. */
  readonly onError?: (error: unknown) => void;
}

export type SubscribeOptions = SubscribeCommon &
  (
    | {
        /** Called in global order, one at a time; the next event waits for the returned promise. */
        readonly onEvent: (event: RecordedEvent) => Promise<void>;
      }
    | {
        /**
         * Consecutive events in global order, as many as are already there (up to `maxBatch`), so a
         * consumer can apply a burst in one transaction. A failed batch is retried whole.
         */
        readonly onEvents: (events: readonly RecordedEvent[]) => Promise<void>;
        readonly maxBatch?: number;
      }
  );

/** Either kind of subscriber as a batch handler (a single-event one gets batches of one). */
export function subscriberBatches(options: SubscribeOptions): { readonly maxBatch: number; readonly handle: (events: readonly RecordedEvent[]) => Promise<void> } {
  if ('onEvents' in options) return { maxBatch: Math.max(1, options.maxBatch ?? 500), handle: options.onEvents };
  return {
    maxBatch: 1,
    handle: async (events) => {
      for (const event of events) await options.onEvent(event);
    },
  };
}

/** One stream's part of `appendToStreams`. */
export interface AppendRequest {
  readonly streamName: string;
  readonly events: readonly NewEvent[];
  readonly expected: ExpectedRevision;
}

export interface EventStore {
  appendToStream(streamName: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult>;
  /**
   * Appends to several streams, each independently: one refused append (wrong revision, duplicate
   * ids) does not stop the others. Results come in request order, an Error where refused. A store
   * may write them all in one round trip (the dispatcher records a burst of attempts this way).
   */
  appendToStreams(requests: readonly AppendRequest[]): Promise<(AppendResult | Error)[]>;
  /** All events of a stream in revision order; an empty array when it does not exist. */
  readStream(streamName: string, options?: { fromRevision?: number }): Promise<RecordedEvent[]>;
  /** `readStream` of each name, in the order given (a store may read them in one round trip). */
  readStreams(streamNames: readonly string[]): Promise<RecordedEvent[][]>;
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;
  /** Catches up from `after`, then follows live appends, until closed. */
  subscribeToAll(options: SubscribeOptions): Subscription;
  /** Position of the newest visible event (START when empty). */
  headPosition(): Promise<Position>;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export const EVENT_STORE = Symbol('EVENT_STORE');
