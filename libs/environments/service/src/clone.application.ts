import { Inject, Injectable } from '@nestjs/common';
import {
  CONFIG_KINDS,
  CONFIG_RESOURCES,
  type CloneCommand,
  type CloneResult,
  type ConfigDiff,
  type ConfigSnapshot,
  type Scope,
} from '@schedstack/contracts';
import {
  type ConfigResource,
  configDecider,
  type ConfigStateDiff,
  cloneTarget,
  diffConfig,
  orderedSpec,
  replaySource,
} from '@schedstack/environments-domain';
import { EVENT_STORE, type EventStore, positionToString } from '@schedstack/event-store';
import { CLOCK, type Clock, foldEvents, handleCommand } from '@schedstack/platform';
import { ConfigApplication, configStream } from './config.application';
import { configProjection } from './config.projection';
import { EnvironmentsReadModels } from './environments.read-models';

const snapshot = (r: ConfigResource): ConfigSnapshot => ({ id: r.id, ...orderedSpec(r.kind, r.spec) }) as ConfigSnapshot;

function presentDiff(diff: ConfigStateDiff): ConfigDiff {
  return Object.fromEntries(
    CONFIG_KINDS.map((kind) => [
      CONFIG_RESOURCES[kind].path,
      {
        added: diff[kind].added.map(snapshot),
        changed: diff[kind].changed.map(({ before, after }) => ({ id: after.id, before: snapshot(before), after: snapshot(after) })),
        removed: diff[kind].removed.map(snapshot),
      },
    ]),
  );
}

/**
 * SPEC §5 clone: live's config events are replayed (client events filtered out by their data
 * class) to rebuild live's configuration at a recorded position, and the target receives, in one
 * append under its expected revision, the config events that make its configuration equal to it.
 * Concurrent clones of one target therefore serialise: the loser re-decides on the winner's result.
 */
@Injectable()
export class CloneApplication {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly readModels: EnvironmentsReadModels,
    private readonly config: ConfigApplication,
  ) {}

  async clone({ scope, source, target, dry_run }: CloneCommand): Promise<CloneResult> {
    const to = cloneTarget(source, target);
    const live: Scope = { projectId: scope.projectId, environment: 'live' };
    const targetScope: Scope = { projectId: scope.projectId, environment: to };
    const recorded = await this.store.readStream(configStream(live));
    const replayed = replaySource(recorded.map((e) => ({ type: e.type, data: e.data, position: positionToString(e.position) })));
    const result = (applied: boolean, diff: ConfigStateDiff): CloneResult => ({
      object: 'environment_clone',
      source: 'live',
      target: to,
      dry_run,
      source_position: replayed.position,
      source_version: replayed.version,
      applied,
      diff: presentDiff(diff),
    });

    if (dry_run) return result(false, diffConfig(replayed.state, (await this.config.state(targetScope)).state));

    const outcome = await handleCommand(this.store, configStream(targetScope), configDecider, { type: 'clone', data: { source: replayed, target: to } }, () =>
      this.clock.now(),
    );
    if (!outcome.appended) return result(false, diffConfig(replayed.state, outcome.state));
    await this.readModels.settled(configProjection, outcome.appended.position);
    // What this clone changed: the target as it was just before its own append.
    const firstAppended = outcome.appended.nextExpectedRevision - outcome.events.length + 1;
    const before = foldEvents(configDecider, (await this.store.readStream(configStream(targetScope))).filter((e) => e.revision < firstAppended));
    return result(true, diffConfig(replayed.state, before));
  }
}
