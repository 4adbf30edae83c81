import { DomainError, type DomainEvent, type MemberRole } from '@schedstack/contracts';

/** SPEC §2 projects and their members. Users and roles are global, so they live in `live`. */

export type ProjectCommand =
  | { readonly type: 'create'; readonly data: { projectId: string; name: string } }
  | { readonly type: 'add_member'; readonly data: { userId: string; email: string; role: MemberRole } };

export type ProjectEvent = DomainEvent<'project.created' | 'member.added'>;

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
      if (state.members[command.data.userId]) {
        throw new DomainError('conflict', 'member_exists', `${command.data.email} is already a member of this project`, 'email');
      }
      return [
        {
          type: 'member.added',
          data: { project_id: state.projectId, user_id: command.data.userId, email: command.data.email, role: command.data.role, created_at: now.toISOString() },
        },
      ];
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
    default: {
      const unreachable: never = event;
      throw new Error(`unknown event ${JSON.stringify(unreachable)}`);
    }
  }
}

export const projectDecider = { initialState, decide, evolve };
