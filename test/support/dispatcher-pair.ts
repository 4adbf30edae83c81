import type { Scope } from '@schedstack/contracts';
import { PostgresEventStore } from '@schedstack/event-store';
import { type Receiver, startReceiver } from '@schedstack/testing';
import { Pool } from 'pg';
import { type AppProcess, type DistributedStack, startDistributedStack } from './distributed-stack';
import { eventually } from './eventually';

/** Resolves once an app process has logged that it is ready. */
export const appReady = (p: AppProcess) => eventually(async () => p.output.join('').includes('ready'), 60_000);

/** A distributed stack with two dispatcher processes, a receiver, and direct access to its database and event store. */
export interface DispatcherPair {
  readonly stack: DistributedStack;
  readonly receiver: Receiver;
  readonly pool: Pool;
  readonly store: PostgresEventStore;
  /** Where the suites plan their fires (test keys, so nothing counts against live limits). */
  readonly scope: Scope;
  close(): Promise<void>;
}

/**
 * For the suites that push bursts through two dispatchers: the stack is exclusive (no other such
 * suite runs beside it), with a short lease so a killed holder's fires are taken over in the test.
 */
export async function startDispatcherPair(label: string, leaseMs: number): Promise<DispatcherPair> {
  const stack = await startDistributedStack(label, { SCHEDSTACK_DISPATCH_LEASE_MS: String(leaseMs) }, { exclusive: true });
  try {
    await appReady(stack.startApp('dispatcher'));
    const receiver = await startReceiver();
    const pool = new Pool({ connectionString: stack.env.DATABASE_URL, max: 10 });
    const store = new PostgresEventStore({ pool });
    return {
      stack,
      receiver,
      pool,
      store,
      scope: { projectId: stack.projectId, environment: 'test' },
      close: async () => {
        // The stack last and always: it holds the machine lock.
        try {
          await receiver.close();
          await store.close();
          await pool.end();
        } finally {
          await stack.close();
        }
      },
    };
  } catch (error) {
    await stack.close();
    throw error;
  }
}
