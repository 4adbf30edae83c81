import { ApiError } from '@schedstack/contracts';
import { Logger } from '@nestjs/common';
import {
  comparePositions,
  type Position,
  type RecordedEvent,
  START,
  type Subscription,
} from '@schedstack/event-store';
import type { EventFeed, FeedEvent } from '@schedstack/messaging';
import { escapeLiteral } from 'pg';
import type { Pool, PoolClient, QueryResult } from 'pg';
import type { Migration } from './database';

/** A read model: which events it folds, and how each one changes its rows. */
export interface ProjectionDefinition {
  /** Unique name; also the feed consumer name and the checkpoint key. */
  readonly name: string;
  readonly types: readonly string[];
  /** Applies one event inside the projection's transaction. Must only touch the owner's tables. */
  apply(client: PoolClient, event: RecordedEvent): Promise<void>;
  /**
   * Optional, for hot projections: applies consecutive events (in order, none applied before) in
   * one go, e.g. as one multi-row insert. Without it each event goes through `apply`.
   */
  applyBatch?(client: PoolClient, events: readonly RecordedEvent[]): Promise<void>;
}

/** How long a read-your-writes wait trusts this process's own position before also reading the stored one. */
const STORED_CHECKPOINT_RECHECK_MS = 250;

export const CHECKPOINT_MIGRATIONS: readonly Migration[] = [
  {
    id: '001_projection_checkpoints',
    sql: `CREATE TABLE IF NOT EXISTS projection_checkpoints (
            name text PRIMARY KEY,
            commit_position bigint NOT NULL,
            prepare_position bigint NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now())`,
  },
  {
    // The feed's sequence (JetStream stream sequence) of the event at the checkpoint, so a restart
    // resumes right after it instead of re-reading the stream. Null: unknown, read from the start.
    id: '002_projection_checkpoint_stream_sequence',
    sql: `ALTER TABLE projection_checkpoints ADD COLUMN IF NOT EXISTS stream_sequence bigint`,
  },
];

/** A projection's stored checkpoint: the last applied event's position, and its feed sequence. */
export interface ProjectionCheckpoint {
  readonly position: Position;
  readonly streamSequence: number | null;
}

