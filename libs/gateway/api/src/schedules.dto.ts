import { ApiPropertyOptional, ApiProperty } from '@nestjs/swagger';
import { type CatchUpPolicy, type ScheduleMetadata } from '@schedstack/contracts';
import { IsIn, IsInt, IsOptional, IsString, IsUrl, Matches, Max, MaxLength, Min } from 'class-validator';
import { FieldRule, metadataProblem, outboundHeadersProblem } from './field-rules';

export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;
export const SCHEDULE_STATES = ['active', 'paused', 'completed', 'canceled'] as const;
const CATCH_UP_POLICIES: readonly CatchUpPolicy[] = ['coalesce', 'skip', 'all'];

/**
 * `POST /v1/schedules` (SPEC §3). Shapes and types are checked here; rules that need the clock or
 * the time zone database (exactly one trigger, a valid cron, run_at not in the past…) live in the
 * schedules domain. A field sent as null counts as not sent.
 */
export class CreateScheduleDto {
  @ApiProperty({ format: 'uri', maxLength: 2048, description: 'The http(s) URL to call.', example: 'https://example.com/hooks/orders' })
  @IsUrl({ protocols: ['http', 'https'], require_protocol: true, require_tld: false }, { message: 'endpoint must be an http(s) URL' })
  @MaxLength(2048, { message: 'endpoint must be at most 2048 characters' })
  @IsString({ message: 'endpoint must be an http(s) URL string' })
  endpoint!: string;

  @ApiPropertyOptional({ enum: HTTP_METHODS, default: 'POST' })
  @IsOptional()
  @IsIn(HTTP_METHODS, { message: `method must be one of ${HTTP_METHODS.join(', ')}` })
  method?: (typeof HTTP_METHODS)[number];

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string' },
    description: 'Request headers. Hop-by-hop headers (Connection, Transfer-Encoding, Proxy-*…), Host, Content-Length and Sched-*/webhook-* are refused.',
    example: { 'content-type': 'application/json' },
  })
  @IsOptional()
  @FieldRule('outboundHeaders', outboundHeadersProblem)
  headers?: Record<string, string>;

  @ApiPropertyOptional({ description: 'The request body, as a string (send JSON as a string).', example: '{"order_id":"ord_123"}' })
  @IsOptional()
  @IsString({ message: 'body must be a string (send JSON as a string)' })
  body?: string;

  @ApiPropertyOptional({ description: 'Fire once after this long: `30s`, `5m`, `1h30m`, `2d`.', example: '30s' })
  @IsOptional()
  @IsString({ message: 'delay must be a duration string such as "30s"' })
  delay?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Fire once at this RFC 3339 instant; at most 5 minutes in the past (it then fires at once).' })
  @IsOptional()
  @IsString({ message: 'run_at must be an RFC 3339 timestamp string' })
  run_at?: string;

  @ApiPropertyOptional({ description: 'Fire on this cron expression: 5 fields, or 6 with seconds first.', example: '0 9 * * 1-5' })
  @IsOptional()
  @IsString({ message: 'cron must be a string of 5 or 6 fields' })
  cron?: string;

  @ApiPropertyOptional({ description: 'IANA time zone of a cron schedule.', default: 'UTC', example: 'Europe/Berlin' })
  @IsOptional()
  @IsString({ message: 'timezone must be an IANA time zone name' })
  timezone?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Cron schedules: no fire after this instant; the schedule then completes.' })
  @IsOptional()
  @IsString({ message: 'ends_at must be an RFC 3339 timestamp string' })
  ends_at?: string;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 1_000_000, description: 'Cron schedules: complete after this many fires.' })
  @IsOptional()
  @Max(1_000_000, { message: 'max_fires must be at most 1000000' })
  @Min(1, { message: 'max_fires must be at least 1' })
  @IsInt({ message: 'max_fires must be an integer' })
  max_fires?: number;

  @ApiPropertyOptional({ enum: CATCH_UP_POLICIES, default: 'coalesce', description: 'Cron schedules: what to do with fires missed while SchedStack was down.' })
  @IsOptional()
  @IsIn(CATCH_UP_POLICIES, { message: 'catch_up must be one of coalesce, skip, all' })
  catch_up?: CatchUpPolicy;

  @ApiPropertyOptional({ default: '1h', description: 'Cron schedules: how far back missed fires are caught up (at most 7d).' })
  @IsOptional()
  @IsString({ message: 'catch_up_window must be a duration string such as "1h"' })
  catch_up_window?: string;

  @ApiPropertyOptional({ maxLength: 64, description: 'Name of the process (delivery policy) to use.', example: 'billing' })
  @IsOptional()
  @Matches(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, { message: 'process must be a process name: letters, digits, _ . -, at most 64 characters' })
  @IsString({ message: 'process must be a string' })
  process?: string;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { oneOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] },
    description: 'Up to 50 keys (≤ 40 characters) with string (≤ 500), number or boolean values.',
    example: { order_id: 'ord_123' },
  })
  @IsOptional()
  @FieldRule('scheduleMetadata', metadataProblem)
  metadata?: ScheduleMetadata;

  @ApiPropertyOptional({ maxLength: 255, description: 'The Idempotency-Key header, sent in the body instead.' })
  @IsOptional()
  @IsString({ message: 'idempotency_key must be a string' })
  @MaxLength(255, { message: 'idempotency_key must be at most 255 characters' })
  idempotency_key?: string;
}

/** Body of `POST /v1/schedules/{id}/pause|resume`: nothing but an optional idempotency key. */
export class ScheduleActionDto {
  @ApiPropertyOptional({ maxLength: 255, description: 'The Idempotency-Key header, sent in the body instead.' })
  @IsOptional()
  @IsString({ message: 'idempotency_key must be a string' })
  @MaxLength(255, { message: 'idempotency_key must be at most 255 characters' })
  idempotency_key?: string;
}

export class ListSchedulesDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 100, default: 10 })
  @IsOptional()
  @IsString()
  limit?: string;

  @ApiPropertyOptional({ description: 'A schedule id: list the schedules after it (newest first).' })
  @IsOptional()
  @IsString()
  starting_after?: string;

  @ApiPropertyOptional({ enum: SCHEDULE_STATES })
  @IsOptional()
  @IsIn(SCHEDULE_STATES, { message: `state must be one of ${SCHEDULE_STATES.join(', ')}` })
  state?: string;
}

export class UpcomingFiresDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 100, default: 10 })
  @IsOptional()
  @IsString()
  count?: string;
}

export class ListDeliveriesDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 100, default: 10 })
  @IsOptional()
  @IsString()
  limit?: string;

  @ApiPropertyOptional({ description: 'A delivery id: list the deliveries after it (newest first).' })
  @IsOptional()
  @IsString()
  starting_after?: string;

  @ApiPropertyOptional({ description: 'Only the deliveries of this schedule id.' })
  @IsOptional()
  @IsString()
  schedule?: string;

  @ApiPropertyOptional({ description: 'Only the platform-webhook deliveries to this webhook endpoint id.' })
  @IsOptional()
  @IsString()
  webhook_endpoint?: string;

  @ApiPropertyOptional({ enum: ['scheduled', 'delivering', 'succeeded', 'retrying', 'dead_lettered', 'canceled'] })
  @IsOptional()
  @IsIn(['scheduled', 'delivering', 'succeeded', 'retrying', 'dead_lettered', 'canceled'])
  state?: string;
}
