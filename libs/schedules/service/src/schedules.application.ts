import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import {
  ApiError,
  type CreateScheduleCommand,
  type GetByIdQuery,
  hasPrefix,
  type ListQuery,
  type LimitsView,
  type ListResult,
  newId,
  PATTERNS,
  quotaExceeded,
  type ResolvedProcess,
  type Scope,
  type ScheduleActionCommand,
  type ScheduleView,
  streamName,
  type UpcomingFire,
  type UpcomingFiresQuery,
  DomainError,
  type DeliveryPolicy,
  derivedId,
} from '@schedstack/contracts';
import type { ClientProxy } from '@nestjs/microservices';
import { EVENT_STORE, type EventStore, type Position } from '@schedstack/event-store';
import { BUS_CLIENT, EVENT_FEED, type EventFeed } from '@schedstack/messaging';
import { CLOCK, type Clock, currentTraceCarrier, TRACE_CONTEXT_FIELD, foldEvents, handleCommand, orderKeys, PG_POOL, ReadModels, request, ScopedReadModel } from '@schedstack/platform';
import {
  type ScheduleCommand,
  type ScheduleEvent,
  scheduleDecider,
  settingsFromInput,
  triggerFromInput,
  upcomingFires,
} from '@schedstack/schedules-domain';
import type { Pool } from 'pg';
import { SchedulePlanner } from './schedule-planner';
import { createdScheduleView } from './schedule.view';
import { SCHEDULES_MIGRATIONS, schedulesProjection } from './schedules.projection';

const traceMetadata = (): Record<string, unknown> | undefined => {
  const carrier = currentTraceCarrier();
  return carrier ? { [TRACE_CONTEXT_FIELD]: carrier } : undefined;
};

/** API key order of a schedule (jsonb does not keep it). */
const SCHEDULE_KEYS: (keyof ScheduleView)[] = [
  'id', 'object', 'mode', 'endpoint', 'method', 'headers', 'body', 'delay', 'run_at', 'cron', 'timezone',
  'catch_up', 'catch_up_window', 'ends_at', 'max_fires', 'fire_count', 'process', 'metadata', 'state', 'next_fire_at', 'created_at',
];

