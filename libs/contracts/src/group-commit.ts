const NO_RESULT = 'the grouped write answered no result for this item';

/** One item's failure when a failed group was written again item by item. */
class Failed {
  constructor(readonly error: unknown) {}
}

/**
 * Group commit for statements many requests run at once (issue #9): with a writer free, an item is
 * written at once, alone; otherwise it waits, and the items waiting are written together as soon
 * as a writer is free — one round trip and one commit for a burst, each caller still getting its
 * own result. Items with the same `keyOf` are never written at the same time: the later one waits
 * until the earlier one's write has ended, so it sees the row as that one left it, as it would one
 * statement after the other. Without `keyOf`, items never wait for one another's writes (the event
 * store, whose statement orders appends to one stream itself).
 */
export class GroupCommit<Item, Result> {
  private readonly waiting: { readonly item: Item; readonly key: string | null; readonly resolve: (result: Result) => void; readonly reject: (error: unknown) => void }[] = [];
  private writing = 0;
  /** Keys of the items being written. */
  private readonly inFlight = new Set<string>();

  constructor(
    /**
     * Writes the items in one statement and answers their results in the same order. All or
     * nothing: a write that fails must have changed nothing, since its items are then written again.
     */
    private readonly write: (items: readonly Item[]) => Promise<readonly Result[]>,
    private readonly options: { readonly writers: number; readonly maxBatch: number; readonly keyOf?: (item: Item) => string },
  ) {}

  submit(item: Item): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      // A key that cannot be computed fails this submit, not the queue.
      this.waiting.push({ item, key: this.options.keyOf?.(item) ?? null, resolve, reject });
      this.writeWaiting();
    });
  }

  private writeWaiting(): void {
    while (this.writing < this.options.writers && this.waiting.length > 0) {
      const batch = this.takeBatch();
      // Everything waiting has a key being written: the end of that write starts the next.
      if (batch.length === 0) return;
      const keys = batch.flatMap((b) => (b.key === null ? [] : [b.key]));
      for (const key of keys) this.inFlight.add(key);
      this.writing++;
      void this.writeGroup(batch.map((b) => b.item))
        .then(
          (results) =>
            batch.forEach((b, i) => {
              const result = results[i];
              if (i >= results.length) b.reject(new Error(NO_RESULT));
              else if (result instanceof Failed) b.reject(result.error);
              else b.resolve(result);
            }),
          (error: unknown) => batch.forEach((b) => b.reject(error)),
        )
        .finally(() => {
          for (const key of keys) this.inFlight.delete(key);
          this.writing--;
          this.writeWaiting();
        })
        // Settling cannot throw; should it, the waiting items must still be written.
        .catch(() => undefined);
    }
  }

  /**
   * A group whose write failed is written again one item at a time, so one bad item (or a deadlock
   * victim) fails alone and the others get their own results.
   */
  private async writeGroup(items: readonly Item[]): Promise<readonly (Result | Failed)[]> {
    try {
      return await this.write(items);
    } catch (error) {
      if (items.length === 1) throw error;
      const results: (Result | Failed)[] = [];
      for (const item of items) {
        // Called inside `then`, so a write that throws rather than rejects still fails its item alone.
        const alone = await Promise.resolve([item])
          .then((one) => this.write(one))
          .then(
            (answered) => (answered.length > 0 ? answered[0] : new Failed(new Error(NO_RESULT))),
            (failure: unknown) => new Failed(failure),
          );
        results.push(alone);
      }
      return results;
    }
  }

  /** The oldest waiting items, at most one per key, none of a key being written, `maxBatch` in all; the rest keep their places. */
  private takeBatch(): typeof this.waiting {
    if (!this.options.keyOf) return this.waiting.splice(0, this.options.maxBatch);
    const keys = new Set<string>();
    const batch: typeof this.waiting = [];
    for (let i = 0; i < this.waiting.length && batch.length < this.options.maxBatch; ) {
      const { key } = this.waiting[i];
      if (key !== null && (keys.has(key) || this.inFlight.has(key))) {
        i++;
        continue;
      }
      if (key !== null) keys.add(key);
      batch.push(...this.waiting.splice(i, 1));
    }
    return batch;
  }
}
