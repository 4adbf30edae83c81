import { randomUUID } from 'node:crypto';
import type { DomainEvent } from '@schedstack/contracts';
import {
  type AppendResult,
  type EventStore,
  type RecordedEvent,
  WrongExpectedRevisionError,
} from '@schedstack/event-store';

/** STYLE §1: an aggregate's rules as pure functions. */
export interface Decider<Command, State, Event extends DomainEvent> {
  readonly initialState: () => State;
  readonly decide: (command: Command, state: State, now: Date) => readonly Event[];
  readonly evolve: (state: State, event: Event) => State;
}

export interface CommandOutcome<State, Event> {
  readonly state: State;
  readonly events: readonly Event[];
  /** null when the decider produced no events (nothing was appended). */
  readonly appended: AppendResult | null;
}

export function foldEvents<State, Event extends DomainEvent>(
  decider: Pick<Decider<unknown, State, Event>, 'initialState' | 'evolve'>,
  recorded: readonly RecordedEvent[],
): State {
  return recorded.reduce((state, e) => decider.evolve(state, { type: e.type, data: e.data } as Event), decider.initialState());
}

/**
 * STYLE §2, the one write path: load the stream, fold, decide, append with the expected revision.
 * A concurrent writer makes the append fail; the command is then decided again on fresh state.
 * `newStream` says the stream is almost certainly new (a fresh random id, or one derived from an
 * idempotency key): the first attempt then decides on the initial state without reading and appends
 * expecting no stream (one round trip instead of two);
 * should the stream exist after all, that append is refused and the command is decided on what
 * the stream holds, as usual.
 */
export async function handleCommand<Command, State, Event extends DomainEvent>(
  store: EventStore,
  stream: string,
  decider: Decider<Command, State, Event>,
  command: Command,
  now: () => Date,
  options: { maxRetries?: number; metadata?: Record<string, unknown>; newStream?: boolean } = {},
): Promise<CommandOutcome<State, Event>> {
  const maxRetries = options.maxRetries ?? 5;
  for (let attempt = 0; ; attempt++) {
    const recorded = attempt === 0 && options.newStream ? [] : await store.readStream(stream);
    const state = foldEvents(decider, recorded);
    const events = decider.decide(command, state, now());
    if (events.length === 0) return { state, events, appended: null };
    const expected = recorded.length === 0 ? 'no_stream' : recorded[recorded.length - 1].revision;
    try {
      const appended = await store.appendToStream(
        stream,
        events.map((e) => ({ id: randomUUID(), type: e.type, data: e.data, metadata: options.metadata })),
        expected,
      );
      return { state: events.reduce(decider.evolve, state), events, appended };
    } catch (error) {
      if (error instanceof WrongExpectedRevisionError && attempt < maxRetries) continue;
      throw error;
    }
  }
}

/** One command of `handleCommands`: the stream it is decided on. */
export interface StreamCommand<Command> {
  readonly stream: string;
  readonly command: Command;
}

/**
 * `handleCommand` for many streams at once (issue #9: the planner completes a burst of one-off
 * schedules): one read of all the streams, each command decided on its own stream's state, one
 * append for all. A command whose stream moved meanwhile (its append refused) is handled again on
 * its own by `handleCommand`. Outcomes come in request order, an Error where the command failed.
 */
export async function handleCommands<Command, State, Event extends DomainEvent>(
  store: EventStore,
  decider: Decider<Command, State, Event>,
  requests: readonly StreamCommand<Command>[],
  now: () => Date,
  options: { metadata?: Record<string, unknown> } = {},
): Promise<(CommandOutcome<State, Event> | Error)[]> {
  const recorded = await store.readStreams(requests.map((r) => r.stream));
  const outcomes: (CommandOutcome<State, Event> | Error)[] = [];
  const appending: { index: number; state: State; events: readonly Event[]; expected: 'no_stream' | number }[] = [];
  for (const [index, { command }] of requests.entries()) {
    const stream = recorded[index];
    const state = foldEvents(decider, stream);
    try {
      const events = decider.decide(command, state, now());
      outcomes.push({ state, events, appended: null });
      if (events.length > 0) appending.push({ index, state, events, expected: stream.length === 0 ? 'no_stream' : stream[stream.length - 1].revision });
    } catch (error) {
      outcomes.push(asError(error));
    }
  }
  const results = await store.appendToStreams(
    appending.map(({ index, events, expected }) => ({
      streamName: requests[index].stream,
      events: events.map((e) => ({ id: randomUUID(), type: e.type, data: e.data, metadata: options.metadata })),
      expected,
    })),
  );
  // Refused ones one after the other, in request order: two commands for one stream keep their
  // order, and a pass that lost a race to a replica (every append refused) cannot flood the pool.
  for (const [i, { index, state, events }] of appending.entries()) {
    const result = results[i];
    if (result === undefined) outcomes[index] = new Error(`Stream '${requests[index].stream}': the store gave no result for this append`);
    else if (!(result instanceof Error)) outcomes[index] = { state: events.reduce(decider.evolve, state), events, appended: result };
    else if (result instanceof WrongExpectedRevisionError) outcomes[index] = await handleCommand(store, requests[index].stream, decider, requests[index].command, now, options).catch(asError);
    else outcomes[index] = result;
  }
  return outcomes;
}

const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));
