import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Query, UseGuards, UsePipes } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import { ApiBody, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import {
  ApiError,
  type CreateScheduleCommand,
  type CreateScheduleInput,
  type ListResult,
  PATTERNS,
  type Scope,
  type ScheduleView,
  type UpcomingFire,
} from '@schedstack/contracts';
import { BUS_CLIENT } from '@schedstack/messaging';
import { request } from '@schedstack/platform';
import { ApiKeyGuard, CurrentScope } from './api-key.guard';
import { Idempotent, IdempotencyToken } from './idempotency.interceptor';
import { LimitsCache } from './limits.cache';
import { ApiErrors, BODY_ERRORS, conflict, IDEMPOTENCY_ERRORS, invalid, notFound, UNAVAILABLE } from './openapi.errors';
import { EXAMPLE_SCHEDULE, ScheduleListModel, ScheduleModel, UpcomingFireListModel } from './openapi.models';
import { parseLimit } from './pagination';
import { CreateScheduleDto, ListSchedulesDto, ScheduleActionDto, UpcomingFiresDto } from './schedules.dto';
import { apiValidationPipe } from './validation';

const ID_PARAM = { name: 'id', description: 'The schedule id.', example: EXAMPLE_SCHEDULE.id };
const SCHEDULE_NOT_FOUND = notFound('schedule', EXAMPLE_SCHEDULE.id);

/** SPEC §8: a null field counts as not sent. */
const given = <T>(value: T | null | undefined): T | undefined => (value === null ? undefined : value);

/** SPEC §9 `count` of `upcoming`: 1–100, default 10. */
function parseCount(raw: string | undefined): number {
  if (raw === undefined) return 10;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < 1 || value > 100) throw ApiError.invalid('count', 'count must be an integer from 1 to 100');
  return value;
}

@ApiTags('schedules')
@Controller('v1/schedules')
@UseGuards(ApiKeyGuard)
@UsePipes(apiValidationPipe)
export class SchedulesHttpController {
  constructor(
    @Inject(BUS_CLIENT) private readonly bus: ClientProxy,
    private readonly limits: LimitsCache,
  ) {}

  @Post()
  @HttpCode(201)
  @Idempotent({ createsWithDerivedId: true })
  @ApiOperation({ summary: 'Create a schedule', description: 'Exactly one of `delay`, `run_at` or `cron` (+ `timezone`) says when to fire.' })
  @ApiBody({
    type: CreateScheduleDto,
    examples: {
      delay: { summary: 'Once, in 30 seconds', value: { endpoint: 'https://example.com/hooks/orders', body: '{"order_id":"ord_123"}', headers: { 'content-type': 'application/json' }, delay: '30s' } },
      run_at: { summary: 'Once, at an instant', value: { endpoint: 'https://example.com/hooks/report', method: 'PUT', run_at: '2026-05-01T09:00:00+02:00' } },
      cron: { summary: 'Every weekday at 09:00 in Berlin', value: { endpoint: 'https://example.com/hooks/daily', cron: '0 9 * * 1-5', timezone: 'Europe/Berlin', catch_up: 'skip', max_fires: 100 } },
    },
  })
  @ApiCreatedResponse({ type: ScheduleModel, description: 'The schedule, with its first fire planned.', example: EXAMPLE_SCHEDULE })
  @ApiErrors(
    invalid('delay', "delay '5 minutes' is not a duration such as \"30s\", \"5m\", \"1h30m\" or \"2d\""),
    invalid('cron', "cron must have 5 fields (minute hour day month weekday), or 6 with seconds first"),
    invalid('timezone', "timezone 'Mars/Olympus' is not an IANA time zone such as Europe/Berlin"),
    invalid('run_at', 'run_at is more than 5 minutes in the past'),
    invalid('headers.connection', 'connection is a hop-by-hop or connection header; SchedStack sets it itself'),
    invalid('colour', 'Received unknown parameter: colour', 'parameter_unknown'),
    ...BODY_ERRORS,
    ...IDEMPOTENCY_ERRORS,
    UNAVAILABLE,
  )
  async create(@CurrentScope() scope: Scope, @Body() dto: CreateScheduleDto, @IdempotencyToken() idempotencyToken?: string): Promise<ScheduleView> {
    const input: CreateScheduleInput = {
      endpoint: dto.endpoint,
      method: given(dto.method) ?? 'POST',
      headers: given(dto.headers) ?? {},
      body: given(dto.body) ?? null,
      delay: given(dto.delay),
      run_at: given(dto.run_at),
      cron: given(dto.cron),
      timezone: given(dto.timezone),
      ends_at: given(dto.ends_at),
      max_fires: given(dto.max_fires),
      catch_up: given(dto.catch_up),
      catch_up_window: given(dto.catch_up_window),
      process: given(dto.process),
      metadata: given(dto.metadata),
    };
    // SPEC §5 quotas: the limits the rate limiter has just applied to this request travel along.
    const command: CreateScheduleCommand = { scope, input, limits: await this.limits.get(scope), idempotency_token: idempotencyToken };
    return request(this.bus, PATTERNS.schedules.create, command);
  }

