import type { EventDataMap } from '@schedstack/contracts';
import { type CloneSource, type ConfigCommand, configDecider, type ConfigState, type EnvironmentConfigEvent } from './config.decider';

const NOW = new Date('2026-05-01T10:00:00.000Z');

/** given these events, when this command, then what decide returns. */
function given(events: readonly EnvironmentConfigEvent[]) {
  const state = events.reduce(configDecider.evolve, configDecider.initialState());
  return {
    state,
    when: (command: ConfigCommand) => configDecider.decide(command, state, NOW),
  };
}

const process = (name: string, extra: Record<string, unknown> = {}) => ({ name, ...extra });
const created = (id: string, name: string, extra: Record<string, unknown> = {}): EnvironmentConfigEvent => ({
  type: 'process.created',
  data: {
    id,
    spec: { name, max_attempts: null, backoff: null, timeout: null, rate_limit: null, breaker: null, headers: {}, vendor: false, ...extra },
    version: 1,
    created_at: '2026-04-01T00:00:00.000Z',
  } as EventDataMap['process.created'],
});
const stateOf = (events: readonly EnvironmentConfigEvent[]): ConfigState => events.reduce(configDecider.evolve, configDecider.initialState());
const sourceOf = (events: readonly EnvironmentConfigEvent[]): CloneSource => ({ state: stateOf(events), position: '10/1', version: events.length });