/** Command and query handlers of the schedules service (SPEC §3), and its planner. */
@Injectable()
export class SchedulesApplication implements OnModuleInit, OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('schedules');
  private readonly readModels: ReadModels;
  private readonly schedules: ScopedReadModel<ScheduleView>;
  private readonly planner: SchedulePlanner;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(EVENT_FEED) feed: EventFeed,
    @Inject(PG_POOL) pool: Pool,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(BUS_CLIENT) private readonly bus: ClientProxy,
  ) {
    this.readModels = new ReadModels(pool, feed, 'schedules', SCHEDULES_MIGRATIONS, [schedulesProjection]);
    this.schedules = new ScopedReadModel<ScheduleView>(pool, 'sch_schedules', { state: 'state' }, (view) => orderKeys(view, SCHEDULE_KEYS));
    this.planner = new SchedulePlanner(pool, store, clock);
  }

  onModuleInit(): Promise<void> {
    return this.readModels.start();
  }

  onApplicationBootstrap(): void {
    this.planner.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.planner.stop();
    await this.readModels.stop();
  }

  async create(command: CreateScheduleCommand): Promise<ScheduleView> {
    const { scope, idempotency_token: token } = command;
    // With an idempotency key, the id is derived from it (and the request): a retry whose first
    // attempt committed but was answered 503 finds that schedule instead of creating another.
    const scheduleId = token ? derivedId('sch', scope.projectId, scope.environment, token) : newId('sch');
    try {
      return await this.createAs(scheduleId, command);
    } catch (error) {
      if (!token) throw error;
      // Refused or failed: when the schedule exists after all, this is that retry. A lookup that
      // fails fails the request (a 503 when the store is down), so the key is released, never
      // stored with an answer that hides the schedule.
      const first = await this.creationOf(scope, scheduleId);
      if (first) return first;
      throw error;
    }
  }

  /** The answer the create of an existing schedule gave (built from its creation events), or null when there is none. */
  private async creationOf(scope: Scope, scheduleId: string): Promise<ScheduleView | null> {
    const recorded = await this.store.readStream(streamName(scope, 'schedule', scheduleId));
    if (recorded[0]?.type !== 'schedule.created') return null;
    // A create appends schedule.created and its first schedule.fire_planned together.
    const creation = recorded.slice(0, 2);
    await this.waitForCreatedSchedule(scheduleId, creation[creation.length - 1].position);
    return this.schedules.asRead(createdScheduleView(scope.environment, creation.map((e) => ({ type: e.type, data: e.data }) as ScheduleEvent)));
  }

  /**
   * Read-your-writes (docs/decisions.md): waits until the projection has the schedule. The
   * schedule is committed and its view known: a 503 here would invite a retry that creates it
   * twice, so a lagging read model is logged and the create still answers 201.
   */
  private async waitForCreatedSchedule(scheduleId: string, position: Position): Promise<void> {
    await this.readModels
      .runner(schedulesProjection.name)
      .waitFor(position)
      .catch((error: unknown) => this.logger.warn(`schedule ${scheduleId} created; its read model lags: ${(error as Error).message}`));
  }

  private async createAs(scheduleId: string, { scope, input, limits }: CreateScheduleCommand): Promise<ScheduleView> {
    const now = this.clock.now();
    const trigger = triggerFromInput(input, now);
    const settings = settingsFromInput(input, trigger, now);
    const policy = await this.checkAgainstEnvironment(scope, input, limits);
    const outcome = await handleCommand(
      this.store,
      streamName(scope, 'schedule', scheduleId),
      scheduleDecider,
      {
        type: 'create',
        data: {
          scheduleId,
          trigger,
          settings,
          firstDeliveryId: newId('dlv'),
          request: { endpoint: input.endpoint, method: input.method, headers: input.headers, body: input.body },
          process: input.process ?? null,
          policy,
          metadata: input.metadata ?? null,
        },
      },
      () => now,
      // SPEC §7: the trace continues into the dispatcher through the events' metadata. The id is
      // fresh (or derived from an idempotency key, rarely used twice), so there is no stream to read first.
      { metadata: traceMetadata(), newStream: true },
    );
    // Answered with the view the projection made of these events, built here rather than read back.
    const position = outcome.appended?.position;
    if (position) await this.waitForCreatedSchedule(scheduleId, position);
    return this.schedules.asRead(createdScheduleView(scope.environment, outcome.events));
  }

  /**
   * What the environments service owns (SPEC §5): the active-schedules and deliveries-per-day quotas, the named process
   * (its delivery policy travels with every planned fire), and metadata against the field definitions.
   * The limits come with the command from the gateway, or are asked for.
   */
  private async checkAgainstEnvironment(scope: Scope, input: CreateScheduleCommand['input'], given?: LimitsView): Promise<DeliveryPolicy | null> {
    const limits = given ?? (await request<LimitsView>(this.bus, PATTERNS.environments.getLimits, { scope }));
    if (limits.active_schedules !== null && limits.active_schedules !== undefined) {
      // Count-then-create may overshoot by a few under concurrent creates; the quota is a guard rail.
      const active = await this.schedules.count(scope, { state: ['active', 'paused'] });
      if (active >= limits.active_schedules) throw quotaExceeded('active_schedules', limits.active_schedules, scope.environment);
    }
    if (limits.deliveries_per_day !== null && limits.deliveries_per_day !== undefined) {
      // New work is refused once the day's deliveries are used up; fires already accepted still go out.
      const today = await request<number>(this.bus, PATTERNS.dispatcher.countDeliveriesToday, { scope });
      if (today >= limits.deliveries_per_day) throw quotaExceeded('deliveries_per_day', limits.deliveries_per_day, scope.environment);
    }
    if (input.metadata) await request(this.bus, PATTERNS.environments.validateMetadata, { scope, metadata: input.metadata });
    if (!input.process) return null;
    const resolved = await request<ResolvedProcess | null>(this.bus, PATTERNS.environments.getProcessByName, { scope, name: input.process });
    if (!resolved) {
      throw new DomainError('invalid', 'resource_missing', `No process named '${input.process}' in this environment. Create it with POST /v1/processes.`, 'process');
    }
    return resolved.policy;
  }

  pause({ scope, id }: ScheduleActionCommand): Promise<ScheduleView> {
    return this.act(scope, id, { type: 'pause', data: { scheduleId: id } });
  }

  resume({ scope, id }: ScheduleActionCommand): Promise<ScheduleView> {
    return this.act(scope, id, { type: 'resume', data: { scheduleId: id, newDeliveryId: () => newId('dlv') } });
  }

  cancel({ scope, id }: ScheduleActionCommand): Promise<ScheduleView> {
    return this.act(scope, id, { type: 'cancel', data: { scheduleId: id } });
  }

  async get({ scope, id }: GetByIdQuery): Promise<ScheduleView> {
    const view = await this.schedules.get(scope, id);
    if (!view) throw ApiError.notFound('schedule', id);
    return view;
  }

  list({ scope, limit, starting_after, filters }: ListQuery): Promise<ListResult<ScheduleView>> {
    return this.schedules.list(scope, { limit, starting_after, filters });
  }

  /** Computed from the aggregate's own events (its stream is scoped by name), so planned fires count exactly. */
  async upcoming({ scope, id, count }: UpcomingFiresQuery): Promise<ListResult<UpcomingFire>> {
    const recorded = hasPrefix(id, 'sch') ? await this.store.readStream(streamName(scope, 'schedule', id)) : [];
    if (recorded.length === 0) throw ApiError.notFound('schedule', id);
    const { fires, hasMore } = upcomingFires(foldEvents(scheduleDecider, recorded), this.clock.now(), count);
    return { object: 'list', data: fires, has_more: hasMore };
  }

  private async act(scope: Scope, id: string, command: ScheduleCommand): Promise<ScheduleView> {
    // An id that is not a schedule id gets the same 404 as an unknown one, without touching the store.
    if (!hasPrefix(id, 'sch')) throw ApiError.notFound('schedule', id);
    const outcome = await handleCommand(this.store, streamName(scope, 'schedule', id), scheduleDecider, command, () => this.clock.now());
    return this.readAfterWrite(scope, id, outcome.appended?.position);
  }

  private async readAfterWrite(scope: Scope, id: string, position?: Position): Promise<ScheduleView> {
    if (position) await this.readModels.runner(schedulesProjection.name).waitFor(position);
    return this.get({ scope, id });
  }
}