  @Get()
  @ApiOperation({ summary: 'List schedules', description: 'Newest first, with cursor pagination (`limit`, `starting_after`) and a `state` filter.' })
  @ApiOkResponse({ type: ScheduleListModel, example: { object: 'list', data: [EXAMPLE_SCHEDULE], has_more: false } })
  @ApiErrors(invalid('limit', 'limit must be an integer from 1 to 100'), invalid('state', 'state must be one of active, paused, completed, canceled'))
  list(@CurrentScope() scope: Scope, @Query() query: ListSchedulesDto): Promise<ListResult<ScheduleView>> {
    return request(this.bus, PATTERNS.schedules.list, {
      scope,
      limit: parseLimit(query.limit),
      starting_after: query.starting_after,
      filters: { state: query.state },
    });
  }

  @Get(':id')
  @ApiOperation({ summary: 'Retrieve a schedule' })
  @ApiParam(ID_PARAM)
  @ApiOkResponse({ type: ScheduleModel, example: EXAMPLE_SCHEDULE })
  @ApiErrors(SCHEDULE_NOT_FOUND)
  get(@CurrentScope() scope: Scope, @Param('id') id: string): Promise<ScheduleView> {
    return request(this.bus, PATTERNS.schedules.get, { scope, id });
  }

  @Post(':id/pause')
  @HttpCode(200)
  @Idempotent()
  @ApiOperation({ summary: 'Pause a schedule', description: 'Withdraws its planned fires; pausing a paused schedule changes nothing.' })
  @ApiParam(ID_PARAM)
  @ApiBody({ type: ScheduleActionDto, required: false })
  @ApiOkResponse({ type: ScheduleModel, example: { ...EXAMPLE_SCHEDULE, state: 'paused', next_fire_at: null, fire_count: 0 } })
  @ApiErrors(SCHEDULE_NOT_FOUND, conflict('schedule_canceled', 'A canceled schedule cannot be paused'), ...IDEMPOTENCY_ERRORS)
  pause(@CurrentScope() scope: Scope, @Param('id') id: string, @Body() _body: ScheduleActionDto): Promise<ScheduleView> {
    return request(this.bus, PATTERNS.schedules.pause, { scope, id });
  }

  @Post(':id/resume')
  @HttpCode(200)
  @Idempotent()
  @ApiOperation({
    summary: 'Resume a paused schedule',
    description: 'Plans the next fire from now; fires missed while paused are not made up. A one-off schedule whose time passed while paused completes.',
  })
  @ApiParam(ID_PARAM)
  @ApiBody({ type: ScheduleActionDto, required: false })
  @ApiOkResponse({ type: ScheduleModel, example: EXAMPLE_SCHEDULE })
  @ApiErrors(SCHEDULE_NOT_FOUND, conflict('schedule_completed', 'A completed schedule cannot be resumed'), ...IDEMPOTENCY_ERRORS)
  resume(@CurrentScope() scope: Scope, @Param('id') id: string, @Body() _body: ScheduleActionDto): Promise<ScheduleView> {
    return request(this.bus, PATTERNS.schedules.resume, { scope, id });
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Cancel a schedule', description: 'The schedule becomes `canceled` and its pending fires are withdrawn. Canceling twice changes nothing.' })
  @ApiParam(ID_PARAM)
  @ApiOkResponse({ type: ScheduleModel, example: { ...EXAMPLE_SCHEDULE, state: 'canceled', next_fire_at: null } })
  @ApiErrors(SCHEDULE_NOT_FOUND, conflict('schedule_completed', 'A completed schedule cannot be canceled'))
  cancel(@CurrentScope() scope: Scope, @Param('id') id: string): Promise<ScheduleView> {
    return request(this.bus, PATTERNS.schedules.cancel, { scope, id });
  }

  @Get(':id/upcoming')
  @ApiOperation({ summary: 'List the next fires of a schedule', description: 'The next `count` fire instants, DST applied; empty unless the schedule is active.' })
  @ApiParam(ID_PARAM)
  @ApiOkResponse({
    type: UpcomingFireListModel,
    example: {
      object: 'list',
      data: [
        { fire_at: '2026-03-28T01:30:00.000Z', fire_kind: 'first' },
        { fire_at: '2026-03-29T01:00:00.000Z', fire_kind: 'dst_shifted' },
      ],
      has_more: true,
    },
  })
  @ApiErrors(SCHEDULE_NOT_FOUND, invalid('count', 'count must be an integer from 1 to 100'))
  upcoming(@CurrentScope() scope: Scope, @Param('id') id: string, @Query() query: UpcomingFiresDto): Promise<ListResult<UpcomingFire>> {
    return request(this.bus, PATTERNS.schedules.upcoming, { scope, id, count: parseCount(query.count) });
  }
}
