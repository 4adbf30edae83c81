import type { MemberRole } from './events';
import type { Environment, Scope } from './scope';

/**
 * SPEC §2 who may do what. One table, read by the gateway's guard for every request and printed
 * in docs/environments.md; the end-to-end role matrix tests each cell.
 */
export const PERMISSIONS = ['read', 'write', 'manage_keys', 'manage_config', 'clone', 'manage_members', 'edit_limits'] as const;
export type Permission = (typeof PERMISSIONS)[number];

export const MEMBER_ROLES: readonly MemberRole[] = ['owner', 'admin', 'developer', 'viewer'];

export const ROLE_PERMISSIONS: { readonly [R in MemberRole]: readonly Permission[] } = {
  owner: ['read', 'write', 'manage_keys', 'manage_config', 'clone', 'manage_members', 'edit_limits'],
  admin: ['read', 'write', 'manage_keys', 'manage_config', 'clone', 'manage_members'],
  developer: ['read', 'write', 'manage_keys', 'manage_config'],
  viewer: ['read'],
};

/**
 * A secret key has full access within its environment, like a Stripe secret key; what reaches
 * across environments or governs the project (clone, members, limits) needs a live key.
 */
export const LIVE_KEY_ONLY: readonly Permission[] = ['clone', 'manage_members', 'edit_limits'];

/** Who is calling, as the gateway's guard established it. */
export type Caller =
  | { readonly kind: 'api_key'; readonly key_id: string }
  | { readonly kind: 'session'; readonly session_id: string; readonly user_id: string; readonly role: MemberRole };

export interface Denial {
  readonly code: 'insufficient_permissions' | 'permissions_managed_in_live';
  readonly message: string;
}

/** Whether `caller` may use `permission` in `environment`: null when allowed, else why not (a 403). */
export function denialOf(caller: Caller, environment: Environment, permission: Permission): Denial | null {
  if (permission === 'manage_members' && environment !== 'live') {
    return {
      code: 'permissions_managed_in_live',
      message: `Members and roles are global to the project and edited through live; in ${environment} they are read-only.`,
    };
  }
  if (caller.kind === 'api_key') {
    if (environment === 'live' || !LIVE_KEY_ONLY.includes(permission)) return null;
    return { code: 'insufficient_permissions', message: `A ${environment} key may not ${describe(permission)}: use a live key or an owner/admin session.` };
  }
  if (ROLE_PERMISSIONS[caller.role].includes(permission)) return null;
  return { code: 'insufficient_permissions', message: `The ${caller.role} role may not ${describe(permission)}.` };
}

function describe(permission: Permission): string {
  return {
    read: 'read this project',
    write: 'create or change schedules, deliveries and dataset rows',
    manage_keys: 'manage API keys',
    manage_config: 'change configuration',
    clone: 'clone configuration between environments',
    manage_members: 'manage members',
    edit_limits: 'edit limits',
  }[permission];
}

// ── sessions ──────────────────────────────────────────────────────────────────
export interface LoginCommand {
  readonly email: string;
  readonly password: string;
}
export interface UserView {
  readonly id: string;
  readonly object: 'user';
  readonly email: string;
  readonly created_at: string;
}
/** `POST /v1/sessions`: the token is shown here only; the service keeps its hash. */
export interface SessionCreated {
  readonly object: 'session';
  readonly token: string;
  readonly user: UserView;
  readonly expires_at: string;
}
export interface SessionTokenQuery {
  readonly token: string;
}
export interface VerifiedSession {
  /** The digest the session is stored under (never the token). */
  readonly session_id: string;
  readonly user: UserView;
  readonly memberships: readonly { readonly project_id: string; readonly role: MemberRole }[];
  readonly expires_at: string;
}

// ── members ───────────────────────────────────────────────────────────────────
export interface MemberView {
  /** The user's id. */
  readonly id: string;
  readonly object: 'member';
  readonly mode: Environment;
  readonly email: string;
  readonly role: MemberRole;
  readonly created_at: string;
}
/** `POST /v1/members` on a new e-mail: the generated password is shown in this response only. */
export interface MemberAdded extends MemberView {
  readonly password: string | null;
}
export interface ListMembersQuery {
  readonly scope: Scope;
  readonly limit: number;
  readonly starting_after?: string;
}
export interface AddMemberCommand {
  readonly scope: Scope;
  readonly caller: Caller;
  readonly email: string;
  readonly role: MemberRole;
}
export interface UpdateMemberCommand {
  readonly scope: Scope;
  readonly caller: Caller;
  readonly user_id: string;
  readonly role: MemberRole;
}
export interface RemoveMemberCommand {
  readonly scope: Scope;
  readonly caller: Caller;
  readonly user_id: string;
}

// ── API keys ──────────────────────────────────────────────────────────────────
export interface ApiKeyView {
  readonly id: string;
  readonly object: 'api_key';
  readonly mode: Environment;
  readonly name: string | null;
  readonly last4: string;
  readonly created_at: string;
}
/** `POST /v1/api-keys`: the secret is in this response only. */
export interface ApiKeyCreated extends ApiKeyView {
  readonly secret: string;
}
export interface MintApiKeyCommand {
  readonly scope: Scope;
  readonly name: string | null;
}
export interface ListApiKeysQuery {
  readonly scope: Scope;
  readonly limit: number;
  readonly starting_after?: string;
}
export interface RevokeApiKeyCommand {
  readonly scope: Scope;
  readonly id: string;
}