describe('environment configuration decider', () => {
  it('creates a process at version 1 with every optional field present', () => {
    const events = given([]).when({ type: 'create', data: { kind: 'process', id: 'proc_a', input: process('billing', { timeout: '10s' }) } });
    expect(events).toEqual([
      {
        type: 'process.created',
        data: {
          id: 'proc_a',
          spec: { name: 'billing', max_attempts: null, backoff: null, timeout: '10s', rate_limit: null, breaker: null, headers: {}, vendor: false },
          version: 1,
          created_at: NOW.toISOString(),
        },
      },
    ]);
  });

  it('refuses a second process with the same name in the environment', () => {
    expect(() => given([created('proc_a', 'billing')]).when({ type: 'create', data: { kind: 'process', id: 'proc_b', input: process('billing') } })).toThrow(
      expect.objectContaining({ kind: 'conflict', code: 'resource_exists', param: 'name' }),
    );
  });

  it('allows the same name for different kinds', () => {
    const events = given([created('proc_a', 'billing')]).when({ type: 'create', data: { kind: 'theme', id: 'thm_a', input: { name: 'billing' } } });
    expect(events.map((e) => e.type)).toEqual(['theme.created']);
  });

  it('bumps the version on a change and replaces only the given fields', () => {
    const events = given([created('proc_a', 'billing', { timeout: '10s' })]).when({ type: 'update', data: { kind: 'process', id: 'proc_a', input: { vendor: true } } });
    expect(events).toEqual([
      {
        type: 'process.updated',
        data: expect.objectContaining({ id: 'proc_a', version: 2, spec: expect.objectContaining({ name: 'billing', timeout: '10s', vendor: true }) }),
      },
    ]);
  });

  it('records nothing when a patch changes nothing', () => {
    expect(given([created('proc_a', 'billing', { vendor: true })]).when({ type: 'update', data: { kind: 'process', id: 'proc_a', input: { vendor: true } } })).toEqual([]);
  });

  it('clears an optional field patched to null', () => {
    const [event] = given([created('proc_a', 'billing', { timeout: '10s' })]).when({ type: 'update', data: { kind: 'process', id: 'proc_a', input: { timeout: null } } });
    expect((event.data as EventDataMap['process.updated']).spec.timeout).toBeNull();
  });

  it('answers 404 for a change or deletion of an unknown id', () => {
    const { when } = given([]);
    expect(() => when({ type: 'update', data: { kind: 'process', id: 'proc_x', input: {} } })).toThrow(expect.objectContaining({ kind: 'not_found' }));
    expect(() => when({ type: 'delete', data: { kind: 'process', id: 'proc_x' } })).toThrow(expect.objectContaining({ kind: 'not_found' }));
  });

  it('never takes a name Object.prototype has for a resource id', () => {
    const { when } = given([created('proc_1', 'billing')]);
    for (const id of ['valueOf', 'constructor', 'toString', '__proto__']) {
      expect(() => when({ type: 'update', data: { kind: 'process', id, input: {} } })).toThrow(expect.objectContaining({ kind: 'not_found' }));
      expect(() => when({ type: 'delete', data: { kind: 'process', id } })).toThrow(expect.objectContaining({ kind: 'not_found' }));
    }
  });

  it('deletes, after which the name is free again', () => {
    const deleted = given([created('proc_a', 'billing')]).when({ type: 'delete', data: { kind: 'process', id: 'proc_a' } });
    expect(deleted).toEqual([{ type: 'process.deleted', data: { id: 'proc_a', deleted_at: NOW.toISOString() } }]);
    const again = given([created('proc_a', 'billing'), ...deleted]).when({ type: 'create', data: { kind: 'process', id: 'proc_b', input: process('billing') } });
    expect(again).toHaveLength(1);
  });

  it('names the offending field of an invalid body', () => {
    expect(() => given([]).when({ type: 'create', data: { kind: 'process', id: 'proc_a', input: process('billing', { backoff: { initial: 'soon', max: '1h' } }) } })).toThrow(
      expect.objectContaining({ kind: 'invalid', param: 'backoff.initial' }),
    );
  });

  describe('clone', () => {
    it('adds what live has, changes what differs, removes what only the target has, then records the clone', () => {
      const live = [created('proc_same', 'same'), created('proc_changed', 'changed', { vendor: true }), created('proc_new', 'new')];
      const target = [created('proc_same', 'same'), created('proc_changed', 'changed'), created('proc_extra', 'extra')];
      const events = given(target).when({ type: 'clone', data: { source: sourceOf(live), target: 'sandbox' } });
      expect(events.map((e) => [e.type, (e.data as { id?: string }).id])).toEqual([
        ['process.deleted', 'proc_extra'],
        ['process.updated', 'proc_changed'],
        ['process.created', 'proc_new'],
        ['environment.cloned', undefined],
      ]);
      expect(events[3].data).toEqual({
        source: 'live',
        target: 'sandbox',
        source_position: '10/1',
        source_version: 3,
        changes: expect.objectContaining({ processes: { added: ['proc_new'], changed: ['proc_changed'], removed: ['proc_extra'] } }),
        cloned_at: NOW.toISOString(),
      });
      const after = [...target, ...events].reduce(configDecider.evolve, configDecider.initialState());
      expect(Object.keys(after.resources.process).sort()).toEqual(['proc_changed', 'proc_new', 'proc_same']);
      expect(after.resources.process.proc_changed.spec).toEqual(stateOf(live).resources.process.proc_changed.spec);
    });

    it('appends nothing when the target already equals live', () => {
      const live = [created('proc_a', 'billing')];
      expect(given(live).when({ type: 'clone', data: { source: sourceOf(live), target: 'test' } })).toEqual([]);
    });

    it('lets a resource from live take a name that a target-only resource held', () => {
      const events = given([created('proc_target', 'billing')]).when({ type: 'clone', data: { source: sourceOf([created('proc_live', 'billing')]), target: 'test' } });
      expect(events.map((e) => e.type)).toEqual(['process.deleted', 'process.created', 'environment.cloned']);
    });

    it('empties the target when live has no configuration', () => {
      const events = given([created('proc_a', 'a')]).when({ type: 'clone', data: { source: sourceOf([]), target: 'test' } });
      expect(events.map((e) => e.type)).toEqual(['process.deleted', 'environment.cloned']);
    });
  });
});
