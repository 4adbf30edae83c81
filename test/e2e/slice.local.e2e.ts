import { type Receiver, startReceiver } from '@schedstack/testing';
import { startLocalStack, type TestStack } from '../support';
import { describeSlice } from './slice.shared';

describe('foundation slice — local profile (one process, in-process bus, PostgreSQL event store)', () => {
  let stack: TestStack;
  let receiver: Receiver;

  beforeAll(async () => {
    stack = await startLocalStack('slice_local');
    receiver = await startReceiver();
  });

  afterAll(async () => {
    await receiver?.close();
    await stack?.close();
  });

  beforeEach(() => {
    receiver.requests.length = 0;
  });

  describeSlice(() => stack, () => receiver);

  it('reports ready once the database, bus and event store answer', async () => {
    const res = await stack.api('/readyz');
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('ready');
    expect(Object.keys(res.body.services).sort()).toEqual(['dispatcher', 'environments', 'schedules', 'webhooks']);
    expect((await stack.api('/healthz')).body).toEqual({ status: 'ok' });
  });
});
