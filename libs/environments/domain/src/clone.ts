import { dataClassOf, DomainError, EVENT_CATALOG, type Environment, type EventType } from '@schedstack/contracts';
import { type CloneSource, type ConfigEvent, type ConfigEventType, type ConfigState, evolve, initialState } from './config.decider';

/**
 * SPEC §5 clone: live's config events are replayed into a lower environment. What may pass is
 * decided by one thing only, the data class each event type is declared with in EVENT_CATALOG.
 */

/** Every event type the catalog declares `config`. */
export type CloneableEventType = { [T in EventType]: (typeof EVENT_CATALOG)[T]['dataClass'] extends 'config' ? T : never }[EventType];

// Compile-time proof that the catalog's config types are exactly the ones the config aggregate
// folds: declaring a new config event without handling it (or the reverse) fails the build.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const catalogMatchesAggregate: Same<CloneableEventType, ConfigEventType> = true;
void catalogMatchesAggregate;

/** The clone filter: true only for event types declared with data class `config`. */
export function isCloneable<E extends { readonly type: string }>(event: E): event is E & { readonly type: CloneableEventType } {
  return dataClassOf(event.type) === 'config';
}

/** Event types a clone may replay, read from the catalog (for docs and tests). */
export function cloneableEventTypes(): CloneableEventType[] {
  return (Object.keys(EVENT_CATALOG) as EventType[]).filter((type): type is CloneableEventType => EVENT_CATALOG[type].dataClass === 'config');
}

/** A recorded event as the clone reads it from live's configuration stream. */
export interface SourceEvent {
  readonly type: string;
  readonly data: unknown;
  readonly position: string;
}

/** Live's configuration at the position of the last event read: the replay of its config events only. */
export function replaySource(events: readonly SourceEvent[]): CloneSource {
  const cloneable = events.filter(isCloneable);
  const state = cloneable.reduce<ConfigState>((s, e) => evolve(s, { type: e.type, data: e.data } as ConfigEvent), initialState());
  return { state, position: cloneable.at(-1)?.position ?? null, version: cloneable.length };
}

/** Only live → sandbox and live → test (SPEC §5). */
export function cloneTarget(source: string, target: string): Exclude<Environment, 'live'> {
  if (source !== 'live') {
    throw new DomainError('invalid', 'clone_direction_not_allowed', `Configuration is cloned from live only, not from '${source}'.`, 'source');
  }
  if (target !== 'sandbox' && target !== 'test') {
    throw new DomainError('invalid', 'clone_direction_not_allowed', `Configuration is cloned from live to sandbox or test only, not to '${target}'.`, 'environment');
  }
  return target;
}
