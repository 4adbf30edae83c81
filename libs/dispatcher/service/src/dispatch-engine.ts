import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { AttemptRecord, EventDataMap, FireKind, Scope } from '@schedstack/contracts';
import {
  admit,
  type AttemptResult,
  type BreakerSettings,
  type BreakerState,
  closedBreaker,
  isRetryable,
  nextAttempt,
  parseRetryAfter,
  recordOutcome,
  type RetryPolicy,
  retryPolicyOf,
} from '@schedstack/dispatcher-domain';
import type { EventStore } from '@schedstack/event-store';
import type { Clock } from '@schedstack/platform';
import type { Pool } from 'pg';
import { AttemptRecorder } from './attempt-recorder';
import { recordDispatch } from './dispatch-lag.metric';
import { countOutcome, countReclaim } from './delivery.metrics';
import { type ClaimedFire, DueFires, isMocked, originKey } from './due-fires';
import type { HttpSender, OutboundResult } from './http-sender';
import { type SealedSecrets, SigningSecrets } from './signing-secrets';

export interface DispatchEngineOptions {
  /** How far ahead fires are claimed and armed on in-memory timers. */
  readonly lookAheadMs: number;
  readonly pollIntervalMs: number;
  /** How long after its due time a claimed fire stays leased (renewed by the lease keeper until its attempt is recorded). */
  readonly leaseMs: number;
  readonly batchSize: number;
  readonly userAgent: string;
}

export const DEFAULT_ENGINE_OPTIONS: Omit<DispatchEngineOptions, 'userAgent'> = {
  lookAheadMs: 1_000,
  pollIntervalMs: 100,
  leaseMs: 30_000,
  batchSize: 500,
};

/** SPEC §5 vendor mocking: the fixed answer recorded instead of sending (documented in docs/dispatcher.md). */
export const MOCKED_RESPONSE = { status: 200, body: '{"mocked":true}' } as const;

/** Fires sent per turn of the event loop: a burst's timers all expire together, and sending them in one go would hold up every reply and lease renewal behind it. */
const SEND_CHUNK = 50;

