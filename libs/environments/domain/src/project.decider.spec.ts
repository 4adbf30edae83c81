import type { MemberRole } from '@schedstack/contracts';
import { ownerRuleDenial, type ProjectCommand, projectDecider, type ProjectEvent } from './project.decider';

const NOW = new Date('2026-05-01T10:00:00.000Z');
const created: ProjectEvent = { type: 'project.created', data: { project_id: 'prj_1', name: 'P', created_at: 't' } };
const member = (userId: string, role: MemberRole): ProjectEvent => ({
  type: 'member.added',
  data: { project_id: 'prj_1', user_id: userId, email: `${userId}@x`, role, created_at: 't' },
});

function given(events: readonly ProjectEvent[]) {
  const state = events.reduce(projectDecider.evolve, projectDecider.initialState());
  return { when: (command: ProjectCommand) => projectDecider.decide(command, state, NOW) };
}

describe('project members', () => {
  it('changes a role and records the previous one', () => {
    expect(given([created, member('usr_o', 'owner'), member('usr_d', 'developer')]).when({ type: 'change_role', data: { userId: 'usr_d', role: 'admin' } })).toEqual([
      { type: 'member.role_changed', data: { project_id: 'prj_1', user_id: 'usr_d', role: 'admin', previous_role: 'developer', changed_at: NOW.toISOString() } },
    ]);
  });

  it('records nothing when the role is already that', () => {
    expect(given([created, member('usr_o', 'owner')]).when({ type: 'change_role', data: { userId: 'usr_o', role: 'owner' } })).toEqual([]);
  });

  it('never demotes or removes the last owner', () => {
    const { when } = given([created, member('usr_o', 'owner'), member('usr_a', 'admin')]);
    expect(() => when({ type: 'change_role', data: { userId: 'usr_o', role: 'admin' } })).toThrow(expect.objectContaining({ code: 'last_owner' }));
    expect(() => when({ type: 'remove_member', data: { userId: 'usr_o' } })).toThrow(expect.objectContaining({ code: 'last_owner' }));
  });

  it('removes an owner while another owner remains', () => {
    const events = given([created, member('usr_o', 'owner'), member('usr_p', 'owner')]).when({ type: 'remove_member', data: { userId: 'usr_o' } });
    expect(events).toEqual([{ type: 'member.removed', data: { project_id: 'prj_1', user_id: 'usr_o', removed_at: NOW.toISOString() } }]);
  });

  it('answers 404 for a user who is not a member', () => {
    expect(() => given([created]).when({ type: 'remove_member', data: { userId: 'usr_x' } })).toThrow(expect.objectContaining({ kind: 'not_found', param: 'user' }));
  });

  it("never takes a name Object.prototype has for a member (a user id in the URL is the client's to choose)", () => {
    const { when } = given([created, member('usr_o', 'owner')]);
    for (const userId of ['valueOf', 'constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      expect(() => when({ type: 'remove_member', data: { userId } })).toThrow(expect.objectContaining({ kind: 'not_found', param: 'user' }));
      expect(() => when({ type: 'change_role', data: { userId, role: 'admin' } })).toThrow(expect.objectContaining({ kind: 'not_found', param: 'user' }));
      expect(when({ type: 'add_member', data: { userId, email: 'x@example.com', role: 'viewer' } })).toHaveLength(1);
    }
  });

  it('lets a removed user be added again', () => {
    const removed: ProjectEvent = { type: 'member.removed', data: { project_id: 'prj_1', user_id: 'usr_d', removed_at: 't' } };
    const events = given([created, member('usr_o', 'owner'), member('usr_d', 'viewer'), removed]).when({
      type: 'add_member',
      data: { userId: 'usr_d', email: 'd@x', role: 'viewer' },
    });
    expect(events.map((e) => e.type)).toEqual(['member.added']);
  });
});

describe('the owner rule', () => {
  it.each([
    ['owner', 'owner', 'admin', true],
    ['api_key', 'owner', null, true],
    ['admin', 'developer', 'viewer', true],
    ['admin', null, 'admin', true],
    ['admin', null, 'owner', false],
    ['admin', 'owner', 'admin', false],
    ['admin', 'owner', null, false],
  ] as const)('%s changing %s to %s: allowed=%s', (caller, current, next, allowed) => {
    expect(ownerRuleDenial(caller, current, next) === null).toBe(allowed);
  });
});
