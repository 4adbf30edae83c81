import { Body, Controller, Delete, HttpCode, Inject, Post, Req, UseGuards, UsePipes } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import { ApiTags } from '@nestjs/swagger';
import { ApiError, type Caller, PATTERNS, type SessionCreated } from '@schedstack/contracts';
import { BUS_CLIENT } from '@schedstack/messaging';
import { request } from '@schedstack/platform';
import type { Request } from 'express';
import { LoginDto } from './access.dto';
import { ApiKeyGuard } from './api-key.guard';
import { CurrentCaller, RequirePermission } from './caller';
import { CredentialsCache } from './credentials.cache';
import { apiValidationPipe } from './validation';

/** SPEC §2/§9 console login and logout. */
@ApiTags('sessions')
@Controller('v1/sessions')
@UsePipes(apiValidationPipe)
export class SessionsHttpController {
  constructor(
    @Inject(BUS_CLIENT) private readonly bus: ClientProxy,
    private readonly credentials: CredentialsCache,
  ) {}

  @Post()
  @HttpCode(201)
  login(@Body() dto: LoginDto): Promise<SessionCreated> {
    return request(this.bus, PATTERNS.environments.login, { email: dto.email, password: dto.password });
  }

  @Delete('current')
  @UseGuards(ApiKeyGuard)
  // Every signed-in user may end their own session.
  @RequirePermission('read')
  async logout(@CurrentCaller() caller: Caller, @Req() req: Request): Promise<{ object: 'session'; deleted: true }> {
    if (caller.kind !== 'session') throw ApiError.invalid('Authorization', 'Only a console session (Bearer sess_…) can be logged out', 'session_required');
    const token = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
    const ended = await request<{ object: 'session'; deleted: true }>(this.bus, PATTERNS.environments.logout, { token });
    this.credentials.forgetSession(caller.session_id);
    return ended;
  }
}
