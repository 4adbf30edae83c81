import { IsIn, IsObject, IsOptional, IsString, IsUrl, MaxLength } from 'class-validator';

export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;

/** `POST /v1/schedules` (SPEC §3). Semantic rules (exactly one trigger, valid cron…) live in the domain. */
export class CreateScheduleDto {
  @IsUrl({ protocols: ['http', 'https'], require_protocol: true, require_tld: false }, { message: 'endpoint must be an http(s) URL' })
  @MaxLength(2048)
  endpoint!: string;

  @IsOptional()
  @IsIn(HTTP_METHODS, { message: `method must be one of ${HTTP_METHODS.join(', ')}` })
  method?: (typeof HTTP_METHODS)[number];

  @IsOptional()
  @IsObject({ message: 'headers must be an object of header names to string values' })
  headers?: Record<string, string>;

  @IsOptional()
  @IsString({ message: 'body must be a string (send JSON as a string)' })
  body?: string;

  @IsOptional()
  @IsString({ message: 'delay must be a duration string such as "30s"' })
  delay?: string;

  @IsOptional()
  @IsString({ message: 'run_at must be an RFC 3339 timestamp string' })
  run_at?: string;

  @IsOptional()
  @IsString({ message: 'cron must be a string of 5 or 6 fields' })
  cron?: string;

  @IsOptional()
  @IsString({ message: 'timezone must be an IANA time zone name' })
  timezone?: string;
}

export class ListSchedulesDto {
  @IsOptional()
  @IsString()
  limit?: string;

  @IsOptional()
  @IsString()
  starting_after?: string;

  @IsOptional()
  @IsIn(['active', 'paused', 'completed', 'canceled'])
  state?: string;
}

export class ListDeliveriesDto {
  @IsOptional()
  @IsString()
  limit?: string;

  @IsOptional()
  @IsString()
  starting_after?: string;

  @IsOptional()
  @IsString()
  schedule?: string;

  @IsOptional()
  @IsIn(['scheduled', 'delivering', 'succeeded', 'retrying', 'dead_lettered', 'canceled'])
  state?: string;
}
