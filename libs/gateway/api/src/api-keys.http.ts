import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Query, UseGuards, UsePipes } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import { ApiTags } from '@nestjs/swagger';
import { type ApiKeyCreated, type ApiKeyView, type DeletedObject, type ListResult, PATTERNS, type Scope } from '@schedstack/contracts';
import { BUS_CLIENT } from '@schedstack/messaging';
import { request } from '@schedstack/platform';
import { CreateApiKeyDto, ListPageDto } from './access.dto';
import { ApiKeyGuard, CurrentScope } from './api-key.guard';
import { RequirePermission } from './caller';
import { CredentialsCache } from './credentials.cache';
import { parseLimit } from './pagination';
import { apiValidationPipe } from './validation';

/** SPEC §2 API keys of the caller's environment: mint (secret shown once), list masked, revoke. */
@ApiTags('api-keys')
@Controller('v1/api-keys')
@UseGuards(ApiKeyGuard)
@UsePipes(apiValidationPipe)
export class ApiKeysHttpController {
  constructor(
    @Inject(BUS_CLIENT) private readonly bus: ClientProxy,
    private readonly credentials: CredentialsCache,
  ) {}

  @Post()
  @HttpCode(201)
  @RequirePermission('manage_keys')
  create(@CurrentScope() scope: Scope, @Body() dto: CreateApiKeyDto): Promise<ApiKeyCreated> {
    return request(this.bus, PATTERNS.environments.mintApiKey, { scope, name: dto.name ?? null });
  }

  @Get()
  list(@CurrentScope() scope: Scope, @Query() query: ListPageDto): Promise<ListResult<ApiKeyView>> {
    return request(this.bus, PATTERNS.environments.listApiKeys, { scope, limit: parseLimit(query.limit), starting_after: query.starting_after });
  }

  @Delete(':id')
  @RequirePermission('manage_keys')
  async revoke(@CurrentScope() scope: Scope, @Param('id') id: string): Promise<DeletedObject> {
    const revoked = await request<DeletedObject>(this.bus, PATTERNS.environments.revokeApiKey, { scope, id });
    // Effective at once on this gateway; other replicas forget it within the cache TTL.
    this.credentials.forgetKey(id);
    return revoked;
  }
}
