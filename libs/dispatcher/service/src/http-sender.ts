import { MAX_ATTEMPT_TIMEOUT_MS } from '@schedstack/contracts';
import * as diagnosticsChannel from 'node:diagnostics_channel';
import { Agent, errors, request } from 'undici';
import type { LookupFunction, OutboundGuard } from './outbound-guard';

/** The outbound HTTP port: one request, never throws, reports what a user would want to see. */
export interface OutboundRequest {
  readonly url: string;
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body: string | null;
  readonly timeoutMs: number;
}

export type OutboundResult =
  | {
      readonly kind: 'response';
      readonly status: number;
      readonly headers: Record<string, string | string[] | undefined>;
      /** First 4 KiB of the body (SPEC §4). */
      readonly body: string;
    }
  /** `refused`: the outbound guard blocked the endpoint; nothing was connected to. */
  | { readonly kind: 'network_error' | 'timeout' | 'refused'; readonly error: string };

/**
 * How long the request waited in the client before its headers were written (a burst queues for
 * one of the pooled connections); absent when it was never written. SPEC §7: lag is measured to
 * when the request went out, so the engine adds this to the instant it handed the request over.
 */
export type SentResult = OutboundResult & { readonly queuedMs?: number };

/** The caller's `mayStart` said no when the request's turn came: nothing was sent. */
export const WITHHELD = { kind: 'withheld' } as const;

export interface HttpSender {
  /**
   * `mayStart`, when given, is asked once the request has a connection of its own, just before it
   * goes out: a request can wait there for a while in a burst, and its caller may no longer be
   * entitled to send it (the lease on the fire ran out, or it was withdrawn).
   */
  send(req: OutboundRequest): Promise<SentResult>;
  send(req: OutboundRequest, mayStart: () => boolean): Promise<SentResult | typeof WITHHELD>;
  close(): Promise<void>;
}

const RESPONSE_EXCERPT_BYTES = 4096;

export interface UndiciHttpSenderOptions {
  readonly guard: OutboundGuard;
  /** DNS resolution, replaceable in tests; the guard checks whatever it returns. */
  readonly lookup?: LookupFunction;
  /** Connections per origin (default 256); beyond them requests queue in the client. */
  readonly connections?: number;
}

/**
 * How long undici may take to connect: the longest attempt timeout a process may set, so each
 * attempt's own deadline decides. undici's default of 10 s cut connects that the
 * attempt allowed 30 s for: a receiver whose accept queue overflows in a burst drops SYNs, the
 * kernel resends them after 1, 3, 7 and 15 s, and such connects failed as attempts that a retry
 * then sent again (the crash fault test saw 82 of 5,000).
 */
const CONNECT_TIMEOUT_MS = MAX_ATTEMPT_TIMEOUT_MS;

/** When undici wrote the headers of each outgoing delivery, by `<delivery id>#<attempt>`. */
const headersWrittenAt = new Map<string, number>();
const attemptKey = (deliveryId: string | undefined, attempt: string | undefined): string | null => (deliveryId && attempt ? `${deliveryId}#${attempt}` : null);
diagnosticsChannel.subscribe('undici:client:sendHeaders', (message) => {
  const { headers } = message as { headers?: unknown };
  if (typeof headers !== 'string') return;
  const key = attemptKey(/\r\nsched-delivery-id: ([^\r]+)/i.exec(headers)?.[1], /\r\nsched-attempt: (\d+)/i.exec(headers)?.[1]);
  if (!key) return;
  // Entries are taken by send(); a request sent by some other client with these headers is never
  // taken, so the map is bounded rather than trusted to empty itself.
  if (headersWrittenAt.size >= 100_000) headersWrittenAt.clear();
  headersWrittenAt.set(key, Date.now());
});

/**
 * Whole-request timeouts without a timer per request: `AbortSignal.timeout` arms a timer and a
 * finalizer for each of thousands of requests a second, about 15% of a burst's sending time (issue
 * #9). Requests with the same timeout reach their deadlines in the order they started, so each
 * timeout keeps its controllers in start order and one sweep aborts from the front until it meets
 * one not yet due. A request times out up to one sweep interval late.
 */
export class RequestDeadlines {
  private readonly byTimeout = new Map<number, Map<AbortController, number>>();
  private sweeper: NodeJS.Timeout | null = null;

  constructor(private readonly sweepEveryMs = 20) {}

  /** A signal aborted with a `TimeoutError` once `timeoutMs` have passed; call `done` when the request ends. */
  start(timeoutMs: number): { readonly signal: AbortSignal; readonly done: () => void } {
    const controller = new AbortController();
    let queue = this.byTimeout.get(timeoutMs);
    if (!queue) this.byTimeout.set(timeoutMs, (queue = new Map()));
    queue.set(controller, performance.now() + timeoutMs);
    this.sweeper ??= setInterval(() => this.sweep(), this.sweepEveryMs).unref();
    const started = queue;
    return { signal: controller.signal, done: () => void started.delete(controller) };
  }

  private sweep(): void {
    const now = performance.now();
    for (const [timeoutMs, queue] of this.byTimeout) {
      for (const [controller, deadline] of queue) {
        if (deadline > now) break;
        queue.delete(controller);
        controller.abort(new DOMException(`no response within ${timeoutMs} ms`, 'TimeoutError'));
      }
      if (queue.size === 0) this.byTimeout.delete(timeoutMs);
    }
    if (this.byTimeout.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
  }
}

/**
 * At most `perOrigin` requests to one origin at once (the agent's connections per origin); the rest
 * wait here, in order. undici would queue them itself, but then the time spent waiting for one of
 * our own pooled connections counted against each attempt's timeout: a burst of thousands to one
 * slow receiver timed out attempts the receiver never saw (the crash fault test on a saturated CI
 * machine: 67 of 5,000). An attempt's deadline starts once it has a connection, or is connecting.
 */
class ConnectionSlots {
  private readonly byOrigin = new Map<string, { active: number; readonly waiting: (() => void)[] }>();

