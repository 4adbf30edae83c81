/**
 * Polls `probe` until it returns a truthy value and answers it, for eventually-consistent reads and
 * for events that happen in their own time. No wall-clock assertion: the timeout only ends a hung
 * test. A probe that throws counts as not yet (the last error is in the failure message).
 */
type NotYet = undefined | null | false;

export async function eventually<T>(probe: () => T | NotYet | Promise<T | NotYet>, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
}
