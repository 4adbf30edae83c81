import { ApiProperty, ApiPropertyOptional, PartialType } from '@nestjs/swagger';
import { DATASET_FIELD_TYPES, type DatasetFieldType } from '@schedstack/contracts';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsBoolean, IsIn, IsInt, IsObject, IsOptional, IsString, ValidateNested } from 'class-validator';
import { FieldRule, outboundHeadersProblem } from './field-rules';

/**
 * SPEC §5/§9 configuration bodies. Types and shapes are checked here; names, ranges and durations
 * (parsed by the time lib) are the environments domain's, which names the field the same way.
 * On PATCH every field is optional, and `null` clears an optional one.
 */

const DURATION = { description: 'A duration: `30s`, `5m`, `1h30m`, `2d`.', example: '30s' };

export class BackoffDto {
  @ApiProperty({ ...DURATION, example: '1s' })
  @IsString({ message: 'backoff.initial must be a duration string such as "1s"' })
  initial!: string;

  @ApiProperty({ ...DURATION, example: '1h' })
  @IsString({ message: 'backoff.max must be a duration string such as "1h"' })
  max!: string;
}

export class RateLimitDto {
  @ApiProperty({ minimum: 1, example: 10 })
  @IsInt({ message: 'rate_limit.requests must be an integer' })
  requests!: number;

  @ApiProperty({ ...DURATION, example: '1s' })
  @IsString({ message: 'rate_limit.per must be a duration string such as "1s"' })
  per!: string;
}

export class BreakerDto {
  @ApiProperty({ minimum: 1, example: 5 })
  @IsInt({ message: 'breaker.failure_threshold must be an integer' })
  failure_threshold!: number;

  @ApiProperty({ ...DURATION, example: '30s' })
  @IsString({ message: 'breaker.cool_down must be a duration string such as "30s"' })
  cool_down!: string;
}

export class CreateProcessDto {
  @ApiProperty({ description: 'Unique in the environment; schedules name it in `process`.', example: 'billing-vendor' })
  @IsString({ message: 'name must be a string' })
  name!: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 100, description: 'Default 8.' })
  @IsOptional()
  @IsInt({ message: 'max_attempts must be an integer' })
  max_attempts?: number | null;

  @ApiPropertyOptional({ type: BackoffDto, nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => BackoffDto)
  backoff?: BackoffDto | null;

  @ApiPropertyOptional({ ...DURATION, description: 'Request timeout (default 30s).' })
  @IsOptional()
  @IsString({ message: 'timeout must be a duration string such as "30s"' })
  timeout?: string | null;

  @ApiPropertyOptional({ type: RateLimitDto, nullable: true, description: 'At most `requests` per `per` to one origin.' })
  @IsOptional()
  @ValidateNested()
  @Type(() => RateLimitDto)
  rate_limit?: RateLimitDto | null;

  @ApiPropertyOptional({ type: BreakerDto, nullable: true, description: 'Open after `failure_threshold` consecutive failures, for `cool_down`.' })
  @IsOptional()
  @ValidateNested()
  @Type(() => BreakerDto)
  breaker?: BreakerDto | null;

  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' }, description: 'Extra request headers; a schedule’s own headers win.' })
  @IsOptional()
  @FieldRule('outboundHeaders', outboundHeadersProblem)
  headers?: Record<string, string>;

  @ApiPropertyOptional({ default: false, description: 'A third-party vendor target: mocked (not sent) in sandbox and test.' })
  @IsOptional()
  @IsBoolean({ message: 'vendor must be true or false' })
  vendor?: boolean;
}
export class UpdateProcessDto extends PartialType(CreateProcessDto) {}

export class CreateThemeDto {
  @ApiProperty({ example: 'default' })
  @IsString({ message: 'name must be a string' })
  name!: string;

  @ApiPropertyOptional({ example: 'Acme Scheduler' })
  @IsOptional()
  @IsString({ message: 'product_name must be a string' })
  product_name?: string | null;

  @ApiPropertyOptional({ format: 'uri', example: 'https://example.com/logo.svg' })
  @IsOptional()
  @IsString({ message: 'logo_url must be an http(s) URL string' })
  logo_url?: string | null;

  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' }, example: { primary: '#0a66c2', background: '#ffffff' } })
  @IsOptional()
  @IsObject({ message: 'colors must be an object of colour roles to hex colours' })
  colors?: Record<string, string>;
}
export class UpdateThemeDto extends PartialType(CreateThemeDto) {}

export class CreateFieldDto {
  @ApiProperty({ description: 'The metadata key it defines.', example: 'customer_id' })
  @IsString({ message: 'name must be a string' })
  name!: string;

  @ApiProperty({ enum: DATASET_FIELD_TYPES })
  @IsIn(DATASET_FIELD_TYPES, { message: `type must be one of ${DATASET_FIELD_TYPES.join(', ')}` })
  type!: DatasetFieldType;

  @ApiPropertyOptional({ default: false })
  @IsOptional()
  @IsBoolean({ message: 'required must be true or false' })
  required?: boolean;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString({ message: 'description must be a string' })
  description?: string | null;
}
export class UpdateFieldDto extends PartialType(CreateFieldDto) {}

export class CreateTranslationDto {
  @ApiProperty({ description: 'A BCP 47 language tag, unique in the environment.', example: 'de-CH' })
  @IsString({ message: 'locale must be a string' })
  locale!: string;

  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' }, example: { 'delivery.failed': 'Zustellung fehlgeschlagen' } })
  @IsOptional()
  @IsObject({ message: 'messages must be an object of keys to texts' })
  messages?: Record<string, string>;
}
export class UpdateTranslationDto extends PartialType(CreateTranslationDto) {}

export class DatasetFieldDto {
  @ApiProperty({ example: 'email' })
  @IsString({ message: 'name must be a string' })
  name!: string;

  @ApiProperty({ enum: DATASET_FIELD_TYPES })
  @IsIn(DATASET_FIELD_TYPES, { message: `type must be one of ${DATASET_FIELD_TYPES.join(', ')}` })
  type!: DatasetFieldType;

  @ApiPropertyOptional({ default: false })
  @IsOptional()
  @IsBoolean({ message: 'required must be true or false' })
  required?: boolean;
}

export class CreateDatasetSchemaDto {
  @ApiProperty({ description: 'Unique in the environment; used in /v1/datasets/{schema}/rows.', example: 'customers' })
  @IsString({ message: 'name must be a string' })
  name!: string;

  @ApiProperty({ type: [DatasetFieldDto] })
  @IsArray({ message: 'fields must be a list of field definitions' })
  @ArrayMaxSize(100, { message: 'fields may hold at most 100 definitions' })
  @ValidateNested({ each: true })
  @Type(() => DatasetFieldDto)
  fields!: DatasetFieldDto[];
}
export class UpdateDatasetSchemaDto extends PartialType(CreateDatasetSchemaDto) {}
