import { randomUUID } from 'node:crypto';
import { PostgresEventStore, type EventStore, type NewEvent } from '@schedstack/event-store';
import { createTestDatabase, type TestDatabase } from '@schedstack/testing';

/** A PostgreSQL event store in a database of its own, dropped by `dispose()`. */
export interface TestEventStore {
  readonly store: PostgresEventStore;
  dispose(): Promise<void>;
}

export async function createTestEventStore(label: string): Promise<TestEventStore> {
  const db: TestDatabase = await createTestDatabase(label);
  const store = new PostgresEventStore({ connectionString: db.url, pollIntervalMs: 50 });
  await store.init();
  return {
    store,
    async dispose() {
      await store.close();
      await db.drop();
    },
  };
}

export function newEvent(type: string, data: Record<string, unknown> = {}): NewEvent {
  return { id: randomUUID(), type, data, metadata: { source: 'test' } };
}

/** Appends one event per entry, each in its own transaction; returns their ids in order. */
export async function appendEach(store: EventStore, entries: ReadonlyArray<[stream: string, type: string]>): Promise<string[]> {
  const ids: string[] = [];
  for (const [stream, type] of entries) {
    const event = newEvent(type, { seq: ids.length });
    await store.appendToStream(stream, [event], 'any');
    ids.push(event.id);
  }
  return ids;
}
