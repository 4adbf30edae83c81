import { createHash } from 'node:crypto';
import { type Scope, streamName, type UserView } from '@schedstack/contracts';
import type { Pool } from 'pg';

/** Users and sessions are global, not per project: their streams live under this reserved scope. */
export const PLATFORM_SCOPE: Scope = { projectId: '_platform', environment: 'live' };

/** E-mail addresses compare case-insensitively; they are stored in this form. */
export const normalizeEmail = (email: string): string => email.trim().toLowerCase();

/** One stream per e-mail address, so "one user per e-mail" is the stream's expected revision. */
export const userStream = (email: string): string =>
  streamName(PLATFORM_SCOPE, 'user', createHash('sha256').update(normalizeEmail(email)).digest('hex').slice(0, 32));

export interface UserRow {
  readonly id: string;
  readonly email: string;
  readonly password_hash: string;
  readonly created_at: Date;
}

export async function findUserByEmail(pool: Pool, email: string): Promise<UserRow | null> {
  const { rows } = await pool.query<UserRow>(`SELECT id, email, password_hash, created_at FROM env_users WHERE lower(email) = $1`, [normalizeEmail(email)]);
  return rows[0] ?? null;
}

export function userView(row: Pick<UserRow, 'id' | 'email' | 'created_at'>): UserView {
  return { id: row.id, object: 'user', email: row.email, created_at: new Date(row.created_at).toISOString() };
}
