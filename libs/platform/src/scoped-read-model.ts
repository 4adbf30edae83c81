import type { ListResult, Scope } from '@schedstack/contracts';
import type { Pool } from 'pg';

/**
 * SPEC §2 query-layer isolation, in one place: every read-model table has
 * (project_id, environment, id, view jsonb, created_at), and every read goes through this class,
 * whose methods take the caller's Scope first. No handler writes its own WHERE for scoping.
 */
export class ScopedReadModel<View> {
  constructor(
    private readonly pool: Pool,
    private readonly table: string,
    /** API filter name → column; anything else is refused by the caller's validation. */
    private readonly filterColumns: Readonly<Record<string, string>> = {},
  ) {
    if (!/^[a-z_]+$/.test(table)) throw new Error(`bad table name ${table}`);
  }

  async get(scope: Scope, id: string): Promise<View | null> {
    const { rows } = await this.pool.query<{ view: View }>(
      `SELECT view FROM ${this.table} WHERE project_id = $1 AND environment = $2 AND id = $3`,
      [scope.projectId, scope.environment, id],
    );
    return rows[0]?.view ?? null;
  }

  /** Newest first, Stripe-style cursor: `starting_after` is the id of the last item already seen. */
  async list(
    scope: Scope,
    query: { limit: number; starting_after?: string; filters?: Readonly<Record<string, string | undefined>> },
  ): Promise<ListResult<View>> {
    const params: unknown[] = [scope.projectId, scope.environment];
    const where = ['project_id = $1', 'environment = $2'];
    for (const [name, value] of Object.entries(query.filters ?? {})) {
      if (value === undefined) continue;
      const column = this.filterColumns[name];
      if (!column) throw new Error(`filter ${name} is not declared for ${this.table}`);
      params.push(value);
      where.push(`${column} = $${params.length}`);
    }
    if (query.starting_after) {
      params.push(query.starting_after);
      // The cursor row is looked up within the same scope, so another environment's id matches nothing.
      where.push(
        `(created_at, id) < (SELECT created_at, id FROM ${this.table} WHERE project_id = $1 AND environment = $2 AND id = $${params.length})`,
      );
    }
    params.push(query.limit + 1);
    const { rows } = await this.pool.query<{ view: View }>(
      `SELECT view FROM ${this.table} WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
      params,
    );
    return { object: 'list', data: rows.slice(0, query.limit).map((r) => r.view), has_more: rows.length > query.limit };
  }
}
