import { GroupCommit } from './group-commit';

interface Item {
  readonly key: string;
  readonly value: number;
}

/** A write that answers each item's value doubled once `finish()` is called, recording every group. */
function recordedWrites() {
  const groups: Item[][] = [];
  const pending: { readonly group: readonly Item[]; readonly done: () => void; readonly fail: (error: Error) => void }[] = [];
  const write = (group: readonly Item[]) =>
    new Promise<number[]>((resolve, reject) => {
      groups.push([...group]);
      pending.push({ group, done: () => resolve(group.map((i) => i.value * 2)), fail: reject });
    });
  /** Ends the oldest write still under way. */
  const finish = async (error?: Error) => {
    const next = pending.shift();
    if (!next) throw new Error('no write under way');
    if (error) next.fail(error);
    else next.done();
    await new Promise((r) => setImmediate(r));
  };
  return { write, groups, pending, finish };
}

const item = (key: string, value: number): Item => ({ key, value });

describe('GroupCommit', () => {
  it('writes an item at once when a writer is free, and the items that arrive meanwhile together, each answered its own result', async () => {
    const writes = recordedWrites();
    const group = new GroupCommit(writes.write, { writers: 1, maxBatch: 10, keyOf: (i: Item) => i.key });
    const first = group.submit(item('a', 1));
    const rest = [group.submit(item('b', 2)), group.submit(item('c', 3)), group.submit(item('d', 4))];
    expect(writes.groups).toEqual([[item('a', 1)]]);

    await writes.finish();
    expect(writes.groups[1]).toEqual([item('b', 2), item('c', 3), item('d', 4)]);
    await writes.finish();
    expect(await first).toBe(2);
    expect(await Promise.all(rest)).toEqual([4, 6, 8]);
  });

  it('runs at most `writers` writes at once and at most `maxBatch` items in each', async () => {
    const writes = recordedWrites();
    const group = new GroupCommit(writes.write, { writers: 2, maxBatch: 3, keyOf: (i: Item) => i.key });
    const all = Array.from({ length: 9 }, (_, i) => group.submit(item(`k${i}`, i)));
    expect(writes.groups.map((g) => g.length)).toEqual([1, 1]);
    await writes.finish();
    expect(writes.pending.length).toBe(2);
    while (writes.pending.length > 0) await writes.finish();
    expect(writes.groups.map((g) => g.length)).toEqual([1, 1, 3, 3, 1]);
    expect(await Promise.all(all)).toEqual(Array.from({ length: 9 }, (_, i) => i * 2));
  });

  it('never writes two items of one key at the same time: the later waits until the earlier has been written', async () => {
    const writes = recordedWrites();
    const group = new GroupCommit(writes.write, { writers: 2, maxBatch: 10, keyOf: (i: Item) => i.key });
    const results = [group.submit(item('same', 1)), group.submit(item('same', 2)), group.submit(item('other', 3)), group.submit(item('same', 4))];
    // A second writer is free, but only `other` may go: `same` is being written.
    expect(writes.groups).toEqual([[item('same', 1)], [item('other', 3)]]);
    await writes.finish();
    expect(writes.groups[2]).toEqual([item('same', 2)]);
    await writes.finish();
    await writes.finish();
    expect(writes.groups[3]).toEqual([item('same', 4)]);
    await writes.finish();
    expect(await Promise.all(results)).toEqual([2, 4, 6, 8]);
  });

  it('without keyOf, lets items that would share a key go together (the caller orders them itself)', async () => {
    const writes = recordedWrites();
    const group = new GroupCommit(writes.write, { writers: 1, maxBatch: 10 });
    const results = [group.submit(item('same', 1)), group.submit(item('same', 2)), group.submit(item('same', 3))];
    await writes.finish();
    expect(writes.groups).toEqual([[item('same', 1)], [item('same', 2), item('same', 3)]]);
    await writes.finish();
    expect(await Promise.all(results)).toEqual([2, 4, 6]);
  });

  it('fails only the items of a write that failed, and goes on with those waiting', async () => {
    const writes = recordedWrites();
    const group = new GroupCommit(writes.write, { writers: 1, maxBatch: 10, keyOf: (i: Item) => i.key });
    const failed = group.submit(item('a', 1));
    const waiting = group.submit(item('b', 2));
    const outcomes = Promise.allSettled([failed, waiting]);
    await writes.finish(new Error('database down'));
    await writes.finish();
    expect(await outcomes).toEqual([
      { status: 'rejected', reason: new Error('database down') },
      { status: 'fulfilled', value: 4 },
    ]);
  });

  it('writes a failed group again one item at a time, so only the item that fails on its own fails', async () => {
    const writes: string[][] = [];
    const group = new GroupCommit(
      async (items: readonly Item[]) => {
        writes.push(items.map((i) => i.key));
        if (items.some((i) => i.key === 'bad')) throw new Error(`refused ${items.length}`);
        return items.map((i) => i.value);
      },
      { writers: 1, maxBatch: 10, keyOf: (i: Item) => i.key },
    );
    const outcomes = await Promise.allSettled([group.submit(item('first', 1)), group.submit(item('ok', 2)), group.submit(item('bad', 3)), group.submit(item('fine', 4))]);
    expect(outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).message))).toEqual([1, 2, 'refused 1', 4]);
    expect(writes).toEqual([['first'], ['ok', 'bad', 'fine'], ['ok'], ['bad'], ['fine']]);
  });

  it('fails an item its write answered no result for, instead of leaving it waiting', async () => {
    const group = new GroupCommit(async (items: readonly Item[]) => items.slice(1).map((i) => i.value), { writers: 1, maxBatch: 10, keyOf: (i: Item) => i.key });
    const outcomes = await Promise.allSettled([group.submit(item('a', 1)), group.submit(item('b', 2)), group.submit(item('c', 3))]);
    // a went alone and got no result; b and c went together, and c's is missing.
    expect(outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).message))).toEqual([
      'the grouped write answered no result for this item',
      3,
      'the grouped write answered no result for this item',
    ]);
  });
});
