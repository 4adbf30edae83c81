import { admit, type AttemptResult, type BreakerSettings, type BreakerState, closedBreaker, isRetryable, parseRetryAfter, recordOutcome } from '@schedstack/dispatcher-domain';
import type { HttpSender, OutboundRequest, OutboundResult } from './http-sender';

/** A fire handed to the launcher: everything needed to send it at its time without asking back. */
export interface LaunchOrder {
  /** The due fire's id. */
  readonly id: string;
  /** When to send it, by the launcher's clock (ms since the epoch). */
  readonly atMs: number;
  /** When this dispatcher's lease on it runs out, by `Date.now()`: past it, nothing is sent without a renewal. */
  readonly leaseDeadline: number;
  readonly request: OutboundRequest;
  /** SPEC §5 vendor mocking: reported as if answered, nothing is sent. */
  readonly mocked: boolean;
  readonly breaker: { readonly key: string; readonly settings: BreakerSettings } | null;
}

/**
 * What became of an order. Every order gets exactly one of `sent`, `mocked`, `deferred` or
 * `dropped`; `lapsed` may come before it, more than once (before its timer, or while it waited
 * for a connection), each answered by `resume` or `disarm`.
 */
export type LaunchReport =
  | { readonly kind: 'sent'; readonly id: string; readonly firedAt: number; readonly endedAt: number; readonly durationMs: number; readonly result: OutboundResult }
  | { readonly kind: 'mocked'; readonly id: string; readonly at: number }
  /** The origin's breaker is open: the fire waits until `untilMs`. */
  | { readonly kind: 'deferred'; readonly id: string; readonly untilMs: number }
  /** Its time came after its lease deadline: held until `resume` (a renewal proved it still ours) or `disarm`. */
  | { readonly kind: 'lapsed'; readonly id: string }
  /** Disarmed before it went out (or lost with a sending thread that died): not sent by this launcher. */
  | { readonly kind: 'dropped'; readonly id: string };

/**
 * The dispatcher's timer-to-socket path (docs/dispatcher.md, "The sending threads"): arms a timer per
 * fire and sends it when it runs, unless its lease has lapsed. The engine claims, renews and records;
 * a launcher only times and sends, so it can run on a thread of its own where nothing else delays it.
 */
export interface LaunchPad {
  /** Where reports go; called once, before the first order. */
  connect(listener: (reports: LaunchReport[]) => void): void;
  arm(orders: readonly LaunchOrder[]): void;
  disarm(ids: readonly string[]): void;
  /** New lease deadlines after renewals; ignored for fires already sent. */
  extend(leases: ReadonlyArray<readonly [id: string, leaseDeadline: number]>): void;
  /** Sends a fire reported `lapsed` whose lease a renewal proved still ours. */
  resume(id: string, leaseDeadline: number): void;
  /**
   * Clears every timer and unsent fire — those still waiting for a connection included — and
   * answers their ids (no report follows for them); fires in flight still report. Later orders are ignored.
   */
  stop(): Promise<string[]>;
  /** After `stop`: waits for the requests in flight and closes the connections. */
  close(): Promise<void>;
}

/** Fires sent per turn of the event loop: a burst's timers all expire together, and replies and lease updates get their turn between chunks. */
const SEND_CHUNK = 50;

/** SPEC §5 vendor mocking: the fixed answer recorded instead of sending (documented in docs/dispatcher.md). */
export const MOCKED_RESPONSE = { status: 200, body: '{"mocked":true}' } as const;

/** The attempt outcome the retry policy and the breaker judge. */
export function toAttemptResult(result: OutboundResult, now: Date): AttemptResult {
  if (result.kind !== 'response') return { kind: result.kind };
  const retryAfter = result.headers['retry-after'];
  return { kind: 'response', status: result.status, retryAfterMs: parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, now) };
}

/**
 * The launcher itself: timers, the lease check before sending, the per-origin breakers and the
 * sender. Used directly (tests, with any `HttpSender`) or inside the sending thread.
 */
