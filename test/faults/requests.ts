/** What a fault suite saw of one request made during a fault: answered, timed out, or refused. */
export interface Outcome {
  readonly n: number;
  readonly sentAt: number;
  readonly ms: number;
  readonly status: number | 'timeout' | 'network_error';
  readonly body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** "Never hangs": every request is answered within this, whatever the answer. */
export const CLIENT_TIMEOUT_MS = 30_000;

/** One request, timed; a timeout or a refused connection is an outcome too, never a throw. */
export async function timedRequest(url: string, init: RequestInit = {}): Promise<Omit<Outcome, 'n'>> {
  const sentAt = Date.now();
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS) });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: kept as text, and the assertions say so
    }
    return { sentAt, ms: Date.now() - sentAt, status: res.status, body };
  } catch (error) {
    return { sentAt, ms: Date.now() - sentAt, status: (error as Error).name === 'TimeoutError' ? 'timeout' : 'network_error', body: String(error) };
  }
}
