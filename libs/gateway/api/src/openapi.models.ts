import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  type ApiErrorBody,
  type AttemptRecord,
  type CatchUpPolicy,
  type DeliveryState,
  type DeliveryView,
  ENVIRONMENTS,
  type Environment,
  type FireKind,
  type ScheduleMetadata,
  type ScheduleStatus,
  type ScheduleView,
  type UpcomingFire,
} from '@schedstack/contracts';

/**
 * Response shapes for the OpenAPI document (SPEC §9). They implement the contract types, so the
 * document cannot drift from what the services return.
 */

export const EXAMPLE_SCHEDULE: ScheduleView = {
  id: 'sch_3kTqW8mYcN2pLx7Rv0bZ1a',
  object: 'schedule',
  mode: 'test',
  endpoint: 'https://example.com/hooks/orders',
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: '{"order_id":"ord_123"}',
  delay: null,
  run_at: null,
  cron: '0 9 * * 1-5',
  timezone: 'Europe/Berlin',
  catch_up: 'coalesce',
  catch_up_window: '1h',
  ends_at: null,
  max_fires: null,
  fire_count: 1,
  process: null,
  metadata: { order_id: 'ord_123' },
  state: 'active',
  next_fire_at: '2026-05-04T07:00:00.000Z',
  created_at: '2026-05-01T10:15:00.000Z',
};

export class ScheduleModel implements ScheduleView {
  @ApiProperty({ example: EXAMPLE_SCHEDULE.id, pattern: '^sch_[0-9A-Za-z]+$' })
  id!: string;
  @ApiProperty({ enum: ['schedule'] })
  object!: 'schedule';
  @ApiProperty({ enum: ENVIRONMENTS, description: 'The environment of the key that created it.' })
  mode!: Environment;
  @ApiProperty({ format: 'uri', example: EXAMPLE_SCHEDULE.endpoint })
  endpoint!: string;
  @ApiProperty({ example: 'POST' })
  method!: string;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' }, example: EXAMPLE_SCHEDULE.headers })
  headers!: Record<string, string>;
  @ApiProperty({ type: String, nullable: true, example: EXAMPLE_SCHEDULE.body })
  body!: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'The delay it was created with (one-off schedules).', example: '30s' })
  delay!: string | null;
  @ApiProperty({ type: String, nullable: true, format: 'date-time', description: 'When a one-off schedule fires.' })
  run_at!: string | null;
  @ApiProperty({ type: String, nullable: true, example: EXAMPLE_SCHEDULE.cron })
  cron!: string | null;
  @ApiProperty({ type: String, nullable: true, example: EXAMPLE_SCHEDULE.timezone })
  timezone!: string | null;
  @ApiProperty({ enum: ['coalesce', 'skip', 'all'], nullable: true, description: 'Recurring schedules only.' })
  catch_up!: CatchUpPolicy | null;
  @ApiProperty({ type: String, nullable: true, example: '1h', description: 'Recurring schedules only.' })
  catch_up_window!: string | null;
  @ApiProperty({ type: String, nullable: true, format: 'date-time' })
  ends_at!: string | null;
  @ApiProperty({ type: 'integer', nullable: true, minimum: 1 })
  max_fires!: number | null;
  @ApiProperty({ type: 'integer', minimum: 0, description: 'Fires planned so far, the next planned one included; fires withdrawn by a pause do not count.' })
  fire_count!: number;
  @ApiProperty({ type: String, nullable: true, description: 'Name of the process (delivery policy) it uses.' })
  process!: string | null;
  @ApiProperty({ type: 'object', additionalProperties: { oneOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] }, example: EXAMPLE_SCHEDULE.metadata })
  metadata!: ScheduleMetadata;
  @ApiProperty({ enum: ['active', 'paused', 'completed', 'canceled'] })
  state!: ScheduleStatus;
  @ApiProperty({ type: String, nullable: true, format: 'date-time', example: EXAMPLE_SCHEDULE.next_fire_at })
  next_fire_at!: string | null;
  @ApiProperty({ format: 'date-time', example: EXAMPLE_SCHEDULE.created_at })
  created_at!: string;
}

export class ScheduleListModel {
  @ApiProperty({ enum: ['list'] })
  object!: 'list';
  @ApiProperty({ type: [ScheduleModel] })
  data!: ScheduleModel[];
  @ApiProperty({ description: 'True when more items follow the last one; pass its id as starting_after.' })
  has_more!: boolean;
}

