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
    /** Shapes a stored view for the API (jsonb does not keep key order). */
    private readonly present: (stored: View) => View = (v) => v,
  ) {
    if (!/^[a-z_]+$/.test(table)) throw new Error(`bad table name ${table}`);
  }

  async get(scope: Scope, id: string): Promise<View | null> {
    const { rows } = await this.pool.query<{ view: View }>(
      `SELECT view FROM ${this.table} WHERE project_id = $1 AND environment = $2 AND id = $3`,
      [scope.projectId, scope.environment, id],
    );
    return rows[0] ? this.present(rows[0].view) : null;
  }

  /** A view as `get` would return it once stored: a writer answering with it need not read it back. */
  asRead(view: View): View {
    return this.present(asStoredInJsonb(view));
  }

  /**
   * How many rows of the scope match: each filter allows any of its values (e.g. state ∈ {active,
   * paused}); `createdSince` counts only rows created at or after that instant.
   */
  async count(scope: Scope, filters: Readonly<Record<string, readonly string[]>> = {}, createdSince?: Date): Promise<number> {
    const params: unknown[] = [scope.projectId, scope.environment];
    const where = ['project_id = $1', 'environment = $2'];
    if (createdSince) {
      params.push(createdSince);
      where.push(`created_at >= $${params.length}`);
    }
    for (const [name, values] of Object.entries(filters)) {
      const column = this.filterColumns[name];
      if (!column) throw new Error(`filter ${name} is not declared for ${this.table}`);
      params.push(values);
      where.push(`${column} = ANY($${params.length})`);
    }
    const { rows } = await this.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${this.table} WHERE ${where.join(' AND ')}`, params);
    return Number(rows[0].n);
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
    return { object: 'list', data: rows.slice(0, query.limit).map((r) => this.present(r.view)), has_more: rows.length > query.limit };
  }
}

/** Returns `value` with the keys of `order` first, in that order, then any others (API key order). */
export function orderKeys<T extends object>(value: T, order: readonly (keyof T & string)[]): T {
  const out: Record<string, unknown> = {};
  for (const key of order) if (key in value) out[key] = (value as Record<string, unknown>)[key];
  for (const [key, v] of Object.entries(value)) if (!(key in out)) out[key] = v;
  return out as T;
}

/**
 * PostgreSQL's jsonb order of object keys: shorter keys first (in UTF-8 bytes), equal lengths
 * bytewise. A jsonb column gives objects back in this order, whatever order they were written in.
 */
function jsonbKeyOrder(a: string, b: string): number {
  const bytesA = Buffer.byteLength(a);
  const bytesB = Buffer.byteLength(b);
  if (bytesA !== bytesB) return bytesA - bytesB;
  // ASCII keys (the usual case): characters are bytes, so string order is byte order.
  if (bytesA === a.length && bytesB === b.length) return a < b ? -1 : a > b ? 1 : 0;
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function inJsonbKeyOrder(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(inJsonbKeyOrder);
  if (typeof value !== 'object' || value === null) return value;
  // fromEntries defines each key as an own property, `__proto__` included.
  return Object.fromEntries(
    Object.keys(value)
      .sort(jsonbKeyOrder)
      .map((key) => [key, inJsonbKeyOrder((value as Record<string, unknown>)[key])]),
  );
}

/** `value` as it comes back from a jsonb column it was written to: JSON only, object keys in jsonb order. */
export function asStoredInJsonb<T>(value: T): T {
  return inJsonbKeyOrder(JSON.parse(JSON.stringify(value))) as T;
}
