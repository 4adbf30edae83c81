import { randomUUID } from 'node:crypto';
import { DomainError, type DomainEvent } from '@schedstack/contracts';
import { type EventStore, PostgresEventStore } from '@schedstack/event-store';
import { createTestDatabase, type TestDatabase } from '@schedstack/testing';
import type { Pool } from 'pg';
import { type Decider, handleCommand } from './command-handler';
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

describe('handleCommand with newStream', () => {
  let db: TestDatabase;
  let pool: Pool;
  let store: PostgresEventStore;
  let reads: number;
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
        return Reflect.get(target, property, receiver);
      },
    });
  });

  beforeEach(() => {
    reads = 0;
  });

  afterAll(async () => {
    await store.close();
    await pool.end();
    await db.drop();
  });

  const now = () => new Date('2030-01-01T00:00:00Z');

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
