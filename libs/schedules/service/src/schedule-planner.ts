import { Logger } from '@nestjs/common';
import { type Environment, newId, streamName } from '@schedstack/contracts';
import type { EventStore } from '@schedstack/event-store';
import { type Clock, handleCommands } from '@schedstack/platform';
import { scheduleDecider } from '@schedstack/schedules-domain';
import type { Pool } from 'pg';

export interface PlannerOptions {
  readonly intervalMs: number;
  /** Schedules looked at per pass (planned in chunks, each one read and one append). */
  readonly batchSize: number;
}

export const DEFAULT_PLANNER_OPTIONS: PlannerOptions = { intervalMs: 250, batchSize: 500 };

/** Schedules decided together: one read of their streams and one append. */
const PLAN_CHUNK = 50;

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
    // In chunks: a recurring schedule's stream grows with every fire, and all of a chunk's streams are read at once.
    for (let i = 0; i < rows.length; i += PLAN_CHUNK) {
      const chunk = rows.slice(i, i + PLAN_CHUNK);
      const outcomes = await handleCommands(
        this.store,
        scheduleDecider,
        chunk.map((row) => ({
          stream: streamName({ projectId: row.project_id, environment: row.environment }, 'schedule', row.id),
          command: { type: 'plan' as const, data: { newDeliveryId: () => newId('dlv') } },
        })),
        () => this.clock.now(),
      );
      // One schedule failing must not hold up the others; it is retried on the next pass.
      outcomes.forEach((outcome, n) => {
        if (outcome instanceof Error) this.logger.warn(`planning ${chunk[n].id} failed: ${outcome.message}`);
      });
    }
  }
}
