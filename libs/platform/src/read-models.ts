import type { EventFeed } from '@schedstack/messaging';
import type { Pool } from 'pg';
import { migrate, type Migration } from './database';
import { type ProjectionDefinition, ProjectionRunner } from './projection-runner';

/** A service's read models: creates its tables, then runs each projection until stopped. */
export class ReadModels {
  private readonly runners: ProjectionRunner[];

  constructor(
    private readonly pool: Pool,
    feed: EventFeed,
    private readonly owner: string,
    private readonly migrations: readonly Migration[],
    definitions: readonly ProjectionDefinition[],
  ) {
    this.runners = definitions.map((d) => new ProjectionRunner(pool, feed, d));
  }

  async start(): Promise<void> {
    await migrate(this.pool, this.owner, this.migrations);
    for (const runner of this.runners) await runner.start();
  }

  async stop(): Promise<void> {
    for (const runner of this.runners) await runner.stop();
  }

  runner(name: string): ProjectionRunner {
    const found = this.runners.find((r) => r.definition.name === name);
    if (!found) throw new Error(`no projection ${name} in ${this.owner}`);
    return found;
  }
}
