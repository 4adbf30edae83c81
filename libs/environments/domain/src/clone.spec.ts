import { EVENT_CATALOG, type EventType } from '@schedstack/contracts';
import { cloneableEventTypes, cloneTarget, isCloneable, replaySource, type SourceEvent } from './clone';
import { configDecider } from './config.decider';

const ALL_TYPES = Object.keys(EVENT_CATALOG) as EventType[];
const CLIENT_TYPES = ALL_TYPES.filter((type) => EVENT_CATALOG[type].dataClass === 'client');

describe('the clone filter (SPEC §5: client data never leaves its environment)', () => {
  it.each(CLIENT_TYPES)('never lets %s pass', (type) => {
    expect(isCloneable({ type, data: {} })).toBe(false);
  });

  it('lets through exactly the config event types of the catalog, and they are all configuration events', () => {
    const cloneable = ALL_TYPES.filter((type) => isCloneable({ type }));
    expect(cloneable).toEqual(cloneableEventTypes());
    expect(cloneable.length).toBeGreaterThan(0);
    for (const type of cloneable) expect(type).toMatch(/^(process|theme|field|translation|dataset_schema)\.(created|updated|deleted)$/);
    expect(CLIENT_TYPES.length + cloneable.length).toBe(ALL_TYPES.length);
  });

  it('drops an event type the catalog does not know', () => {
    expect(isCloneable({ type: 'schedule.exploded' })).toBe(false);
  });

  it('replays a live stream holding one event of every catalog type into configuration only', () => {
    // Client events carry data a config fold could not read: if one passed, the replay would throw.
    const events: SourceEvent[] = ALL_TYPES.map((type, i) => ({
      type,
      position: `${i}/0`,
      data: isCloneable({ type })
        ? { id: `x_${type.split('.')[0]}`, spec: { name: 'n', locale: 'en' }, version: 1, created_at: 't', updated_at: 't', deleted_at: 't' }
        : { poison: true },
    }));
    const source = replaySource(events);
    expect(source.version).toBe(cloneableEventTypes().length);
    expect(JSON.stringify(source.state)).not.toContain('poison');
    const replayed = configDecider.decide({ type: 'clone', data: { source, target: 'test' } }, configDecider.initialState(), new Date());
    for (const event of replayed) expect(event.type === 'environment.cloned' || isCloneable(event)).toBe(true);
  });

  it('records the position of the last config event it read', () => {
    const source = replaySource([
      { type: 'theme.created', position: '5/1', data: { id: 'thm_a', spec: { name: 'a' }, version: 1, created_at: 't' } },
      { type: 'schedule.created', position: '6/1', data: {} },
    ]);
    expect(source.position).toBe('5/1');
    expect(source.version).toBe(1);
  });
});

describe('clone directions', () => {
  it.each([
    ['live', 'sandbox'],
    ['live', 'test'],
  ])('allows %s → %s', (source, target) => {
    expect(cloneTarget(source, target)).toBe(target);
  });

  it.each([
    ['live', 'live', 'environment'],
    ['sandbox', 'test', 'source'],
    ['test', 'sandbox', 'source'],
    ['sandbox', 'live', 'source'],
    ['live', 'production', 'environment'],
  ])('refuses %s → %s (400 clone_direction_not_allowed naming %s)', (source, target, param) => {
    expect(() => cloneTarget(source, target)).toThrow(expect.objectContaining({ kind: 'invalid', code: 'clone_direction_not_allowed', param }));
  });
});
