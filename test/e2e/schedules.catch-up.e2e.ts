import { type Receiver, startReceiver } from '@schedstack/testing';
import { PLANNING_HORIZON_MS } from '@schedstack/schedules-domain';
import { type ApiStack, startApiStack } from '../support/api-stack';
import { eventually } from '../support/eventually';

/**
 * SPEC §3 catch-up, through a real outage: the whole local profile stops for longer than the
 * planning horizon, so fires of a cron every second are missed, then starts again on the same data.
 */
describe('catch-up after downtime (local profile restarted on the same data)', () => {
  let stack: ApiStack;
  let receiver: Receiver;

  beforeAll(async () => {
    stack = await startApiStack('catch_up');
    receiver = await startReceiver();
  });

  afterAll(async () => {
    await receiver?.close();
    await stack?.close();
  });

  it('coalesces missed fires into one, fires each under all, skips them under skip, and carries on', async () => {
    const create = async (catchUp: string) => {
      const res = await stack.api('/v1/schedules', {
        key: stack.keys.test,
        body: { endpoint: `${receiver.url}/${catchUp}`, cron: '*/1 * * * * *', catch_up: catchUp },
      });
      expect(res.status).toBe(201);
      return res.body.id as string;
    };
    const ids = { coalesce: await create('coalesce'), all: await create('all'), skip: await create('skip') };
    await eventually(async () => ['/coalesce', '/all', '/skip'].every((p) => receiver.requests.some((r) => r.path === p)));

    // Fires stay planned up to the horizon ahead, so an outage longer than that misses fires.
    await stack.restart(PLANNING_HORIZON_MS + 4_000);

    /** The schedule's deliveries in the order they were due. */
    const deliveries = async (id: string) => {
      const res = await stack.api(`/v1/deliveries?schedule=${id}&limit=100`, { key: stack.keys.test });
      return (res.body.data as { fire_kind: string; scheduled_for: string }[]).sort((a, b) => Date.parse(a.scheduled_for) - Date.parse(b.scheduled_for));
    };
    const firesAfter = (list: { fire_kind: string }[], kind: string) => list.slice(list.findIndex((d) => d.fire_kind === kind) + 1);

    // coalesce: one coalesced fire after the outage, then every second again.
    const coalesced = await eventually(async () => {
      const list = await deliveries(ids.coalesce);
      return list.some((d) => d.fire_kind === 'coalesced') && firesAfter(list, 'coalesced').filter((d) => d.fire_kind === 'first').length >= 2 ? list : undefined;
    });
    expect(coalesced.filter((d) => d.fire_kind === 'coalesced')).toHaveLength(1);
    expect(coalesced.some((d) => d.fire_kind === 'catch_up')).toBe(false);

    // all: each missed second as its own catch_up fire at its own instant.
    const all = await eventually(async () => {
      const list = await deliveries(ids.all);
      return list.filter((d) => d.fire_kind === 'catch_up').length >= 2 && firesAfter(list, 'catch_up').some((d) => d.fire_kind === 'first') ? list : undefined;
    });
    const caughtUp = all.filter((d) => d.fire_kind === 'catch_up').map((d) => Date.parse(d.scheduled_for));
    expect(caughtUp.every((t, i) => i === 0 || t - caughtUp[i - 1] === 1_000)).toBe(true);
    expect(all.some((d) => d.fire_kind === 'coalesced')).toBe(false);

    // skip: the missed seconds leave a gap; nothing is made up.
    const skipped = await eventually(async () => {
      const list = await deliveries(ids.skip);
      const times = list.map((d) => Date.parse(d.scheduled_for));
      const gap = times.findIndex((t, i) => i > 0 && t - times[i - 1] > 1_000);
      return gap > 0 && times.length - gap >= 2 ? list : undefined;
    });
    expect(skipped.every((d) => d.fire_kind === 'first' || d.fire_kind === 'reclaim')).toBe(true);
  });
});
