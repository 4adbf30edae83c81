import { Logger } from '@nestjs/common';
import {
  comparePositions,
  type Position,
  type RecordedEvent,
  START,
  type Subscription,
} from '@schedstack/event-store';
import type { EventFeed } from '@schedstack/messaging';
import type { Pool, PoolClient } from 'pg';
import { inTransaction, type Migration } from './database';

/** A read model: which events it folds, and how each one changes its rows. */
export interface ProjectionDefinition {
  /** Unique name; also the durable consumer name and the checkpoint key. */
  readonly name: string;
  readonly types: readonly string[];
  /** Applies one event inside the projection's transaction. Must only touch the owner's tables. */
  apply(client: PoolClient, event: RecordedEvent): Promise<void>;
}

export const CHECKPOINT_MIGRATIONS: readonly Migration[] = [
  {
    id: '001_projection_checkpoints',
    sql: `CREATE TABLE IF NOT EXISTS projection_checkpoints (
            name text PRIMARY KEY,
            commit_position bigint NOT NULL,
            prepare_position bigint NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now())`,
  },
];

/**
 * Runs a projection over an at-least-once feed exactly once (SPEC §1): each event's rows and the
 * checkpoint are written in one transaction, and an event at or before the checkpoint is skipped,
 * so a redelivered event is never applied twice.
 */
export class ProjectionRunner {
  private readonly logger: Logger;
  private subscription: Subscription | null = null;
  private position: Position = START;
  private waiters: { position: Position; resolve: () => void }[] = [];

  constructor(
    private readonly pool: Pool,
    private readonly feed: EventFeed,
    readonly definition: ProjectionDefinition,
  ) {
    this.logger = new Logger(`projection:${definition.name}`);
  }

  async start(): Promise<void> {
    this.position = await this.readCheckpoint();
    this.subscription = await this.feed.subscribe({
      consumer: this.definition.name,
      types: this.definition.types,
      after: this.position,
      onEvent: (event) => this.handle(event),
      onError: (error) => this.logger.warn(`retrying after error: ${(error as Error).message ?? error}`),
    });
  }

  async stop(): Promise<void> {
    await this.subscription?.close();
    this.subscription = null;
  }

  get checkpoint(): Position {
    return this.position;
  }

  /**
   * Resolves once the projection has applied everything up to `position` (read-your-writes).
   * Replicas share one durable consumer, so the event may be applied by another process: the
   * stored checkpoint is consulted too.
   */
  async waitFor(position: Position, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (comparePositions(this.position, position) < 0) {
      const stored = await this.readCheckpoint();
      if (comparePositions(stored, position) >= 0) return;
      if (Date.now() > deadline) {
        throw new Error(`projection ${this.definition.name} did not reach the write within ${timeoutMs} ms`);
      }
      await new Promise<void>((resolve) => {
        const waiter = { position, resolve };
        this.waiters.push(waiter);
        setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          resolve();
        }, 25);
      });
    }
  }

  private async handle(event: RecordedEvent): Promise<void> {
    const applied = await inTransaction(this.pool, async (client) => {
      const { rows } = await client.query<{ commit_position: string; prepare_position: string }>(
        `SELECT commit_position, prepare_position FROM projection_checkpoints WHERE name = $1 FOR UPDATE`,
        [this.definition.name],
      );
      const current = rows[0]
        ? { commit: BigInt(rows[0].commit_position), prepare: BigInt(rows[0].prepare_position) }
        : START;
      if (comparePositions(event.position, current) <= 0) return false;
      await this.definition.apply(client, event);
      await client.query(
        `INSERT INTO projection_checkpoints (name, commit_position, prepare_position) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET commit_position = $2, prepare_position = $3, updated_at = now()`,
        [this.definition.name, event.position.commit.toString(), event.position.prepare.toString()],
      );
      return true;
    });
    if (applied || comparePositions(event.position, this.position) > 0) this.advance(event.position);
  }

  private advance(position: Position): void {
    if (comparePositions(position, this.position) > 0) this.position = position;
    const ready = this.waiters.filter((w) => comparePositions(this.position, w.position) >= 0);
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
  }

  private async readCheckpoint(): Promise<Position> {
    const { rows } = await this.pool.query<{ commit_position: string; prepare_position: string }>(
      `SELECT commit_position, prepare_position FROM projection_checkpoints WHERE name = $1`,
      [this.definition.name],
    );
    return rows[0] ? { commit: BigInt(rows[0].commit_position), prepare: BigInt(rows[0].prepare_position) } : START;
  }
}
