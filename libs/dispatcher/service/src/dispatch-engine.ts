import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { AttemptRecord, EventDataMap, FireKind, Scope } from '@schedstack/contracts';
import { nextAttempt, type RetryPolicy, retryPolicyOf } from '@schedstack/dispatcher-domain';
import type { EventStore } from '@schedstack/event-store';
import type { Clock } from '@schedstack/platform';
import type { Pool } from 'pg';
import { AttemptRecorder } from './attempt-recorder';
import { recordDispatch } from './dispatch-lag.metric';
import { countOutcome, countReclaim } from './delivery.metrics';
import { type ClaimedFire, DueFires, isMocked, originKey } from './due-fires';
import type { OutboundResult } from './http-sender';
import { type LaunchOrder, type LaunchPad, type LaunchReport, MOCKED_RESPONSE, toAttemptResult } from './launcher';
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

/** Connection-level headers: they describe one hop, so the client sets them, not the stored request. */
const HOP_BY_HOP = new Set(['host', 'content-length', 'connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'expect', 'te', 'trailer', 'proxy-connection']);

/** A claimed fire handed to the launcher, until it reports what became of it. */
interface LaunchedFire {
  readonly fire: ClaimedFire;
  readonly fireKind: FireKind;
  readonly policy: RetryPolicy;
  /** When its timer sends it (epoch ms). */
  readonly sendAtMs: number;
}

/**
 * SPEC §4 firing. Claims due fires a look-ahead window early with a lease (FOR UPDATE SKIP LOCKED,
 * so any number of replicas share the work), prepares each request (headers and signatures) and
 * hands it to the launcher, which sends it at its time — on a thread of its own in the product, so
 * nothing this thread does delays a fire. The attempt, the retry it may schedule and the due-fire
 * bookkeeping are written when the launcher reports back, in batches. Each poll also disarms fires
 * that were withdrawn (pause/cancel) or whose lease another replica took.
 */
export class DispatchEngine {
  readonly workerId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly logger = new Logger('dispatcher');
  private readonly dueFires: DueFires;
  private readonly recorder: AttemptRecorder;
  /** Fires handed to the launcher that it has not yet reported sent, mocked, deferred or dropped. */
  private readonly launched = new Map<string, LaunchedFire>();
  /** Resolves `stop()`'s wait once every launched fire has been reported. */
  private onAllReported: (() => void) | null = null;
  /**
   * When the lease of each fire launched or being recorded here runs out, by our clock, erring
   * early: the lease keeper renews any with less than half a lease left, on its own timer, so a slow
   * claim cycle never lets a lease this dispatcher still needs lapse. The launcher holds a copy and
   * sends nothing past it without a renewal.
   */
  private readonly leaseDeadlines = new Map<string, number>();
  private leaseKeeper: NodeJS.Timeout | null = null;
  private keeping: Promise<void> | null = null;
  /** Renewals of lapsed fires under way. */
  private readonly renewing = new Set<Promise<void>>();
  private poller: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;
  /** When the last lease check started (epoch ms). */
  private leasesCheckedAt = 0;
  private stopped = true;

  constructor(
    pool: Pool,
    store: EventStore,
    private readonly launcher: LaunchPad,
    private readonly clock: Clock,
    private readonly secrets: SigningSecrets,
    private readonly options: DispatchEngineOptions,
  ) {
    this.dueFires = new DueFires(pool, this.workerId, options.leaseMs);
    this.recorder = new AttemptRecorder(store, this.dueFires, this.logger);
    launcher.connect((reports) => this.onReports(reports));
  }

  start(): void {
    this.stopped = false;
    this.poller = setInterval(() => void this.poll(), this.options.pollIntervalMs);
    this.leaseKeeper = setInterval(() => void this.keepLeases(), Math.max(10, Math.min(this.options.pollIntervalMs, this.options.leaseMs / 8)));
    void this.poll();
  }

  /** Stops claiming, hands unsent fires back, and lets what is in flight finish and be recorded. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.poller) clearInterval(this.poller);
    await this.polling;
    const unsent = await this.launcher.stop();
    for (const id of unsent) {
      this.launched.delete(id);
      this.leaseDeadlines.delete(id);
    }
    // Another replica need not wait for their leases to run out.
    await this.dueFires.release(unsent).catch(() => undefined);
    // The keeper runs on until every attempt in flight is reported and recorded.
    while (this.renewing.size > 0) await Promise.allSettled([...this.renewing]);
    while (this.launched.size > 0) await new Promise<void>((resolve) => (this.onAllReported = resolve));
    await this.recorder.drain();
    if (this.leaseKeeper) clearInterval(this.leaseKeeper);
    await this.keeping;
    this.leaseDeadlines.clear();
  }

  /** Drops armed fires a pause or cancel withdrew (called by this process's projection). */
  withdraw(fireIds: readonly string[]): void {
    this.disarm(fireIds);
  }

  /** One cycle: drop armed fires withdrawn or taken over, and claim, reserve rate-limit slots and arm. (Renewals are the lease keeper's.) */
  poll(): Promise<void> {
    return this.runCycle(false);
  }

  private runCycle(burst: boolean): Promise<void> {
    if (this.polling || this.stopped) return this.polling ?? Promise.resolve();
    let full = false;
    this.polling = this.cycle(burst)
      .then((claimed) => {
        full = claimed >= this.options.batchSize;
      })
      .catch((error) => this.logger.warn(`claiming due fires failed, will retry: ${(error as Error).message}`))
      .finally(() => {
        this.polling = null;
        // A full batch means a burst: claim the next one now rather than a poll interval later.
        if (full && !this.stopped) setImmediate(() => void this.runCycle(true));
      });
    return this.polling;
  }

  /**
   * Returns how many fires it armed. A cycle that continues a burst checks leases only once a poll
   * interval has passed since the last check: each check reads every fire armed here, and checking
   * on each of a burst's back-to-back claims read the thousands armed by the earlier ones again
   * every time (issue #9: a quarter of a million rows over a 10,000-fire burst).
   */
  private async cycle(burst: boolean): Promise<number> {
    const checkLeases = !burst || Date.now() - this.leasesCheckedAt >= this.options.pollIntervalMs;
    // The lease check (drop armed fires that were withdrawn or taken over) runs beside
    // the claim, not before it: each is a round trip, and on a busy machine a round trip takes
    // hundreds of milliseconds, so in series they held the claim back until its fires were due.
    const leases = checkLeases
      ? this.dropLostFires().catch((error) => this.logger.warn(`checking leases failed, will retry: ${(error as Error).message}`))
      : undefined;
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
    const orders: LaunchOrder[] = [];
    const extended: Array<[string, number]> = [];
    for (const fire of fires) {
      const sealed = secrets.get(fire.id);
      const sendAt = deferred.get(fire.id);
      // A slot beyond the window was handed back to the table; it is claimed again nearer the time.
      if (!sealed || (sendAt && sendAt.getTime() > nowMs + this.options.lookAheadMs)) continue;
      const leaseDeadline = claimSentAt + fire.lease_ms_left;
      // One still launched or being recorded here whose lease had lapsed: the claim took it back.
      if (this.launched.has(fire.id) || this.leaseDeadlines.has(fire.id)) {
        this.leaseDeadlines.set(fire.id, leaseDeadline);
        extended.push([fire.id, leaseDeadline]);
        continue;
      }
      try {
        orders.push(this.prepare(sendAt ? { ...fire, fire_at: sendAt, deferred_kind: 'rate_limited' } : fire, sealed, leaseDeadline));
      } catch (error) {
        // e.g. a secret sealed with another SCHEDSTACK_SECRETS_KEY: never sent unsigned.
        this.logger.error(`cannot prepare ${fire.delivery_id}: ${(error as Error).message}`);
        unarmed.push(fire.id);
      }
    }
    this.launcher.extend(extended);
    this.launcher.arm(orders);
    await this.dueFires.release(unarmed).catch(() => undefined);
    // Only what was armed counts towards a full batch: fires handed back (unsigned, unpreparable,
    // rate-limit failure) would be claimed again at once and spin the loop.
    return orders.length;
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

  /**
   * Disarms armed fires that were withdrawn or whose lease another replica took. Only fires whose
   * time has not come are checked: one whose timer went off is on its way, or waiting its turn for
   * a connection in a burst, and a fire is due before a pause or cancel seen after that instant
   * (the lease keeper still finds it gone at its next renewal). Checking those too read every fire
   * of a burst ten times a second until each was recorded (issue #9).
   */
  private async dropLostFires(): Promise<void> {
    this.leasesCheckedAt = Date.now();
    const now = this.clock.now().getTime();
    const ids: string[] = [];
    for (const [id, launched] of this.launched) if (launched.sendAtMs > now && this.leaseDeadlines.has(id)) ids.push(id);
    if (ids.length === 0) return;
    this.disarm(await this.dueFires.lost(ids));
  }

  /** Renews every lease with less than half a lease left (fires launched, in flight, or being recorded). */
  private keepLeases(): Promise<void> {
    if (this.keeping) return this.keeping;
    const sentAt = Date.now();
    const due = [...this.leaseDeadlines].filter(([, deadline]) => deadline - sentAt < this.options.leaseMs / 2).map(([id]) => id);
    if (due.length === 0) return Promise.resolve();
    this.keeping = this.dueFires
      .renew(due)
      .then((renewed) => {
        const extended: Array<[string, number]> = [];
        const lost: string[] = [];
        for (const id of due) {
          // Settled meanwhile: nothing to keep.
          if (!this.leaseDeadlines.has(id)) continue;
          if (renewed.has(id)) {
            this.leaseDeadlines.set(id, sentAt + this.options.leaseMs);
            extended.push([id, sentAt + this.options.leaseMs]);
          } else lost.push(id); // Done, withdrawn, or (its lease having lapsed after all) another replica's now.
        }
        this.launcher.extend(extended);
        this.disarm(lost);
      })
      .catch((error) => this.logger.warn(`renewing ${due.length} leases failed, will retry: ${(error as Error).message}`))
      .finally(() => {
        this.keeping = null;
      });
    return this.keeping;
  }

  /** The launch order of a claimed fire: its request with the Sched-* headers and signatures, signed now for its send time. */
  private prepare(fire: ClaimedFire, secrets: SealedSecrets, leaseDeadline: number): LaunchOrder {
    const now = this.clock.now();
    const fireKind: FireKind = fire.claims > 1 ? 'reclaim' : fire.deferred_kind ?? fire.fire_kind;
    const sendAt = Math.max(now.getTime(), new Date(fire.fire_at).getTime());
    const headers = this.headersFor(fire, secrets, sendAt);
    const policy = retryPolicyOf(fire.policy);
    const breaker = fire.policy?.breaker;
    this.launched.set(fire.id, { fire, fireKind, policy, sendAtMs: sendAt });
    this.leaseDeadlines.set(fire.id, leaseDeadline);
    if (fireKind === 'reclaim') countReclaim(fire.environment);
    return {
      id: fire.id,
      atMs: sendAt,
      leaseDeadline,
      request: { url: fire.request.endpoint, method: fire.request.method, headers, body: fire.request.body, timeoutMs: policy.timeoutMs },
      mocked: isMocked(fire),
      breaker: breaker ? { key: originKey(fire), settings: { failureThreshold: breaker.failure_threshold, coolDownMs: breaker.cool_down_ms } } : null,
    };
  }

  /** Stops renewing the fires and has the launcher drop those it has not sent (it reports them `dropped`). */
  private disarm(ids: readonly string[]): void {
    const armed = ids.filter((id) => this.leaseDeadlines.delete(id) && this.launched.has(id));
    this.launcher.disarm(armed);
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

  private onReports(reports: readonly LaunchReport[]): void {
    const lapsed: string[] = [];
    for (const report of reports) {
      const launched = this.launched.get(report.id);
      if (!launched) continue;
      const settled = () => this.leaseDeadlines.delete(report.id);
      switch (report.kind) {
        case 'lapsed':
          // Not yet disarmed: the launcher holds it until a renewal says whether it is still ours.
          if (this.leaseDeadlines.has(report.id)) lapsed.push(report.id);
          continue;
        case 'dropped':
          settled();
          break;
        case 'deferred':
          this.recorder.defer({ id: report.id, at: new Date(report.untilMs), kind: 'breaker_deferred' });
          settled();
          break;
        case 'mocked': {
          const at = new Date(report.at);
          this.record(launched, at, at, 0, { kind: 'response', status: MOCKED_RESPONSE.status, headers: {}, body: MOCKED_RESPONSE.body }, true, settled);
          break;
        }
        case 'sent':
          this.record(launched, new Date(report.firedAt), new Date(report.endedAt), report.durationMs, report.result, false, settled);
          break;
      }
      this.launched.delete(report.id);
    }
    if (lapsed.length > 0) {
      const work = this.resumeIfStillHeld(lapsed).finally(() => this.renewing.delete(work));
      this.renewing.add(work);
    }
    if (this.launched.size === 0 && this.onAllReported) {
      this.onAllReported();
      this.onAllReported = null;
    }
  }

  /** Fires whose lease ran out before their timer (a stalled loop, failing renewals): sent only if a renewal proves them still ours. */
  private async resumeIfStillHeld(ids: readonly string[]): Promise<void> {
    const renewedAt = Date.now();
    const renewed = await this.dueFires.renew(ids).catch((error) => {
      this.logger.warn(`renewing ${ids.length} lapsed leases failed; their fires go to whoever claims them next: ${(error as Error).message}`);
      return new Set<string>();
    });
    const lost: string[] = [];
    for (const id of ids) {
      if (renewed.has(id) && this.leaseDeadlines.has(id)) {
        this.leaseDeadlines.set(id, renewedAt + this.options.leaseMs);
        this.launcher.resume(id, renewedAt + this.options.leaseMs);
      } else lost.push(id);
    }
    for (const id of lost) this.leaseDeadlines.delete(id);
    // Disarmed in the launcher directly: their deadlines are gone already.
    this.launcher.disarm(lost);
  }

  private record(launched: LaunchedFire, firedAt: Date, endedAt: Date, durationMs: number, result: OutboundResult, mocked: boolean, settled: () => void): void {
    const { fire, fireKind } = launched;
    const scope: Scope = { projectId: fire.project_id, environment: fire.environment };
    const step = nextAttempt(launched.policy, fire.round_attempt, toAttemptResult(result, endedAt), endedAt, Math.random);
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

/** What the attempt shows as `error`: transport failures, refusals, and redirects (never followed). */
function errorOf(result: OutboundResult): string | null {
  if (result.kind !== 'response') return result.error;
  if (result.status >= 300 && result.status < 400) {
    const location = result.headers.location;
    return `redirect not followed: ${result.status}${location ? ` to ${Array.isArray(location) ? location[0] : location}` : ''}`;
  }
  return null;
}
