import { randomUUID } from 'node:crypto';
import { DomainError, type DomainEvent } from '@schedstack/contracts';
import { type EventStore, PostgresEventStore } from '@schedstack/event-store';
import { createTestDatabase, type TestDatabase } from '@schedstack/testing';
import type { Pool } from 'pg';
import { type Decider, handleCommand, handleCommands } from './command-handler';
import { createPool } from './database';

type Event = DomainEvent<'project.created'>;
type State = { readonly exists: boolean; readonly names: readonly string[] };

/** A toy aggregate: created once; a second create is refused. */
const decider: Decider<{ name: string }, State, Event> = {
  initialState: () => ({ exists: false, names: [] }),
  decide: ({ name }, state, now) => {
    if (state.exists) throw new DomainError('conflict', 'exists', `already created as ${state.names.join(', ')}`);
    return [{ type: 'project.created', data: { project_id: 'prj_x', name, created_at: now.toISOString() } }];
  },
  evolve: (state, event) => ({ exists: true, names: [...state.names, event.data.name] }),
};

describe('command handling', () => {
  let db: TestDatabase;
  let pool: Pool;
  let store: PostgresEventStore;
  let reads: number;
  let calls: string[];
  let counted: EventStore;

  beforeAll(async () => {
    db = await createTestDatabase('command_handler');
    pool = createPool(db.url, 4);
    store = new PostgresEventStore({ pool });
    await store.init();
    // The store, counting how often a stream is read.
    counted = new Proxy(store, {
      get(target, property, receiver) {
        if (property === 'readStream') reads++;
        if (typeof property === 'string' && /^(read|append)/.test(property)) calls.push(property);
        return Reflect.get(target, property, receiver);
      },
    });
  });

  beforeEach(() => {
    reads = 0;
    calls = [];
  });

  afterAll(async () => {
    await store.close();
    await pool.end();
    await db.drop();
  });

  const now = () => new Date('2030-01-01T00:00:00Z');

  const toyStream = () => `prj_x.live.toy-${randomUUID()}`;

  describe('handleCommand with newStream', () => {
    it('appends to a fresh stream without reading it first', async () => {
      const stream = `prj_x.live.toy-${randomUUID()}`;
      const outcome = await handleCommand(counted, stream, decider, { name: 'a' }, now, { newStream: true });
      expect(reads).toBe(0);
      expect(outcome.state).toEqual({ exists: true, names: ['a'] });
      expect((await store.readStream(stream)).map((e) => e.data)).toEqual([{ project_id: 'prj_x', name: 'a', created_at: '2030-01-01T00:00:00.000Z' }]);
    });

    it('decides on what the stream holds when it exists after all, as without the hint', async () => {
      const stream = `prj_x.live.toy-${randomUUID()}`;
      await handleCommand(store, stream, decider, { name: 'first' }, now);
      await expect(handleCommand(counted, stream, decider, { name: 'second' }, now, { newStream: true })).rejects.toMatchObject({
        code: 'exists',
        message: 'already created as first',
      });
      expect(reads).toBe(1);
      expect(await store.readStream(stream)).toHaveLength(1);
    });
  });

  describe('handleCommands (many streams at once)', () => {
    it('reads all the streams once and appends all in one call; a refused command fails alone', async () => {
      const existing = toyStream();
      await handleCommand(store, existing, decider, { name: 'old' }, now);
      const fresh = [toyStream(), toyStream(), toyStream()];
      calls = [];

      const outcomes = await handleCommands(counted, decider, [fresh[0], existing, fresh[1], fresh[2]].map((stream, i) => ({ stream, command: { name: `n${i}` } })), now);

      expect(calls).toEqual(['readStreams', 'appendToStreams']);
      expect(outcomes[1]).toMatchObject({ code: 'exists', message: 'already created as old' });
      for (const [i, stream] of [[0, fresh[0]], [2, fresh[1]], [3, fresh[2]]] as const) {
        expect(outcomes[i]).toMatchObject({ state: { exists: true, names: [`n${i}`] }, appended: { nextExpectedRevision: 0 } });
        expect((await store.readStream(stream)).map((e) => (e.data as { name: string }).name)).toEqual([`n${i}`]);
      }
      expect(await store.readStream(existing)).toHaveLength(1);
    });

    it('decides again, on the new state, a command whose stream another writer moved after the read', async () => {
      const [raced, calm] = [toyStream(), toyStream()];
      // Another writer creates `raced` between the batch's read and its append.
      const racing = new Proxy(store, {
        get(target, property, receiver) {
          if (property !== 'readStreams') return Reflect.get(target, property, receiver);
          return async (names: readonly string[]) => {
            const read = await target.readStreams(names);
            await handleCommand(target, raced, decider, { name: 'other writer' }, now);
            return read;
          };
        },
      });

      const outcomes = await handleCommands(racing, decider, [{ stream: raced, command: { name: 'mine' } }, { stream: calm, command: { name: 'calm' } }], now);

      expect(outcomes[0]).toMatchObject({ code: 'exists', message: 'already created as other writer' });
      expect(outcomes[1]).toMatchObject({ state: { names: ['calm'] } });
      expect((await store.readStream(raced)).map((e) => (e.data as { name: string }).name)).toEqual(['other writer']);
    });

    it('handles two commands for one stream like two calls: the second is decided after the first', async () => {
      const stream = toyStream();
      const outcomes = await handleCommands(store, decider, [{ stream, command: { name: 'first' } }, { stream, command: { name: 'second' } }], now);
      expect(outcomes[0]).toMatchObject({ state: { names: ['first'] } });
      expect(outcomes[1]).toMatchObject({ code: 'exists', message: 'already created as first' });
      expect(await handleCommands(store, decider, [], now)).toEqual([]);
    });
  });
});
