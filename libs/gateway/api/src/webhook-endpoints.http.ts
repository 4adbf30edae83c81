import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Patch, Post, Query, UseGuards, UsePipes } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiParam, ApiProperty, ApiPropertyOptional, ApiTags, PartialType } from '@nestjs/swagger';
import {
  type DeletedObject,
  type Environment,
  ENVIRONMENTS,
  type ListResult,
  PATTERNS,
  type Scope,
  WEBHOOK_EVENT_TYPES,
  type WebhookEndpointView,
  type WebhookEndpointWithSecret,
} from '@schedstack/contracts';
import { BUS_CLIENT } from '@schedstack/messaging';
import { request } from '@schedstack/platform';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsBoolean, IsIn, IsOptional, IsString, IsUrl, MaxLength } from 'class-validator';
import { ListPageDto } from './access.dto';
import { ApiKeyGuard, CurrentScope } from './api-key.guard';
import { RequirePermission } from './caller';
import { ApiErrors, invalid, notFound } from './openapi.errors';
import { parseLimit } from './pagination';
import { apiValidationPipe } from './validation';

const EVENT_CHOICES = [...WEBHOOK_EVENT_TYPES, '*'];
const EXAMPLE_ID = 'we_4hTq9mYcN2pLx7Rv0bZ1aQ';
const ID_PARAM = { name: 'id', description: 'The webhook endpoint id.', example: EXAMPLE_ID };
const URL_OPTIONS = { require_protocol: true, protocols: ['http', 'https'], require_tld: false };

export class CreateWebhookEndpointDto {
  @ApiProperty({ example: 'https://example.com/schedstack/events' })
  @IsUrl(URL_OPTIONS, { message: 'url must be an http(s) URL' })
  url!: string;

  @ApiPropertyOptional({ type: [String], enum: EVENT_CHOICES, default: ['*'], description: 'Event types to receive, or `*` for all.' })
  @IsOptional()
  @IsArray({ message: 'events must be an array of event types' })
  @ArrayMinSize(1, { message: 'events must name at least one event type' })
  @ArrayMaxSize(20)
  @IsIn(EVENT_CHOICES, { each: true, message: `events must contain only ${EVENT_CHOICES.join(', ')}` })
  events?: string[];

  @ApiPropertyOptional({ default: true })
  @IsOptional()
  @IsBoolean({ message: 'enabled must be a boolean' })
  enabled?: boolean;

  @ApiPropertyOptional({ type: String, nullable: true, maxLength: 200 })
  @IsOptional()
  @IsString({ message: 'description must be a string' })
  @MaxLength(200)
  description?: string | null;
}

/** PATCH: any field of the create body, each optional. */
export class UpdateWebhookEndpointDto extends PartialType(CreateWebhookEndpointDto) {}

export class WebhookEndpointModel implements WebhookEndpointView {
  @ApiProperty({ example: EXAMPLE_ID })
  id!: string;
  @ApiProperty({ enum: ['webhook_endpoint'] })
  object!: 'webhook_endpoint';
  @ApiProperty({ enum: ENVIRONMENTS })
  mode!: Environment;
  @ApiProperty({ example: 'https://example.com/schedstack/events' })
  url!: string;
  @ApiProperty({ type: String, nullable: true })
  description!: string | null;
  @ApiProperty({ type: [String], example: ['delivery.dead_lettered'] })
  events!: string[];
  @ApiProperty()
  enabled!: boolean;
  @ApiProperty({ format: 'date-time' })
  created_at!: string;
}

