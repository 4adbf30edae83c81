import { Inject, Injectable } from '@nestjs/common';
import { type LimitsQuery, type LimitsView, type Scope, streamName, type UpdateLimitsCommand } from '@schedstack/contracts';
import { limitsDecider } from '@schedstack/environments-domain';
import { EVENT_STORE, type EventStore } from '@schedstack/event-store';
import { CLOCK, type Clock, foldEvents, handleCommand } from '@schedstack/platform';

const limitsStream = (scope: Scope) => streamName(scope, 'limits', scope.environment);

/**
 * SPEC §5 rate limits and quotas of one environment. Read straight from the environment's few
 * limits events, so a change is visible to the next question at once (no read model to wait for).
 */
@Injectable()
export class LimitsApplication {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async get({ scope }: LimitsQuery): Promise<LimitsView> {
    const state = foldEvents(limitsDecider(scope.environment), await this.store.readStream(limitsStream(scope)));
    return { object: 'limits', mode: scope.environment, ...state.settings, updated_at: state.updatedAt };
  }

  async update({ scope, input }: UpdateLimitsCommand): Promise<LimitsView> {
    const { state } = await handleCommand(this.store, limitsStream(scope), limitsDecider(scope.environment), { type: 'update', data: { input } }, () =>
      this.clock.now(),
    );
    return { object: 'limits', mode: scope.environment, ...state.settings, updated_at: state.updatedAt };
  }
}
