import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  type AttemptRecord,
  type EventDataMap,
  type FireKind,
  type HttpRequestSpec,
  type Scope,
  streamName,
} from '@schedstack/contracts';
import { DEFAULT_RETRY_POLICY, nextAttempt, parseRetryAfter, type RetryPolicy } from '@schedstack/dispatcher-domain';
import type { EventStore } from '@schedstack/event-store';
import type { Clock } from '@schedstack/platform';
import type { Pool } from 'pg';
import type { HttpSender, OutboundResult } from './http-sender';

interface ClaimedFire {
  readonly id: string;
  readonly delivery_id: string;
  readonly attempt: number;
  readonly project_id: string;
  readonly environment: Scope['environment'];
  readonly schedule_id: string;
  readonly fire_at: Date;
  readonly fire_kind: FireKind;
  readonly request: HttpRequestSpec;
  /** > 1 when an earlier holder's lease expired before it finished: SPEC §4 `reclaim`. */
  readonly claims: number;
}

export interface DispatchEngineOptions {
  /** How far ahead fires are claimed and armed on in-memory timers. */
  readonly lookAheadMs: number;
  readonly pollIntervalMs: number;
  readonly leaseMs: number;
  readonly batchSize: number;
  readonly userAgent: string;
  readonly retryPolicy: RetryPolicy;
}

export const DEFAULT_ENGINE_OPTIONS: Omit<DispatchEngineOptions, 'userAgent'> = {
  lookAheadMs: 1_000,
  pollIntervalMs: 100,
  leaseMs: 30_000,
  batchSize: 500,
  retryPolicy: DEFAULT_RETRY_POLICY,
};

/**
 * SPEC §4 firing: claims due fires with a lease (FOR UPDATE SKIP LOCKED, so any number of replicas
 * share the work), arms a timer for each, sends at the due instant, then records the attempt as an
 * event. Nothing but the timer sits between "due" and the socket.
 */
export class DispatchEngine {
  readonly workerId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly logger = new Logger('dispatcher');
  private readonly armed = new Map<string, NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<void>>();
  private poller: NodeJS.Timeout | null = null;
  private polling = false;
  private stopped = true;

  constructor(
    private readonly pool: Pool,
    private readonly store: EventStore,
    private readonly sender: HttpSender,
    private readonly clock: Clock,
    private readonly options: DispatchEngineOptions,
  ) {}

  start(): void {
    this.stopped = false;
    this.poller = setInterval(() => void this.poll(), this.options.pollIntervalMs);
    void this.poll();
  }

  /** Stops claiming, lets in-flight sends finish, and hands armed fires back for others to take. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.poller) clearInterval(this.poller);
    const released = [...this.armed.keys()];
    for (const timer of this.armed.values()) clearTimeout(timer);
    this.armed.clear();
    await Promise.allSettled([...this.inFlight]);
    if (released.length > 0) {
      await this.pool
        .query(`UPDATE dsp_due_fires SET lease_owner = NULL, lease_until = NULL, claims = claims - 1 WHERE id = ANY($1) AND lease_owner = $2`, [
          released,
          this.workerId,
        ])
        .catch(() => undefined);
    }
  }

  /** Claims fires due within the look-ahead window and arms a timer for each. */
  async poll(): Promise<void> {
    if (this.polling || this.stopped) return;
    this.polling = true;
    try {
      const { rows } = await this.pool.query<ClaimedFire>(
        `UPDATE dsp_due_fires f
            SET lease_owner = $1, lease_until = now() + make_interval(secs => $2::float8 / 1000), claims = f.claims + 1
          WHERE f.id IN (
            SELECT id FROM dsp_due_fires
             WHERE state = 'pending' AND fire_at <= now() + make_interval(secs => $3::float8 / 1000)
               AND (lease_until IS NULL OR lease_until < now())
             ORDER BY fire_at
             LIMIT $4
             FOR UPDATE SKIP LOCKED)
          RETURNING f.id, f.delivery_id, f.attempt, f.project_id, f.environment, f.schedule_id, f.fire_at, f.fire_kind, f.request, f.claims`,
        [this.workerId, this.options.leaseMs, this.options.lookAheadMs, this.options.batchSize],
      );
      for (const fire of rows) this.arm(fire);
    } catch (error) {
      this.logger.warn(`claiming due fires failed, will retry: ${(error as Error).message}`);
    } finally {
      this.polling = false;
    }
  }

  private arm(fire: ClaimedFire): void {
    if (this.armed.has(fire.id)) return;
    const wait = Math.max(0, new Date(fire.fire_at).getTime() - this.clock.now().getTime());
    const timer = setTimeout(() => {
      this.armed.delete(fire.id);
      const work = this.fire(fire).catch((error) => this.logger.error(`fire ${fire.delivery_id} failed: ${(error as Error).stack}`));
      this.inFlight.add(work);
      void work.finally(() => this.inFlight.delete(work));
    }, wait);
    this.armed.set(fire.id, timer);
  }

  private async fire(fire: ClaimedFire): Promise<void> {
    const scope: Scope = { projectId: fire.project_id, environment: fire.environment };
    const fireKind: FireKind = fire.claims > 1 ? 'reclaim' : fire.fire_kind;
    const headers: Record<string, string> = {
      ...fire.request.headers,
      'sched-delivery-id': fire.delivery_id,
      'sched-schedule-id': fire.schedule_id,
      'sched-attempt': String(fire.attempt),
      'sched-mode': fire.environment,
      'user-agent': this.options.userAgent,
    };
    const firedAt = this.clock.now();
    const started = performance.now();
    const result = await this.sender.send({
      url: fire.request.endpoint,
      method: fire.request.method,
      headers,
      body: fire.request.body,
      timeoutMs: this.options.retryPolicy.timeoutMs,
    });
    const durationMs = Math.round(performance.now() - started);
    await this.record(scope, fire, fireKind, firedAt, durationMs, result);
  }

  private async record(
    scope: Scope,
    fire: ClaimedFire,
    fireKind: FireKind,
    firedAt: Date,
    durationMs: number,
    result: OutboundResult,
  ): Promise<void> {
    const now = this.clock.now();
    const step = nextAttempt(
      this.options.retryPolicy,
      fire.attempt,
      result.kind === 'response'
        ? { kind: 'response', status: result.status, retryAfterMs: parseRetryAfter(headerValue(result.headers['retry-after']), now) }
        : { kind: result.kind },
      now,
      Math.random,
    );
    const attempt: AttemptRecord = {
      n: fire.attempt,
      fire_kind: fireKind,
      scheduled_for: new Date(fire.fire_at).toISOString(),
      fired_at: firedAt.toISOString(),
      status_code: result.kind === 'response' ? result.status : null,
      duration_ms: durationMs,
      response_body: result.kind === 'response' ? result.body : null,
      error: result.kind === 'response' ? null : result.error,
      mocked: false,
    };
    const data: EventDataMap['delivery.attempted'] = {
      delivery_id: fire.delivery_id,
      schedule_id: fire.schedule_id,
      attempt,
      state: step.kind === 'succeeded' ? 'succeeded' : step.kind === 'retry' ? 'retrying' : 'dead_lettered',
      next_attempt_at: step.kind === 'retry' ? step.retryAt.toISOString() : null,
    };
    await this.store.appendToStream(
      streamName(scope, 'delivery', fire.delivery_id),
      [{ id: randomUUID(), type: 'delivery.attempted', data }],
      'any',
    );
    await this.pool.query(`UPDATE dsp_due_fires SET state = 'done' WHERE id = $1`, [fire.id]);
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
