import { Logger } from '@nestjs/common';
import { type Environment, newId, streamName } from '@schedstack/contracts';
import type { EventStore } from '@schedstack/event-store';
import { type Clock, handleCommand } from '@schedstack/platform';
import { scheduleDecider } from '@schedstack/schedules-domain';
import type { Pool } from 'pg';

export interface PlannerOptions {
  readonly intervalMs: number;
  /** Schedules looked at per pass, and how many are planned at once. */
  readonly batchSize: number;
  readonly concurrency: number;
}

export const DEFAULT_PLANNER_OPTIONS: PlannerOptions = { intervalMs: 250, batchSize: 500, concurrency: 8 };

/**
 * SPEC §3: keeps every active schedule's fires planned. Each pass finds the schedules whose
 * `plan_at` has come (read model) and sends each the decider's `plan` command. Replicas need no
 * lock: two planners deciding for one schedule race on the stream's expected revision, and the
 * loser decides again on the new state, where nothing is left to plan.
 */
export class SchedulePlanner {
  private readonly logger = new Logger('planner');
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly pool: Pool,
    private readonly store: EventStore,
    private readonly clock: Clock,
    private readonly options: PlannerOptions = DEFAULT_PLANNER_OPTIONS,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.options.intervalMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One pass; a pass still running when the next tick comes is not doubled. */
  tick(): Promise<void> {
    this.running ??= this.pass()
      .catch((error) => this.logger.warn(`planning pass failed, will retry: ${(error as Error).message}`))
      .finally(() => (this.running = null));
    return this.running;
  }

  private async pass(): Promise<void> {
    const { rows } = await this.pool.query<{ project_id: string; environment: Environment; id: string }>(
      `SELECT project_id, environment, id FROM sch_schedules WHERE state = 'active' AND plan_at <= $1 ORDER BY plan_at LIMIT $2`,
      [this.clock.now(), this.options.batchSize],
    );
    for (let i = 0; i < rows.length; i += this.options.concurrency) {
      await Promise.all(rows.slice(i, i + this.options.concurrency).map((row) => this.plan(row)));
    }
  }

  private async plan(row: { project_id: string; environment: Environment; id: string }): Promise<void> {
    try {
      await handleCommand(
        this.store,
        streamName({ projectId: row.project_id, environment: row.environment }, 'schedule', row.id),
        scheduleDecider,
        { type: 'plan', data: { newDeliveryId: () => newId('dlv') } },
        () => this.clock.now(),
      );
    } catch (error) {
      // One schedule failing must not hold up the others; it is retried on the next pass.
      this.logger.warn(`planning ${row.id} failed: ${(error as Error).message}`);
    }
  }
}