export class FireLauncher implements LaunchPad {
  private listener: (reports: LaunchReport[]) => void = () => undefined;
  private readonly timers = new Map<string, { readonly order: LaunchOrder; readonly timer: NodeJS.Timeout }>();
  /** Orders whose timer has run, waiting for their turn (SEND_CHUNK at a time). */
  private readonly ready: LaunchOrder[] = [];
  private sending: NodeJS.Immediate | null = null;
  /** Orders sent straight from their timers in this turn of the event loop. */
  private sentThisTurn = 0;
  private readonly lapsed = new Map<string, LaunchOrder>();
  /** Lease deadlines of the orders not yet sent; an order without one was disarmed. */
  private readonly deadlines = new Map<string, number>();
  /**
   * Lease deadlines of the orders handed to the sender that are still waiting for a connection (a
   * burst to one origin): checked again when their turn comes, since renewals may have stalled
   * meanwhile or the fire been withdrawn; an order without one was disarmed.
   */
  private readonly connecting = new Map<string, number>();
  /** Orders that were waiting for a connection when the launcher stopped: answered by `stop`, never sent or reported. */
  private readonly abandoned = new Set<string>();
  /** Per origin, per dispatcher: each judges an origin by the failures it sees itself. */
  private readonly breakers = new Map<string, BreakerState>();
  private readonly inFlight = new Set<Promise<void>>();
  private stopped = false;

  /** `now` is the product's clock (timers and recorded times); lease deadlines are always by `Date.now()`. */
  constructor(
    private readonly sender: HttpSender,
    private readonly now: () => number = Date.now,
  ) {}

  connect(listener: (reports: LaunchReport[]) => void): void {
    this.listener = listener;
  }

  arm(orders: readonly LaunchOrder[]): void {
    if (this.stopped) return;
    for (const order of orders) {
      if (this.deadlines.has(order.id)) continue;
      this.deadlines.set(order.id, order.leaseDeadline);
      const timer = setTimeout(() => this.onTimer(order.id), Math.max(0, order.atMs - this.now()));
      this.timers.set(order.id, { order, timer });
    }
  }

  disarm(ids: readonly string[]): void {
    const dropped: LaunchReport[] = [];
    for (const id of ids) {
      // One waiting in `ready` is skipped (and reported) there, one waiting for a connection when its turn comes.
      this.deadlines.delete(id);
      this.connecting.delete(id);
      const armed = this.timers.get(id);
      if (armed) {
        clearTimeout(armed.timer);
        this.timers.delete(id);
        dropped.push({ kind: 'dropped', id });
      } else if (this.lapsed.delete(id)) dropped.push({ kind: 'dropped', id });
    }
    if (dropped.length > 0) this.listener(dropped);
  }

  extend(leases: ReadonlyArray<readonly [string, number]>): void {
    for (const [id, deadline] of leases) {
      if (this.deadlines.has(id)) this.deadlines.set(id, deadline);
      else if (this.connecting.has(id)) this.connecting.set(id, deadline);
    }
  }

  resume(id: string, leaseDeadline: number): void {
    const order = this.lapsed.get(id);
    if (!order || this.stopped) return;
    this.lapsed.delete(id);
    this.launch(order, leaseDeadline);
  }

  async stop(): Promise<string[]> {
    this.stopped = true;
    if (this.sending) clearImmediate(this.sending);
    this.sending = null;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    // Waiting for a connection is not yet sent: handed back now (another replica may take them at
    // once), they are withheld when their turn comes, instead of holding up the shutdown.
    for (const id of this.connecting.keys()) this.abandoned.add(id);
    const unsent = [...this.timers.keys(), ...this.ready.splice(0).map((o) => o.id), ...this.lapsed.keys(), ...this.abandoned];
    this.connecting.clear();
    this.timers.clear();
    this.lapsed.clear();
    this.deadlines.clear();
    return unsent;
  }

  async close(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    await this.sender.close();
  }

  private onTimer(id: string): void {
    const armed = this.timers.get(id);
    if (!armed) return;
    this.timers.delete(id);
    // Sent straight from its timer unless a burst is under way: the hop through `ready` costs a turn of the loop.
    if (this.ready.length === 0 && this.sentThisTurn < SEND_CHUNK) {
      if (this.sentThisTurn++ === 0) setImmediate(() => (this.sentThisTurn = 0));
      const reports: LaunchReport[] = [];
      this.go(armed.order, reports);
      if (reports.length > 0) this.listener(reports);
      return;
    }
    this.ready.push(armed.order);
    this.sending ??= setImmediate(() => this.sendReady());
  }