export class UpcomingFireModel implements UpcomingFire {
  @ApiProperty({ format: 'date-time', example: '2026-03-29T01:00:00.000Z' })
  fire_at!: string;
  @ApiProperty({ enum: ['first', 'dst_shifted'], description: '`dst_shifted`: the named local time does not exist that day (spring forward).' })
  fire_kind!: Extract<FireKind, 'first' | 'dst_shifted'>;
}

export class UpcomingFireListModel {
  @ApiProperty({ enum: ['list'] })
  object!: 'list';
  @ApiProperty({ type: [UpcomingFireModel] })
  data!: UpcomingFireModel[];
  @ApiProperty({ description: 'True when the schedule fires again after the last listed fire.' })
  has_more!: boolean;
}

const FIRE_KINDS: FireKind[] = ['first', 'retry', 'reclaim', 'rate_limited', 'breaker_deferred', 'coalesced', 'dst_shifted', 'catch_up', 'replay'];

export class AttemptModel implements AttemptRecord {
  @ApiProperty({ type: 'integer', minimum: 1 })
  n!: number;
  @ApiProperty({ enum: FIRE_KINDS })
  fire_kind!: FireKind;
  @ApiProperty({ format: 'date-time' })
  scheduled_for!: string;
  @ApiProperty({ format: 'date-time', description: 'When the first byte of the request went out.' })
  fired_at!: string;
  @ApiProperty({ type: 'integer', nullable: true })
  status_code!: number | null;
  @ApiProperty({ type: 'integer' })
  duration_ms!: number;
  @ApiProperty({ type: String, nullable: true, description: 'The first 4 KiB of the response body.' })
  response_body!: string | null;
  @ApiProperty({ type: String, nullable: true })
  error!: string | null;
  @ApiProperty()
  mocked!: boolean;
}

export class DeliveryModel implements DeliveryView {
  @ApiProperty({ example: 'dlv_9fQpX2mLr4TzW7yVb1Nc0d' })
  id!: string;
  @ApiProperty({ enum: ['delivery'] })
  object!: 'delivery';
  @ApiProperty({ enum: ENVIRONMENTS })
  mode!: Environment;
  @ApiProperty({ type: String, nullable: true, description: 'The schedule id; null for platform-webhook deliveries.' })
  schedule!: string | null;
  @ApiPropertyOptional({ description: 'Platform-webhook deliveries only: the webhook endpoint id (SPEC §6).' })
  webhook_endpoint?: string;
  @ApiProperty({ enum: ['scheduled', 'delivering', 'succeeded', 'retrying', 'dead_lettered', 'canceled'] })
  state!: DeliveryState;
  @ApiProperty({ enum: FIRE_KINDS })
  fire_kind!: FireKind;
  @ApiProperty({ format: 'date-time' })
  scheduled_for!: string;
  @ApiProperty({ type: [AttemptModel] })
  attempts!: AttemptModel[];
  @ApiProperty({ format: 'date-time' })
  created_at!: string;
}

export class DeliveryListModel {
  @ApiProperty({ enum: ['list'] })
  object!: 'list';
  @ApiProperty({ type: [DeliveryModel] })
  data!: DeliveryModel[];
  @ApiProperty()
  has_more!: boolean;
}

export class ErrorDetailModel implements Omit<ApiErrorBody, 'status'> {
  @ApiProperty({ enum: ['invalid_request_error', 'authentication_error', 'permission_error', 'idempotency_error', 'rate_limit_error', 'api_error'] })
  type!: ApiErrorBody['type'];
  @ApiProperty({ example: 'parameter_invalid', description: 'A stable, machine-readable code.' })
  code!: string;
  @ApiProperty({ example: 'delay must be a duration such as "30s", "5m", "1h30m" or "2d"' })
  message!: string;
  @ApiProperty({ type: String, nullable: true, example: 'delay', description: 'The offending parameter, as a dotted path (`headers.x-foo`).' })
  param!: string;
  @ApiProperty({ example: 'req_8sPq2LmXr0TzW7yVb1Nc4k', description: 'Also sent as the Request-Id header.' })
  request_id!: string;
}

/** SPEC §8: every error response. */
export class ErrorModel {
  @ApiProperty({ type: ErrorDetailModel })
  error!: ErrorDetailModel;
}