/** Connection-level headers: they describe one hop, so the client sets them, not the stored request. */
const HOP_BY_HOP = new Set(['host', 'content-length', 'connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'expect', 'te', 'trailer', 'proxy-connection']);

/** A claimed fire made ready to go: headers and signatures are computed when it is armed, not when it fires. */
interface ArmedFire {
  readonly fire: ClaimedFire;
  readonly fireKind: FireKind;
  readonly headers: Record<string, string>;
  readonly policy: RetryPolicy;
  readonly timer: NodeJS.Timeout;
}

/**
 * SPEC §4 firing. Claims due fires a look-ahead window early with a lease (FOR UPDATE SKIP LOCKED,
 * so any number of replicas share the work), prepares each request and arms a timer for it. When a
 * timer fires, only an in-memory breaker check stands between it and the socket; the attempt, the
 * retry it may schedule and the due-fire bookkeeping are written afterwards, in batches. Each poll
 * also drops armed fires that were withdrawn (pause/cancel) or whose lease another replica took.
 */
export class DispatchEngine {
  readonly workerId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly logger = new Logger('dispatcher');
  private readonly dueFires: DueFires;
  private readonly recorder: AttemptRecorder;
  private readonly armed = new Map<string, ArmedFire>();
  /** Armed fires whose timer has run, waiting for their turn to be sent (SEND_CHUNK at a time). */
  private readonly ready: ArmedFire[] = [];
  private sending: NodeJS.Immediate | null = null;
  /** Fires sent or being sent and not yet marked done. */
  private readonly inFlight = new Set<string>();
  /**
   * When the lease of each fire armed or in flight here runs out, by our clock, erring early: the
   * lease keeper renews any with less than half a lease left, on its own timer, so a slow claim
   * cycle or a burst that delays timers never lets a lease this dispatcher still needs lapse.
   */
  private readonly leaseDeadlines = new Map<string, number>();
  private leaseKeeper: NodeJS.Timeout | null = null;
  private keeping: Promise<void> | null = null;
  private readonly inFlightWork = new Set<Promise<void>>();
  /** Per origin, per replica: each dispatcher judges an origin by the failures it sees itself. */
  private readonly breakers = new Map<string, BreakerState>();
  private poller: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;
  private stopped = true;

  constructor(
    pool: Pool,
    store: EventStore,
    private readonly sender: HttpSender,
    private readonly clock: Clock,
    private readonly secrets: SigningSecrets,
    private readonly options: DispatchEngineOptions,
  ) {
    this.dueFires = new DueFires(pool, this.workerId, options.leaseMs);
    this.recorder = new AttemptRecorder(store, this.dueFires, this.logger);
  }

  start(): void {
    this.stopped = false;
    this.poller = setInterval(() => void this.poll(), this.options.pollIntervalMs);
    this.leaseKeeper = setInterval(() => void this.keepLeases(), Math.max(10, Math.min(this.options.pollIntervalMs, this.options.leaseMs / 8)));
    void this.poll();
  }

  /** Stops claiming, lets in-flight sends finish and be recorded, and hands armed fires back. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.poller) clearInterval(this.poller);
    await this.polling;
    // Fires waiting for their turn to be sent go back with the armed ones, before waiting for
    // what is in flight: another replica need not wait for them.
    if (this.sending) clearImmediate(this.sending);
    this.sending = null;
    const unsent = this.ready.splice(0).map((r) => r.fire.id);
    for (const id of unsent) this.inFlight.delete(id);
    const released = [...this.armed.keys(), ...unsent];
    for (const armed of this.armed.values()) clearTimeout(armed.timer);
    this.armed.clear();
    for (const id of released) this.leaseDeadlines.delete(id);
    await this.dueFires.release(released).catch(() => undefined);
    // The keeper runs on until every attempt in flight is recorded (a lapsed fire re-checked may start one meanwhile).
    while (this.inFlightWork.size > 0) await Promise.allSettled([...this.inFlightWork]);
    await this.recorder.drain();
    if (this.leaseKeeper) clearInterval(this.leaseKeeper);
    await this.keeping;
    this.leaseDeadlines.clear();
  }

  /** Drops armed fires a pause or cancel withdrew (called by this process's projection). */
  withdraw(fireIds: readonly string[]): void {
    for (const id of fireIds) this.disarm(id);
  }

  /** One cycle: drop armed fires withdrawn or taken over, and claim, reserve rate-limit slots and arm. (Renewals are the lease keeper's.) */
  poll(): Promise<void> {
    if (this.polling || this.stopped) return this.polling ?? Promise.resolve();
    let full = false;
    this.polling = this.cycle()
      .then((claimed) => {
        full = claimed >= this.options.batchSize;
      })
      .catch((error) => this.logger.warn(`claiming due fires failed, will retry: ${(error as Error).message}`))
      .finally(() => {
        this.polling = null;
        // A full batch means a burst: claim the next one now rather than a poll interval later.
        if (full && !this.stopped) setImmediate(() => void this.poll());
      });
    return this.polling;
  }

  /** Returns how many fires it armed. */
  private async cycle(): Promise<number> {
    // The lease check (drop armed fires that were withdrawn or taken over) runs beside
    // the claim, not before it: each is a round trip, and on a busy machine a round trip takes
    // hundreds of milliseconds, so in series they held the claim back until its fires were due.
    const leases = this.dropLostFires().catch((error) => this.logger.warn(`checking leases failed, will retry: ${(error as Error).message}`));
    try {
      return await this.claimAndArm();
    } finally {
      await leases;
    }
  }

  private async claimAndArm(): Promise<number> {
    // Taken before the claim is sent: the lease it reports was measured later, so this errs early.
    const claimSentAt = Date.now();
    const claimed = await this.dueFires.claim(this.options.lookAheadMs, this.options.batchSize);
    if (claimed.length === 0) return 0;
    const secrets = await this.secretsFor(claimed);
    const fires = claimed.filter((f) => secrets.has(f.id));
    const nowMs = this.clock.now().getTime();
    let deferred = new Map<string, Date>();
    try {
      deferred = await this.dueFires.reserveRateSlots(fires, this.options.lookAheadMs, nowMs);
    } catch (error) {
      // Nothing was reserved: give the limited fires back so the next cycle tries again.
      const limited = fires.filter((f) => f.policy?.rate_limit).map((f) => f.id);
      await this.dueFires.release(limited).catch(() => undefined);
      for (const id of limited) secrets.delete(id);
      this.logger.warn(`reserving rate-limit slots failed, will retry: ${(error as Error).message}`);
    }
    const unarmed: string[] = [];
    let armed = 0;
    for (const fire of fires) {
      const sealed = secrets.get(fire.id);
      const sendAt = deferred.get(fire.id);
      // A slot beyond the window was handed back to the table; it is claimed again nearer the time.
      if (!sealed || (sendAt && sendAt.getTime() > nowMs + this.options.lookAheadMs)) continue;
      try {
        if (this.arm(sendAt ? { ...fire, fire_at: sendAt, deferred_kind: 'rate_limited' } : fire, sealed)) armed++;
        // Also for one still armed or in flight here whose lease had lapsed: the claim took it back.
        if (this.armed.has(fire.id) || this.inFlight.has(fire.id)) this.leaseDeadlines.set(fire.id, claimSentAt + fire.lease_ms_left);
      } catch (error) {
        // e.g. a secret sealed with another SCHEDSTACK_SECRETS_KEY: never sent unsigned.
        this.logger.error(`cannot prepare ${fire.delivery_id}: ${(error as Error).message}`);
        unarmed.push(fire.id);
      }
    }
    await this.dueFires.release(unarmed).catch(() => undefined);
    // Only what was armed counts towards a full batch: fires handed back (unsigned, unpreparable,
    // rate-limit failure) would be claimed again at once and spin the loop.
    return armed;
  }

  /** The sealed secrets each fire signs with: its own (webhooks) or its environment's, created on first use. */
  private async secretsFor(fires: readonly ClaimedFire[]): Promise<Map<string, SealedSecrets>> {
    const byScope = new Map<string, SealedSecrets | null>();
    const result = new Map<string, SealedSecrets>();
    for (const fire of fires) {
      // A platform webhook signs with its endpoint's secret (SPEC §6), never the environment's.
      if (fire.own_secret) result.set(fire.id, { current: fire.own_secret, previous: null, previousExpiresAt: null });
      else if (fire.signing_secret) {
        byScope.set(`${fire.project_id}|${fire.environment}`, {
          current: fire.signing_secret,
          previous: fire.previous_secret,
          previousExpiresAt: fire.previous_expires_at,
        });
      }
    }
    const missing = fires.filter((f) => !f.own_secret && !byScope.has(`${f.project_id}|${f.environment}`));
    for (const fire of missing) {
      const key = `${fire.project_id}|${fire.environment}`;
      if (byScope.has(key)) continue;
      const state = await this.secrets.ensure({ projectId: fire.project_id, environment: fire.environment }).catch((error) => {
        this.logger.warn(`no signing secret for ${key} yet, its fires wait: ${(error as Error).message}`);
        return null;
      });
      byScope.set(key, state ? SigningSecrets.sealedOf(state) : null);
    }
    const unsigned: string[] = [];
    for (const fire of fires) {
      if (fire.own_secret) continue;
      const sealed = byScope.get(`${fire.project_id}|${fire.environment}`);
      if (sealed) result.set(fire.id, sealed);
      else unsigned.push(fire.id);
    }
    // Never sent unsigned: handed back to be claimed again once the secret can be read.
    await this.dueFires.release(unsigned).catch(() => undefined);
    return result;
  }

  /** Disarms fires that were withdrawn or whose lease another replica took. */
  private async dropLostFires(): Promise<void> {
    const armedIds = [...this.armed.keys()];
    if (armedIds.length === 0) return;
    const held = await this.dueFires.stillHeld(armedIds);
    for (const id of armedIds) if (!held.has(id)) this.disarm(id);
  }

  /** Renews every lease with less than half a lease left (armed fires whose timer is late, requests in flight, attempts being recorded). */
  private keepLeases(): Promise<void> {
    if (this.keeping) return this.keeping;
    const sentAt = Date.now();
    const due = [...this.leaseDeadlines].filter(([, deadline]) => deadline - sentAt < this.options.leaseMs / 2).map(([id]) => id);
    if (due.length === 0) return Promise.resolve();
    this.keeping = this.dueFires
      .renew(due)
      .then((renewed) => {
        for (const id of due) {
          // Settled meanwhile: nothing to keep.
          if (!this.leaseDeadlines.has(id)) continue;
          if (renewed.has(id)) this.leaseDeadlines.set(id, sentAt + this.options.leaseMs);
          else {
            // Done, withdrawn, or (its lease having lapsed after all) another replica's now.
            this.leaseDeadlines.delete(id);
            this.disarm(id);
          }
        }
      })
      .catch((error) => this.logger.warn(`renewing ${due.length} leases failed, will retry: ${(error as Error).message}`))
      .finally(() => {
        this.keeping = null;
      });
    return this.keeping;
  }

  /** Arms a timer for the fire; false when it is armed or in flight already. */
  private arm(fire: ClaimedFire, secrets: SealedSecrets): boolean {
    if (this.armed.has(fire.id) || this.inFlight.has(fire.id)) return false;
    const now = this.clock.now();
    const fireKind: FireKind = fire.claims > 1 ? 'reclaim' : fire.deferred_kind ?? fire.fire_kind;
    if (fireKind === 'reclaim') countReclaim(fire.environment);
    const sendAt = Math.max(now.getTime(), new Date(fire.fire_at).getTime());
    const headers = this.headersFor(fire, secrets, sendAt);
    const timer = setTimeout(() => this.onTimer(fire.id), sendAt - now.getTime());
    this.armed.set(fire.id, { fire, fireKind, headers, policy: retryPolicyOf(fire.policy), timer });
    return true;
  }

  /** Drops an armed fire, or one whose timer has run and that waits in `ready` (it is skipped there): it will not be sent. */
  private disarm(id: string): void {
    this.leaseDeadlines.delete(id);
    const armed = this.armed.get(id);
    if (!armed) return;
    clearTimeout(armed.timer);
    this.armed.delete(id);
  }

  /** SPEC §4: exactly the stored method, headers and body, plus the Sched-* headers and signatures. */
  private headersFor(fire: ClaimedFire, secrets: SealedSecrets, sendAtMs: number): Record<string, string> {
    const headers: Record<string, string> = {};
    const put = (source: Readonly<Record<string, string>> | undefined) => {
      for (const [name, value] of Object.entries(source ?? {})) if (!HOP_BY_HOP.has(name.toLowerCase())) headers[name.toLowerCase()] = value;
    };
    put(fire.policy?.headers);
    put(fire.request.headers);
    const signatures = this.secrets.signer(secrets, new Date(sendAtMs)).sign(fire.delivery_id, sendAtMs / 1000, fire.request.body ?? '');
    return {
      ...headers,
      'sched-delivery-id': fire.delivery_id,
      ...(fire.webhook_endpoint_id ? { 'sched-webhook-endpoint-id': fire.webhook_endpoint_id } : { 'sched-schedule-id': fire.schedule_id }),
      'sched-attempt': String(fire.attempt),
      'sched-mode': fire.environment,
      'user-agent': this.options.userAgent,
      ...signatures,
    };
  }

  private onTimer(id: string): void {
    const armed = this.armed.get(id);
    if (!armed) return;
    this.armed.delete(id);
    this.inFlight.add(id);
    this.ready.push(armed);
    this.sending ??= setImmediate(() => this.sendReady());
  }

  /** Sends the next SEND_CHUNK ready fires; replies and lease renewals get their turn before the next chunk. */
  private sendReady(): void {
    this.sending = null;
    const now = Date.now();
    const lapsed: ArmedFire[] = [];
    for (const armed of this.ready.splice(0, SEND_CHUNK)) {
      const deadline = this.leaseDeadlines.get(armed.fire.id);
      // Withdrawn, or found to be another replica's, while it waited: not ours to send.
      if (deadline === undefined) this.inFlight.delete(armed.fire.id);
      // Its lease may have run out (a stalled loop, failing renewals): sent only if it is still ours.
      else if (deadline <= now) lapsed.push(armed);
      else this.startSending(armed);
    }
    if (lapsed.length > 0) {
      const work = this.sendIfStillHeld(lapsed).finally(() => this.inFlightWork.delete(work));
      this.inFlightWork.add(work);
    }
    if (this.ready.length > 0) this.sending = setImmediate(() => this.sendReady());
  }

  private async sendIfStillHeld(fires: readonly ArmedFire[]): Promise<void> {
    const renewedAt = Date.now();
    const renewed = await this.dueFires.renew(fires.map((f) => f.fire.id)).catch((error) => {
      this.logger.warn(`renewing ${fires.length} lapsed leases failed; their fires go to whoever claims them next: ${(error as Error).message}`);
      return new Set<string>();
    });
    for (const armed of fires) {
      const id = armed.fire.id;
      if (renewed.has(id) && this.leaseDeadlines.has(id)) {
        this.leaseDeadlines.set(id, renewedAt + this.options.leaseMs);
        this.startSending(armed);
      } else {
        this.inFlight.delete(id);
        this.leaseDeadlines.delete(id);
      }
    }
  }

  private startSending(armed: ArmedFire): void {
    const id = armed.fire.id;
    const settled = () => {
      this.inFlight.delete(id);
      this.leaseDeadlines.delete(id);
    };
    const work = this.send(armed, settled)
      .catch((error) => {
        settled();
        this.logger.error(`fire ${armed.fire.delivery_id} failed: ${(error as Error).stack}`);
      })
      .finally(() => this.inFlightWork.delete(work));
    this.inFlightWork.add(work);
  }

  /** Sends one armed fire; `settled` runs once nothing more will be written for it. */
  private async send(armed: ArmedFire, settled: () => void): Promise<void> {
    const { fire } = armed;
    if (isMocked(fire)) {
      const at = this.clock.now();
      return this.record(armed, at, at, 0, { kind: 'response', status: MOCKED_RESPONSE.status, headers: {}, body: MOCKED_RESPONSE.body }, true, settled);
    }
    const breaker = this.breakerFor(fire);
    if (breaker) {
      const decision = admit(this.breakers.get(breaker.key) ?? closedBreaker(), breaker.settings, this.clock.now().getTime());
      this.breakers.set(breaker.key, decision.state);
      if (decision.kind === 'defer') {
        this.recorder.defer({ id: fire.id, at: new Date(decision.untilMs), kind: 'breaker_deferred' });
        settled();
        return;
      }
    }
    const handedOver = this.clock.now();
    const started = performance.now();
    const result = await this.sender.send({
      url: fire.request.endpoint,
      method: fire.request.method,
      headers: armed.headers,
      body: fire.request.body,
      timeoutMs: armed.policy.timeoutMs,
    });
    // fired_at is when the request went out: after any wait for a pooled connection (a burst).
    const firedAt = new Date(handedOver.getTime() + (result.queuedMs ?? 0));
    const durationMs = Math.round(performance.now() - started - (result.queuedMs ?? 0));
    const endedAt = this.clock.now();
    if (breaker) {
      const failed = result.kind !== 'response' || (isRetryable(toAttemptResult(result, endedAt)) && (result.status < 200 || result.status >= 300));
      const next = recordOutcome(this.breakers.get(breaker.key) ?? closedBreaker(), breaker.settings, failed, endedAt.getTime());
      if (next.status === 'closed' && next.failures === 0) this.breakers.delete(breaker.key);
      else this.breakers.set(breaker.key, next);
    }
    this.record(armed, firedAt, endedAt, durationMs, result, false, settled);
  }

  private breakerFor(fire: ClaimedFire): { key: string; settings: BreakerSettings } | null {
    const breaker = fire.policy?.breaker;
    if (!breaker) return null;
    return { key: originKey(fire), settings: { failureThreshold: breaker.failure_threshold, coolDownMs: breaker.cool_down_ms } };
  }

  private record(armed: ArmedFire, firedAt: Date, endedAt: Date, durationMs: number, result: OutboundResult, mocked: boolean, settled: () => void): void {
    const { fire, fireKind } = armed;
    const scope: Scope = { projectId: fire.project_id, environment: fire.environment };
    const step = nextAttempt(armed.policy, fire.round_attempt, toAttemptResult(result, endedAt), endedAt, Math.random);
    const attempt: AttemptRecord = {
      n: fire.attempt,
      fire_kind: fireKind,
      scheduled_for: new Date(fire.scheduled_for).toISOString(),
      fired_at: firedAt.toISOString(),
      status_code: result.kind === 'response' ? result.status : null,
      duration_ms: durationMs,
      response_body: result.kind === 'response' ? result.body : null,
      error: errorOf(result),
      mocked,
    };
    const data: EventDataMap['delivery.attempted'] = {
      delivery_id: fire.delivery_id,
      schedule_id: fire.schedule_id,
      attempt,
      state: step.kind === 'succeeded' ? 'succeeded' : step.kind === 'retry' ? 'retrying' : 'dead_lettered',
      next_attempt_at: step.kind === 'retry' ? step.retryAt.toISOString() : null,
      ...(fire.webhook_endpoint_id ? { webhook_endpoint_id: fire.webhook_endpoint_id } : {}),
    };
    this.recorder.record(scope, fire.id, data, settled);
    countOutcome(fire.environment, data.state);
    recordDispatch({
      environment: fire.environment,
      fireKind,
      scheduledFor: new Date(fire.scheduled_for),
      firedAt,
      endedAt,
      deliveryId: fire.delivery_id,
      attempt: fire.attempt,
      statusCode: attempt.status_code,
      error: attempt.error,
      trace: fire.trace,
    });
  }
}

function toAttemptResult(result: OutboundResult, now: Date): AttemptResult {
  if (result.kind !== 'response') return { kind: result.kind };
  const retryAfter = result.headers['retry-after'];
  return { kind: 'response', status: result.status, retryAfterMs: parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, now) };
}

/** What the attempt shows as `error`: transport failures, refusals, and redirects (never followed). */
function errorOf(result: OutboundResult): string | null {
  if (result.kind !== 'response') return result.error;
  if (result.status >= 300 && result.status < 400) {
    const location = result.headers.location;
    return `redirect not followed: ${result.status}${location ? ` to ${Array.isArray(location) ? location[0] : location}` : ''}`;
  }
  return null;
}