  private sendReady(): void {
    this.sending = null;
    const reports: LaunchReport[] = [];
    for (const order of this.ready.splice(0, SEND_CHUNK)) this.go(order, reports);
    if (reports.length > 0) this.listener(reports);
    if (this.ready.length > 0) this.sending = setImmediate(() => this.sendReady());
  }

  /** Sends an order whose time has come, unless it was disarmed or its lease has run out (a stalled engine, failing renewals). */
  private go(order: LaunchOrder, reports: LaunchReport[]): void {
    const deadline = this.deadlines.get(order.id);
    if (deadline === undefined) reports.push({ kind: 'dropped', id: order.id });
    // Sent only once a renewal proves it is still ours.
    else if (deadline <= Date.now()) {
      this.lapsed.set(order.id, order);
      reports.push({ kind: 'lapsed', id: order.id });
    } else this.launch(order, deadline);
  }

  private launch(order: LaunchOrder, leaseDeadline: number): void {
    this.deadlines.delete(order.id);
    if (order.mocked) {
      this.listener([{ kind: 'mocked', id: order.id, at: this.now() }]);
      return;
    }
    const { breaker } = order;
    if (breaker) {
      const decision = admit(this.breakers.get(breaker.key) ?? closedBreaker(), breaker.settings, this.now());
      this.breakers.set(breaker.key, decision.state);
      if (decision.kind === 'defer') {
        this.listener([{ kind: 'deferred', id: order.id, untilMs: decision.untilMs }]);
        return;
      }
    }
    const work = this.send(order, leaseDeadline).finally(() => this.inFlight.delete(work));
    this.inFlight.add(work);
  }

  /** HttpSender.send never throws; whatever it answers is reported. */
  private async send(order: LaunchOrder, leaseDeadline: number): Promise<void> {
    const handedOver = this.now();
    const started = performance.now();
    this.connecting.set(order.id, leaseDeadline);
    const result = await this.sender.send(order.request, () => this.mayStart(order.id));
    if (result.kind === 'withheld') return this.withhold(order);
    // A sender that went ahead without asking leaves the entries behind.
    this.connecting.delete(order.id);
    this.abandoned.delete(order.id);
    // fired_at is when the request went out: after any wait for a pooled connection (a burst).
    const firedAt = handedOver + (result.queuedMs ?? 0);
    const durationMs = Math.round(performance.now() - started - (result.queuedMs ?? 0));
    const endedAt = this.now();
    if (order.breaker) {
      const { key, settings } = order.breaker;
      const failed = result.kind !== 'response' || (isRetryable(toAttemptResult(result, new Date(endedAt))) && (result.status < 200 || result.status >= 300));
      const next = recordOutcome(this.breakers.get(key) ?? closedBreaker(), settings, failed, endedAt);
      if (next.status === 'closed' && next.failures === 0) this.breakers.delete(key);
      else this.breakers.set(key, next);
    }
    this.listener([{ kind: 'sent', id: order.id, firedAt, endedAt, durationMs, result }]);
  }

  /** Asked by the sender when the order has a connection: it goes out only on a lease still ours. */
  private mayStart(id: string): boolean {
    const deadline = this.connecting.get(id);
    if (deadline === undefined || deadline <= Date.now()) return false;
    this.connecting.delete(id);
    return true;
  }

  /**
   * An order the sender held back at `mayStart`: dropped if disarmed, else held like one whose lease
   * ran out before its timer; nothing at all if `stop` handed it back already.
   */
  private withhold(order: LaunchOrder): void {
    if (this.abandoned.delete(order.id)) return;
    const deadline = this.connecting.get(order.id);
    this.connecting.delete(order.id);
    this.reopenProbe(order);
    if (deadline === undefined || this.stopped) {
      this.listener([{ kind: 'dropped', id: order.id }]);
      return;
    }
    this.lapsed.set(order.id, order);
    this.listener([{ kind: 'lapsed', id: order.id }]);
  }

  /**
   * A half-open breaker admits one probe and defers the rest until it reports. A probe held back
   * never reports, so the breaker is set to let the next fire probe at once instead of after a
   * whole cool-down (`admit`'s guard against probes that never come back).
   */
  private reopenProbe(order: LaunchOrder): void {
    if (!order.breaker) return;
    const state = this.breakers.get(order.breaker.key);
    if (state?.status === 'half_open') this.breakers.set(order.breaker.key, { status: 'open', untilMs: this.now() });
  }
}
