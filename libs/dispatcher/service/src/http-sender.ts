import { MAX_ATTEMPT_TIMEOUT_MS } from '@schedstack/contracts';
import { Agent, type Dispatcher, errors } from 'undici';
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

/**
 * Whole-request timeouts without a timer per request: `AbortSignal.timeout` arms a timer and a
 * finalizer for each of thousands of requests a second, about 15% of a burst's sending time (issue
 * #9). Requests with the same timeout reach their deadlines in the order they started, so each
 * timeout keeps its requests' callbacks in start order and one sweep calls them from the front
 * until it meets one not yet due. A request times out up to one sweep interval late.
 */
export class RequestDeadlines {
  private readonly byTimeout = new Map<number, Map<() => void, number>>();
  private sweeper: NodeJS.Timeout | null = null;

  constructor(private readonly sweepEveryMs = 20) {}

  /** Calls `onTimeout` once `timeoutMs` have passed, unless the returned `done` is called first. */
  start(timeoutMs: number, onTimeout: () => void): () => void {
    let queue = this.byTimeout.get(timeoutMs);
    if (!queue) this.byTimeout.set(timeoutMs, (queue = new Map()));
    queue.set(onTimeout, performance.now() + timeoutMs);
    this.sweeper ??= setInterval(() => this.sweep(), this.sweepEveryMs).unref();
    const started = queue;
    return () => void started.delete(onTimeout);
  }

  private sweep(): void {
    const now = performance.now();
    for (const [timeoutMs, queue] of this.byTimeout) {
      for (const [onTimeout, deadline] of queue) {
        if (deadline > now) break;
        queue.delete(onTimeout);
        onTimeout();
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

/** The origin undici pools connections by and the request's path; null for a URL undici could not send to. */
function targetOf(url: string): { readonly origin: string; readonly path: string } | null {
  try {
    const parsed = new URL(url);
    return { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}` };
  } catch {
    return null;
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
    const target = targetOf(req.url);
    if (!target) return { kind: 'network_error', error: 'Invalid URL' };
    // Not awaited when a slot is free: the common case costs no extra turn of the microtask queue.
    const turn = this.slots.acquire(target.origin);
    if (turn) await turn;
    if (mayStart && !mayStart()) {
      this.slots.release(target.origin);
      return WITHHELD;
    }
    const exchange = new Exchange(req.timeoutMs);
    const done = this.deadlines.start(req.timeoutMs, exchange.timeOut);
    try {
      this.dispatch(exchange, target, req);
      const result = await exchange.result;
      return exchange.writtenAt === undefined ? result : { ...result, queuedMs: Math.max(0, exchange.writtenAt - handedOver) };
    } finally {
      done();
      this.slots.release(target.origin);
    }
  }

  private dispatch(exchange: Exchange, target: { readonly origin: string; readonly path: string }, req: OutboundRequest): void {
    try {
      this.agent.dispatch(
        {
          origin: target.origin,
          path: target.path,
          method: req.method as Dispatcher.HttpMethod,
          headers: req.headers,
          body: req.body,
          headersTimeout: req.timeoutMs,
          bodyTimeout: req.timeoutMs,
        },
        exchange,
      );
    } catch (error) {
      // undici hands its own errors to the handler; anything else still settles the exchange (send never throws).
      exchange.onResponseError(null, error as Error);
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

/**
 * One request through undici's handler API: no response stream, async iterator, abort signal or
 * promise race per request, which `undici.request` costs and which made up much of a sending
 * thread's time and garbage in a burst (bench/README.md). It settles once, with the first of: the
 * answer (status, headers, the body's first 4 KiB), the error, or the attempt's deadline.
 */
class Exchange implements Dispatcher.DispatchHandler {
  /** When undici started writing the request: it calls `onRequestStart` just before the headers go out. */
  writtenAt: number | undefined;
  readonly result: Promise<OutboundResult>;
  private resolve!: (result: OutboundResult) => void;
  private settled = false;
  private controller: Dispatcher.DispatchController | null = null;
  private status = 0;
  private headers: Record<string, string | string[] | undefined> = {};
  private readonly chunks: Buffer[] = [];
  private size = 0;

  constructor(private readonly timeoutMs: number) {
    this.result = new Promise((resolve) => (this.resolve = resolve));
  }

  /**
   * The attempt's deadline: answered at once. undici can abort a request only once it has a
   * connection, so one whose connect still waits is aborted when it gets one, never written.
   */
  readonly timeOut = (): void => {
    this.settle({ kind: 'timeout', error: `timeout: no response within ${this.timeoutMs} ms` });
    this.controller?.abort(new errors.RequestAbortedError());
  };

  onRequestStart(controller: Dispatcher.DispatchController): void {
    if (this.settled) return controller.abort(new errors.RequestAbortedError());
    this.controller = controller;
    this.writtenAt = Date.now();
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    if (statusCode < 200) return; // informational (1xx): the answer is still to come
    this.status = statusCode;
    this.headers = headers;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.settled) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (this.size < RESPONSE_EXCERPT_BYTES) return;
    // Enough of the body is kept. The rest is not waited for: the abort closes the connection,
    // unless the parser reaches the response's end in the same read (it runs before the
    // microtask), so a longer body that arrived whole keeps its connection for the next request.
    this.settleWithResponse();
    queueMicrotask(() => controller.abort(new errors.RequestAbortedError()));
  }

  onResponseEnd(): void {
    this.settleWithResponse();
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, error: Error): void {
    this.settle(failureOf(error, this.timeoutMs));
  }

  private settleWithResponse(): void {
    const body = Buffer.concat(this.chunks, this.size).subarray(0, RESPONSE_EXCERPT_BYTES).toString('utf8');
    this.settle({ kind: 'response', status: this.status, headers: this.headers, body });
  }

  private settle(result: OutboundResult): void {
    if (this.settled) return;
    this.settled = true;
    this.resolve(result);
  }
}

/** What a user would want to see of a failed exchange. */
function failureOf(error: Error, timeoutMs: number): OutboundResult {
  const err = error as Error & { code?: string; cause?: Error & { code?: string } };
  const blocked = err.code === 'ENDPOINT_BLOCKED' ? err : err.cause?.code === 'ENDPOINT_BLOCKED' ? err.cause : null;
  if (blocked) return { kind: 'refused', error: blocked.message };
  if (err instanceof errors.ConnectTimeoutError) return { kind: 'timeout', error: `timeout: could not connect within ${CONNECT_TIMEOUT_MS} ms` };
  // The attempt's own deadline settles the exchange itself (Exchange.timeOut); these are undici's.
  const timedOut = err instanceof errors.HeadersTimeoutError || err instanceof errors.BodyTimeoutError;
  return timedOut
    ? { kind: 'timeout', error: `timeout: no response within ${timeoutMs} ms` }
    : { kind: 'network_error', error: err.code ? `${err.code}: ${err.message}` : err.message };
}
