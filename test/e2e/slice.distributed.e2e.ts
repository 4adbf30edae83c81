import { describeWithNats, type Receiver, startReceiver } from '@schedstack/testing';
import { type DistributedStack, startDistributedStack } from '../support';
import { describeSlice } from './slice.shared';

describeWithNats('foundation slice — distributed profile (five processes over real NATS and JetStream)', () => {
  let stack: DistributedStack;
  let receiver: Receiver;

  beforeAll(async () => {
    stack = await startDistributedStack('slice_dist');
    receiver = await startReceiver();
  }, 120_000);

  afterAll(async () => {
    await receiver?.close();
    await stack?.close();
  }, 60_000);

  beforeEach(() => {
    receiver.requests.length = 0;
  });

  describeSlice(() => stack, () => receiver);

  it('runs each app as its own process', () => {
    expect(stack.processes.map((p) => p.name).sort()).toEqual(['dispatcher#1', 'environments#1', 'gateway#1', 'schedules#1', 'webhooks#1']);
    expect(new Set(stack.processes.map((p) => p.child.pid)).size).toBe(5);
  });
});
