import { ThreadedLaunchPad } from '@schedstack/dispatcher-service';
import { type Receiver, startReceiver } from '@schedstack/testing';
import { availableParallelism } from 'node:os';
import { type DispatchStack, eventually, startDispatchStack } from '../support';

/**
 * A burst larger than one claim batch (issue #9, W2): when a claim comes back full, the engine
 * claims the next batch at once instead of one batch per poll interval. The poll interval here is
 * a minute, so only that follow-up can deliver more than the first batch within the test.
 */
describe('dispatcher burst — full claim batches are followed at once (local profile)', () => {
  let stack: DispatchStack;
  let receiver: Receiver;

  beforeAll(async () => {
    stack = await startDispatchStack('dsp_burst', { SCHEDSTACK_DISPATCH_POLL_MS: '60000', SCHEDSTACK_DISPATCH_CLAIM_BATCH: '10' });
    receiver = await startReceiver();
  });

  afterAll(async () => {
    await receiver?.close();
    await stack?.close();
  });

  it('delivers 60 fires due at once in one poll, six claim batches back to back', async () => {
    const scope = stack.scope('test');
    const planned = await Promise.all(Array.from({ length: 60 }, () => stack.plan('test', { endpoint: `${receiver.url}/burst`, at: new Date() })));
    // The engine polled when the stack started, before these were planned; wait for the projection.
    await eventually(async () => {
      const { rows } = await stack.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM dsp_due_fires WHERE project_id = $1 AND environment = $2`, [scope.projectId, scope.environment]);
      return rows[0].n === 60;
    }, 20_000);

    // A restart starts the engine, which polls once at start; the next timed poll is a minute away.
    await stack.restart();
    const received = await receiver.waitFor(60, 30_000);
    expect(new Set(received.map((r) => r.headers['sched-delivery-id'])).size).toBe(60);
    expect(new Set(received.map((r) => r.headers['sched-delivery-id']))).toEqual(new Set(planned.map((p) => p.deliveryId)));
  });

  it('sends from sending threads of their own, two by default (one on a one-core machine)', () => {
    expect(stack.launchPad).toBeInstanceOf(ThreadedLaunchPad);
    expect((stack.launchPad as ThreadedLaunchPad)['lanes']).toHaveLength(Math.min(2, availableParallelism()));
  });
});