/**
 * Runs a projection over an at-least-once feed exactly once (SPEC §1). Each batch from the feed is
 * applied in one transaction: lock the checkpoint row, drop events at or before it, apply the rest
 * in order, move the checkpoint to the last one. A redelivered event is thus never applied twice;
 * a failed batch rolls back whole and the feed retries it, so nothing is skipped. Replicas of one
 * projection may all run: the row lock serialises their batches, and the later one skips.
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
    private readonly options: {
      readonly maxBatch?: number;
      /** How long a read-your-writes wait trusts this process's position before reading the stored one. */
      readonly storedCheckpointRecheckMs?: number;
    } = {},
  ) {
    this.logger = new Logger(`projection:${definition.name}`);
  }

  async start(): Promise<void> {
    const stored = await this.readCheckpoint();
    this.position = stored.position;
    this.subscription = await this.feed.subscribe({
      consumer: this.definition.name,
      types: this.definition.types,
      after: stored.position,
      afterSequence: stored.streamSequence,
      maxBatch: this.options.maxBatch,
      onEvents: (batch) => this.handle(batch),
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
   * Every replica consumes every event (applying or skipping it), so this process's own position
   * gets there and wakes the waiter; the stored checkpoint is read only when nothing woke it for
   * a while (a safety net), not on a timer per waiting request.
   */
  async waitFor(position: Position, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (comparePositions(this.position, position) < 0) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        // The write is committed; its read model lags (e.g. the broker is reconnecting): a 503, not a 500.
        this.logger.warn(`projection ${this.definition.name} did not reach the write within ${timeoutMs} ms`);
        throw ApiError.unavailable('The change was saved but is not readable yet; retry the read in a moment.');
      }
      const woken = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          resolve(false);
        }, Math.min(this.options.storedCheckpointRecheckMs ?? STORED_CHECKPOINT_RECHECK_MS, remaining));
        const waiter = {
          position,
          resolve: () => {
            clearTimeout(timer);
            resolve(true);
          },
        };
        this.waiters.push(waiter);
      });
      if (!woken && comparePositions((await this.readCheckpoint()).position, position) >= 0) return;
    }
  }

  /**
   * One transaction per batch, in as few round trips as it takes: `BEGIN` goes with the lock of the
   * checkpoint, and the checkpoint's update with `COMMIT` (simple-protocol strings of two statements,
   * their values inlined: a name of ours and numbers). Each round trip is a socket write and a
   * wake-up of PostgreSQL, and the projections' six per batch were a sixth of the local profile's
   * statements under the API workload (issue #9). An error in either string stops it there, and the
   * transaction is rolled back as before.
   */
  private async handle(batch: readonly FeedEvent[]): Promise<void> {
    // What this runner committed itself needs no transaction to be skipped.
    const fresh = batch.filter(({ event }) => comparePositions(event.position, this.position) > 0);
    if (fresh.length === 0) return;
    const client = await this.pool.connect();
    let reached: Position;
    try {
      let checkpoint = await this.beginAndLockCheckpoint(client);
      const todo: FeedEvent[] = [];
      for (const item of fresh) {
        // Applied by a replica, or out of order: the checkpoint only moves forward.
        if (comparePositions(item.event.position, checkpoint) <= 0) continue;
        todo.push(item);
        checkpoint = item.event.position;
      }
      if (todo.length > 0) {
        if (this.definition.applyBatch) {
          await this.definition.applyBatch(client, todo.map(({ event }) => event));
        } else {
          for (const { event } of todo) await this.definition.apply(client, event);
        }
        const last = todo[todo.length - 1];
        await client.query(
          `UPDATE projection_checkpoints SET commit_position = ${last.event.position.commit}, prepare_position = ${last.event.position.prepare},
                  stream_sequence = ${last.sequence === null ? 'NULL' : Math.trunc(last.sequence)}, updated_at = now()
            WHERE name = ${this.nameLiteral}; COMMIT`,
        );
      } else {
        await client.query('COMMIT');
      }
      reached = checkpoint;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
    this.advance(reached);
  }

  /** The projection's name as an SQL literal, for the strings that cannot take parameters. */
  private get nameLiteral(): string {
    return escapeLiteral(this.definition.name);
  }

  /**
   * Opens the batch's transaction, locks the checkpoint row and reads it. A missing row is created
   * first: FOR UPDATE locks nothing on a missing row, and two replicas inserting their first
   * checkpoint would both apply.
   */
  private async beginAndLockCheckpoint(client: PoolClient): Promise<Position> {
    const select = `SELECT commit_position, prepare_position FROM projection_checkpoints WHERE name = ${this.nameLiteral} FOR UPDATE`;
    const results = (await client.query(`BEGIN; ${select}`)) as unknown as QueryResult<{ commit_position: string; prepare_position: string }>[];
    let { rows } = results[1];
    if (!rows[0]) {
      // A concurrent insert makes this one wait for it, then do nothing; the select then sees it.
      await client.query(
        `INSERT INTO projection_checkpoints (name, commit_position, prepare_position) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`,
        [this.definition.name, START.commit.toString(), START.prepare.toString()],
      );
      ({ rows } = await client.query<{ commit_position: string; prepare_position: string }>(select));
    }
    return { commit: BigInt(rows[0].commit_position), prepare: BigInt(rows[0].prepare_position) };
  }

  private advance(position: Position): void {
    if (comparePositions(position, this.position) > 0) this.position = position;
    const ready = this.waiters.filter((w) => comparePositions(this.position, w.position) >= 0);
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
  }

  private async readCheckpoint(): Promise<ProjectionCheckpoint> {
    const { rows } = await this.pool.query<{ commit_position: string; prepare_position: string; stream_sequence: string | null }>(
      `SELECT commit_position, prepare_position, stream_sequence FROM projection_checkpoints WHERE name = $1`,
      [this.definition.name],
    );
    if (!rows[0]) return { position: START, streamSequence: null };
    return {
      position: { commit: BigInt(rows[0].commit_position), prepare: BigInt(rows[0].prepare_position) },
      streamSequence: rows[0].stream_sequence === null ? null : Number(rows[0].stream_sequence),
    };
  }
}