  constructor(private readonly perOrigin: number) {}

  /** Takes a slot: at once (null) when one is free, else a promise that resolves when one is handed over. */
  acquire(origin: string): Promise<void> | null {
    let slots = this.byOrigin.get(origin);
    if (!slots) this.byOrigin.set(origin, (slots = { active: 0, waiting: [] }));
    if (slots.active < this.perOrigin) {
      slots.active++;
      return null;
    }
    // Woken by a release that hands its slot straight over, so `active` stays as it is.
    const queue = slots.waiting;
    return new Promise<void>((resolve) => queue.push(resolve));
  }

  release(origin: string): void {
    const slots = this.byOrigin.get(origin);
    if (!slots) return;
    const next = slots.waiting.shift();
    if (next) next();
    else if (--slots.active === 0) this.byOrigin.delete(origin);
  }
}

/** The key undici pools connections by; an unparsable URL is its own key (undici then refuses it). */
function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

/**
 * undici with one Agent: a keep-alive connection pool per origin, so a repeat target costs no
 * handshake on the timer-to-socket path, and every new connection goes through the outbound guard.
 * Redirects are not followed: a 3xx is the attempt's answer.
 */
export class UndiciHttpSender implements HttpSender {
  private readonly agent: Agent;
  private readonly deadlines = new RequestDeadlines();
  private readonly slots: ConnectionSlots;

  constructor(options: UndiciHttpSenderOptions) {
    const connections = options.connections ?? 256;
    this.agent = new Agent({
      connect: options.guard.connector(options.lookup, CONNECT_TIMEOUT_MS),
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 120_000,
      connections,
    });
    this.slots = new ConnectionSlots(connections);
  }

  send(req: OutboundRequest): Promise<SentResult>;
  send(req: OutboundRequest, mayStart: () => boolean): Promise<SentResult | typeof WITHHELD>;
  async send(req: OutboundRequest, mayStart?: () => boolean): Promise<SentResult | typeof WITHHELD> {
    const handedOver = Date.now();
    const key = attemptKey(req.headers['sched-delivery-id'], req.headers['sched-attempt']);
    const result = await this.exchange(req, mayStart);
    if (!key || result.kind === 'withheld') return result;
    const written = headersWrittenAt.get(key);
    headersWrittenAt.delete(key);
    return written === undefined ? result : { ...result, queuedMs: Math.max(0, written - handedOver) };
  }

  private async exchange(req: OutboundRequest, mayStart?: () => boolean): Promise<OutboundResult | typeof WITHHELD> {
    const origin = originOf(req.url);
    // Not awaited when a slot is free: the common case costs no extra turn of the microtask queue.
    const turn = this.slots.acquire(origin);
    if (turn) await turn;
    if (mayStart && !mayStart()) {
      this.slots.release(origin);
      return WITHHELD;
    }
    const deadline = this.deadlines.start(req.timeoutMs);
    try {
      const sent = request(req.url, {
        dispatcher: this.agent,
        method: req.method as never,
        headers: req.headers,
        body: req.body ?? undefined,
        headersTimeout: req.timeoutMs,
        bodyTimeout: req.timeoutMs,
        signal: deadline.signal,
      });
      // undici acts on the signal only once the request has a connection: one still waiting for a
      // connect would outlive its deadline by as long as the connect takes.
      const res = await Promise.race([sent, rejectedOnAbort(deadline.signal)]).catch((error: unknown) => {
        // Should undici answer after all, the connection is not left holding an unread body.
        if (deadline.signal.aborted) void sent.then((late) => late.body.destroy(), () => undefined);
        throw error;
      });
      const body = await readExcerpt(res.body);
      return { kind: 'response', status: res.statusCode, headers: res.headers, body };
    } catch (error) {
      const err = error as Error & { code?: string; cause?: Error & { code?: string } };
      const blocked = err.code === 'ENDPOINT_BLOCKED' ? err : err.cause?.code === 'ENDPOINT_BLOCKED' ? err.cause : null;
      if (blocked) return { kind: 'refused', error: blocked.message };
      if (err instanceof errors.ConnectTimeoutError) return { kind: 'timeout', error: `timeout: could not connect within ${CONNECT_TIMEOUT_MS} ms` };
      const timedOut = err instanceof errors.HeadersTimeoutError || err instanceof errors.BodyTimeoutError || err.name === 'TimeoutError' || err.name === 'AbortError';
      return timedOut
        ? { kind: 'timeout', error: `timeout: no response within ${req.timeoutMs} ms` }
        : { kind: 'network_error', error: err.code ? `${err.code}: ${err.message}` : err.message };
    } finally {
      deadline.done();
      this.slots.release(origin);
    }
  }

  /**
   * Call once every request has settled (the launcher waits for them). What remains are idle
   * keep-alive sockets and connects of attempts that timed out while the receiver's accept queue was
   * full: the kernel may go on retrying those for minutes, and a shutdown must not wait for them.
   */
  close(): Promise<void> {
    return this.agent.destroy();
  }
}

/** Rejects with the signal's reason once it aborts (never settles otherwise). */
function rejectedOnAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
}

async function readExcerpt(body: AsyncIterable<Buffer> & { destroy?: () => void }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= RESPONSE_EXCERPT_BYTES) {
      body.destroy?.();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, RESPONSE_EXCERPT_BYTES).toString('utf8');
}
