import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Patch, Post, Query, UseGuards, UsePipes } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import { ApiTags } from '@nestjs/swagger';
import { type Caller, type DeletedObject, type ListResult, type MemberAdded, type MemberView, PATTERNS, type Scope } from '@schedstack/contracts';
import { BUS_CLIENT } from '@schedstack/messaging';
import { request } from '@schedstack/platform';
import { AddMemberDto, ListPageDto, UpdateMemberDto } from './access.dto';
import { ApiKeyGuard, CurrentScope } from './api-key.guard';
import { CurrentCaller, RequirePermission } from './caller';
import { CredentialsCache } from './credentials.cache';
import { parseLimit } from './pagination';
import { apiValidationPipe } from './validation';

/** SPEC §2 users and roles of the project: readable everywhere, written through live only. */
@ApiTags('members')
@Controller('v1/members')
@UseGuards(ApiKeyGuard)
@UsePipes(apiValidationPipe)
export class MembersHttpController {
  constructor(
    @Inject(BUS_CLIENT) private readonly bus: ClientProxy,
    private readonly credentials: CredentialsCache,
  ) {}

  @Get()
  list(@CurrentScope() scope: Scope, @Query() query: ListPageDto): Promise<ListResult<MemberView>> {
    return request(this.bus, PATTERNS.environments.listMembers, { scope, limit: parseLimit(query.limit), starting_after: query.starting_after });
  }

  @Post()
  @HttpCode(201)
  @RequirePermission('manage_members')
  add(@CurrentScope() scope: Scope, @CurrentCaller() caller: Caller, @Body() dto: AddMemberDto): Promise<MemberAdded> {
    return request(this.bus, PATTERNS.environments.addMember, { scope, caller, email: dto.email, role: dto.role });
  }

  @Patch(':user')
  @RequirePermission('manage_members')
  async update(@CurrentScope() scope: Scope, @CurrentCaller() caller: Caller, @Param('user') user: string, @Body() dto: UpdateMemberDto): Promise<MemberView> {
    const updated = await request<MemberView>(this.bus, PATTERNS.environments.updateMember, { scope, caller, user_id: user, role: dto.role });
    this.credentials.forgetUser(user);
    return updated;
  }

  @Delete(':user')
  @RequirePermission('manage_members')
  async remove(@CurrentScope() scope: Scope, @CurrentCaller() caller: Caller, @Param('user') user: string): Promise<DeletedObject> {
    const removed = await request<DeletedObject>(this.bus, PATTERNS.environments.removeMember, { scope, caller, user_id: user });
    this.credentials.forgetUser(user);
    return removed;
  }
}
