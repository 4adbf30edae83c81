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

export interface HttpSender {
  send(req: OutboundRequest): Promise<SentResult>;
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
 * undici with one Agent: a keep-alive connection pool per origin, so a repeat target costs no
 * handshake on the timer-to-socket path, and every new connection goes through the outbound guard.
 * Redirects are not followed: a 3xx is the attempt's answer.
 */
export class UndiciHttpSender implements HttpSender {
  private readonly agent: Agent;
  private readonly deadlines = new RequestDeadlines();

  constructor(options: UndiciHttpSenderOptions) {
    this.agent = new Agent({
      connect: options.guard.connector(options.lookup),
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 120_000,
      connections: options.connections ?? 256,
    });
  }

  async send(req: OutboundRequest): Promise<SentResult> {
    const handedOver = Date.now();
    const key = attemptKey(req.headers['sched-delivery-id'], req.headers['sched-attempt']);
    const result = await this.exchange(req);
    if (!key) return result;
    const written = headersWrittenAt.get(key);
    headersWrittenAt.delete(key);
    return written === undefined ? result : { ...result, queuedMs: Math.max(0, written - handedOver) };
  }

  private async exchange(req: OutboundRequest): Promise<OutboundResult> {
    const deadline = this.deadlines.start(req.timeoutMs);
    try {
      const res = await request(req.url, {
        dispatcher: this.agent,
        method: req.method as never,
        headers: req.headers,
        body: req.body ?? undefined,
        headersTimeout: req.timeoutMs,
        bodyTimeout: req.timeoutMs,
        signal: deadline.signal,
      });
      const body = await readExcerpt(res.body);
      return { kind: 'response', status: res.statusCode, headers: res.headers, body };
    } catch (error) {
      const err = error as Error & { code?: string; cause?: Error & { code?: string } };
      const blocked = err.code === 'ENDPOINT_BLOCKED' ? err : err.cause?.code === 'ENDPOINT_BLOCKED' ? err.cause : null;
      if (blocked) return { kind: 'refused', error: blocked.message };
      const timedOut =
        err instanceof errors.HeadersTimeoutError ||
        err instanceof errors.BodyTimeoutError ||
        err instanceof errors.ConnectTimeoutError ||
        err.name === 'TimeoutError' ||
        err.name === 'AbortError';
      return timedOut
        ? { kind: 'timeout', error: `timeout: no response within ${req.timeoutMs} ms` }
        : { kind: 'network_error', error: err.code ? `${err.code}: ${err.message}` : err.message };
    } finally {
      deadline.done();
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }
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