export class WebhookEndpointWithSecretModel extends WebhookEndpointModel implements WebhookEndpointWithSecret {
  @ApiProperty({ description: 'Signs every webhook to this endpoint (Standard Webhooks). Shown only in this response.', example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' })
  secret!: string;
}

export class WebhookEndpointListModel {
  @ApiProperty({ enum: ['list'] })
  object!: 'list';
  @ApiProperty({ type: [WebhookEndpointModel] })
  data!: WebhookEndpointModel[];
  @ApiProperty()
  has_more!: boolean;
}

export class DeletedWebhookEndpointModel implements DeletedObject {
  @ApiProperty({ example: EXAMPLE_ID })
  id!: string;
  @ApiProperty({ enum: ['webhook_endpoint'] })
  object!: string;
  @ApiProperty({ enum: [true] })
  deleted!: true;
}

/** SPEC §6: the environment's webhook endpoints; each matching platform event becomes a signed delivery. */
@ApiTags('webhook-endpoints')
@Controller('v1/webhook-endpoints')
@UseGuards(ApiKeyGuard)
@UsePipes(apiValidationPipe)
export class WebhookEndpointsHttpController {
  constructor(@Inject(BUS_CLIENT) private readonly bus: ClientProxy) {}

  @Post()
  @HttpCode(201)
  @RequirePermission('manage_config')
  @ApiOperation({ summary: 'Create a webhook endpoint', description: 'The `whsec_` secret is in this response only; see docs/webhooks.md.' })
  @ApiCreatedResponse({ type: WebhookEndpointWithSecretModel })
  @ApiErrors(invalid('url', 'url must be an http(s) URL'), invalid('events', `events must contain only ${EVENT_CHOICES.join(', ')}`))
  create(@CurrentScope() scope: Scope, @Body() dto: CreateWebhookEndpointDto): Promise<WebhookEndpointWithSecret> {
    return request(this.bus, PATTERNS.webhooks.createEndpoint, { scope, input: dto });
  }

  @Get()
  @ApiOperation({ summary: 'List webhook endpoints', description: 'Newest first.' })
  @ApiOkResponse({ type: WebhookEndpointListModel })
  @ApiErrors(invalid('limit', 'limit must be an integer from 1 to 100'))
  list(@CurrentScope() scope: Scope, @Query() query: ListPageDto): Promise<ListResult<WebhookEndpointView>> {
    return request(this.bus, PATTERNS.webhooks.listEndpoints, { scope, limit: parseLimit(query.limit), starting_after: query.starting_after, filters: {} });
  }

  @Get(':id')
  @ApiOperation({ summary: 'Retrieve a webhook endpoint' })
  @ApiParam(ID_PARAM)
  @ApiOkResponse({ type: WebhookEndpointModel })
  @ApiErrors(notFound('webhook_endpoint', EXAMPLE_ID))
  get(@CurrentScope() scope: Scope, @Param('id') id: string): Promise<WebhookEndpointView> {
    return request(this.bus, PATTERNS.webhooks.getEndpoint, { scope, id });
  }

  @Patch(':id')
  @RequirePermission('manage_config')
  @ApiOperation({ summary: 'Update a webhook endpoint', description: 'Change its URL or event types, or disable it (`enabled: false`).' })
  @ApiParam(ID_PARAM)
  @ApiOkResponse({ type: WebhookEndpointModel })
  @ApiErrors(notFound('webhook_endpoint', EXAMPLE_ID), invalid('url', 'url must be an http(s) URL'))
  update(@CurrentScope() scope: Scope, @Param('id') id: string, @Body() dto: UpdateWebhookEndpointDto): Promise<WebhookEndpointView> {
    return request(this.bus, PATTERNS.webhooks.updateEndpoint, { scope, id, input: dto });
  }

  @Delete(':id')
  @RequirePermission('manage_config')
  @ApiOperation({ summary: 'Delete a webhook endpoint', description: 'Its pending webhook deliveries are canceled.' })
  @ApiParam(ID_PARAM)
  @ApiOkResponse({ type: DeletedWebhookEndpointModel })
  @ApiErrors(notFound('webhook_endpoint', EXAMPLE_ID))
  remove(@CurrentScope() scope: Scope, @Param('id') id: string): Promise<DeletedObject> {
    return request(this.bus, PATTERNS.webhooks.deleteEndpoint, { scope, id });
  }

  @Post(':id/rotate-secret')
  @HttpCode(200)
  @RequirePermission('manage_config')
  @ApiOperation({ summary: "Rotate a webhook endpoint's secret", description: 'The new secret signs every later attempt, retries included; it is in this response only.' })
  @ApiParam(ID_PARAM)
  @ApiOkResponse({ type: WebhookEndpointWithSecretModel })
  @ApiErrors(notFound('webhook_endpoint', EXAMPLE_ID))
  rotateSecret(@CurrentScope() scope: Scope, @Param('id') id: string): Promise<WebhookEndpointWithSecret> {
    return request(this.bus, PATTERNS.webhooks.rotateEndpointSecret, { scope, id });
  }
}
