import type { ClientProxy } from '@nestjs/microservices';
import type { LimitsView, Scope } from '@schedstack/contracts';
import { Subject } from 'rxjs';
import { LimitsCache } from './limits.cache';

const scope: Scope = { projectId: 'prj_cache', environment: 'live' };

describe('LimitsCache', () => {
  const limits = (requests_per_second: number): LimitsView => ({
    object: 'limits',
    mode: 'live',
    requests_per_second,
    active_schedules: null,
    deliveries_per_day: null,
    updated_at: null,
  });

  /** A bus whose answers the test sends, counting the questions. */
  function bus() {
    const answers: Subject<LimitsView>[] = [];
    const client = {
      send: jest.fn(() => {
        const answer = new Subject<LimitsView>();
        answers.push(answer);
        return answer.asObservable();
      }),
    };
    const answer = (i: number, value: LimitsView) => {
      answers[i].next(value);
      answers[i].complete();
    };
    return { client: client as unknown as ClientProxy & typeof client, answer };
  }

  it('asks the environments service once for requests that arrive while it is being asked', async () => {
    const { client, answer } = bus();
    const cache = new LimitsCache(client);
    const waiting = Promise.all([cache.get(scope), cache.get(scope), cache.get(scope)]);
    await new Promise((resolve) => setImmediate(resolve));
    answer(0, limits(100));
    expect((await waiting).map((l) => l.requests_per_second)).toEqual([100, 100, 100]);
    expect((await cache.get(scope)).requests_per_second).toBe(100);
    expect(client.send).toHaveBeenCalledTimes(1);
  });

  it('keeps a limit changed through this gateway over an answer that was under way', async () => {
    const { client, answer } = bus();
    const cache = new LimitsCache(client);
    const before = cache.get({ ...scope, projectId: 'prj_changed' });
    await new Promise((resolve) => setImmediate(resolve));
    cache.remember({ ...scope, projectId: 'prj_changed' }, limits(7));
    answer(0, limits(100));
    await before;
    expect((await cache.get({ ...scope, projectId: 'prj_changed' })).requests_per_second).toBe(7);
    expect(client.send).toHaveBeenCalledTimes(1);
  });
});
