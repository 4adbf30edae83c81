import { DomainError, type DomainEvent, type MemberRole, ownValue } from '@schedstack/contracts';

/** SPEC §2 projects and their members. Users and roles are global, so they live in `live`. */

export type ProjectCommand =
  | { readonly type: 'create'; readonly data: { projectId: string; name: string } }
  | { readonly type: 'add_member'; readonly data: { userId: string; email: string; role: MemberRole } }
  | { readonly type: 'change_role'; readonly data: { userId: string; role: MemberRole } }
  | { readonly type: 'remove_member'; readonly data: { userId: string } };

export type ProjectEvent = DomainEvent<'project.created' | 'member.added' | 'member.role_changed' | 'member.removed'>;

export type ProjectState =
  | { readonly status: 'none' }
  | { readonly status: 'active'; readonly projectId: string; readonly members: Readonly<Record<string, MemberRole>> };

export const initialState = (): ProjectState => ({ status: 'none' });

export function decide(command: ProjectCommand, state: ProjectState, now: Date): ProjectEvent[] {
  switch (command.type) {
    case 'create':
      if (state.status !== 'none') throw new DomainError('conflict', 'project_exists', `Project ${command.data.projectId} already exists`);
      return [{ type: 'project.created', data: { project_id: command.data.projectId, name: command.data.name, created_at: now.toISOString() } }];
    case 'add_member':
      if (state.status === 'none') throw new DomainError('not_found', 'resource_missing', 'No such project');
      if (ownValue(state.members, command.data.userId)) {
        throw new DomainError('conflict', 'member_exists', `${command.data.email} is already a member of this project`, 'email');
      }
      return [
        {
          type: 'member.added',
          data: { project_id: state.projectId, user_id: command.data.userId, email: command.data.email, role: command.data.role, created_at: now.toISOString() },
        },
      ];
    case 'change_role': {
      const current = memberRole(state, command.data.userId);
      if (current === command.data.role) return [];
      if (current === 'owner') assertAnotherOwner(state, command.data.userId);
      return [
        {
          type: 'member.role_changed',
          data: { project_id: projectIdOf(state), user_id: command.data.userId, role: command.data.role, previous_role: current, changed_at: now.toISOString() },
        },
      ];
    }
    case 'remove_member': {
      if (memberRole(state, command.data.userId) === 'owner') assertAnotherOwner(state, command.data.userId);
      return [{ type: 'member.removed', data: { project_id: projectIdOf(state), user_id: command.data.userId, removed_at: now.toISOString() } }];
    }
    default: {
      const unreachable: never = command;
      throw new Error(`unknown command ${JSON.stringify(unreachable)}`);
    }
  }
}

export function evolve(state: ProjectState, event: ProjectEvent): ProjectState {
  switch (event.type) {
    case 'project.created':
      return { status: 'active', projectId: event.data.project_id, members: {} };
    case 'member.added':
      return state.status === 'none' ? state : { ...state, members: { ...state.members, [event.data.user_id]: event.data.role } };
    case 'member.role_changed':
      return state.status === 'none' ? state : { ...state, members: { ...state.members, [event.data.user_id]: event.data.role } };
    case 'member.removed': {
      if (state.status === 'none') return state;
      const { [event.data.user_id]: _removed, ...members } = state.members;
      return { ...state, members };
    }
    default: {
      const unreachable: never = event;
      throw new Error(`unknown event ${JSON.stringify(unreachable)}`);
    }
  }
}

function projectIdOf(state: ProjectState): string {
  if (state.status === 'none') throw new DomainError('not_found', 'resource_missing', 'No such project');
  return state.projectId;
}

function memberRole(state: ProjectState, userId: string): MemberRole {
  const role = state.status === 'active' ? ownValue(state.members, userId) : undefined;
  if (!role) throw new DomainError('not_found', 'resource_missing', `No such member: '${userId}'`, 'user');
  return role;
}

/** A project always keeps at least one owner. */
function assertAnotherOwner(state: ProjectState, userId: string): void {
  const owners = state.status === 'active' ? Object.entries(state.members).filter(([id, role]) => role === 'owner' && id !== userId) : [];
  if (owners.length === 0) throw new DomainError('conflict', 'last_owner', 'A project must keep at least one owner: make someone else owner first.', 'user');
}

/**
 * Only an owner (or a live key, acting for the project) may grant the owner role or change or
 * remove an owner; admins manage everyone else. Null when allowed, else the reason.
 */
export function ownerRuleDenial(caller: MemberRole | 'api_key', currentRole: MemberRole | null, newRole: MemberRole | null): string | null {
  if (caller === 'owner' || caller === 'api_key') return null;
  if (currentRole === 'owner') return 'Only an owner may change or remove an owner.';
  if (newRole === 'owner') return 'Only an owner may make someone an owner.';
  return null;
}

export const projectDecider = { initialState, decide, evolve };
