import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { MEMBER_ROLES, type MemberRole } from '@schedstack/contracts';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, MaxLength } from 'class-validator';

/** `POST /v1/sessions` (SPEC §9). */
export class LoginDto {
  @ApiProperty({ format: 'email', example: 'owner@schedstack.local' })
  @IsString({ message: 'email must be a string' })
  @MaxLength(320, { message: 'email must be at most 320 characters' })
  email!: string;

  @ApiProperty({ format: 'password' })
  @IsString({ message: 'password must be a string' })
  @MaxLength(1024, { message: 'password must be at most 1024 characters' })
  password!: string;
}

/** `POST /v1/members`: adds a user (created when the e-mail is new) with a role. */
export class AddMemberDto {
  @ApiProperty({ format: 'email', example: 'dev@example.com' })
  @IsString({ message: 'email must be an e-mail address' })
  @MaxLength(320, { message: 'email must be at most 320 characters' })
  email!: string;

  @ApiProperty({ enum: MEMBER_ROLES })
  @IsIn(MEMBER_ROLES, { message: `role must be one of ${MEMBER_ROLES.join(', ')}` })
  role!: MemberRole;
}

/** `PATCH /v1/members/{user}`. */
export class UpdateMemberDto {
  @ApiProperty({ enum: MEMBER_ROLES })
  @IsIn(MEMBER_ROLES, { message: `role must be one of ${MEMBER_ROLES.join(', ')}` })
  role!: MemberRole;
}

/** `POST /v1/api-keys`. */
export class CreateApiKeyDto {
  @ApiPropertyOptional({ maxLength: 100, example: 'CI deploys' })
  @IsOptional()
  @IsString({ message: 'name must be a string' })
  @MaxLength(100, { message: 'name must be at most 100 characters' })
  name?: string;
}

/** `limit` and `starting_after` of a list (SPEC §9). */
export class ListPageDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 10 })
  @IsOptional()
  @IsString()
  limit?: string;

  @ApiPropertyOptional({ description: 'The id of the last object of the previous page.' })
  @IsOptional()
  @IsString()
  starting_after?: string;
}

/** `POST /v1/environments/{sandbox|test}/clone`. */
export class CloneDto {
  @ApiPropertyOptional({ default: false, description: 'Only compute the diff; change nothing.' })
  @IsOptional()
  @IsBoolean({ message: 'dry_run must be true or false' })
  dry_run?: boolean;

  @ApiPropertyOptional({ default: 'live', description: 'The source environment: configuration is cloned from live only.' })
  @IsOptional()
  @IsString({ message: 'source must be an environment name' })
  source?: string;
}

/** `PATCH /v1/limits`: a quota of null is unlimited. */
export class UpdateLimitsDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 100000, description: 'Requests per second per API key or console session.' })
  @IsOptional()
  @IsInt({ message: 'requests_per_second must be an integer' })
  requests_per_second?: number;

  @ApiPropertyOptional({ type: Number, nullable: true, minimum: 0, description: 'Schedules active or paused at one time; null: unlimited.' })
  @IsOptional()
  @IsInt({ message: 'active_schedules must be an integer or null' })
  active_schedules?: number | null;

  @ApiPropertyOptional({ type: Number, nullable: true, minimum: 0, description: 'Deliveries per UTC day; null: unlimited.' })
  @IsOptional()
  @IsInt({ message: 'deliveries_per_day must be an integer or null' })
  deliveries_per_day?: number | null;
}
