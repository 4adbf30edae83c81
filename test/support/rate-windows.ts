const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `burst` so that every request lands in one rate-limit window (one wall-clock second, as
 * the gateways count them): starts just after a second begins, and tries again if the burst
 * spilled into the next second. Gateways and tests share the machine's clock.
 */
export async function inOneSecond<T>(burst: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 0; attempt < attempts; attempt++) {
    await sleep(1_000 - (Date.now() % 1_000) + 20);
    const windowStart = Math.floor(Date.now() / 1_000) * 1_000;
    const result = await burst();
    if (Date.now() - windowStart < 950) return result;
  }
  throw new Error(`the burst did not fit into one second in ${attempts} attempts`);
}
