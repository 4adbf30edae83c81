import { Controller, Get, HttpCode, Inject, Post, UseGuards } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { type Environment, ENVIRONMENTS, PATTERNS, type Scope, type SigningSecretView } from '@schedstack/contracts';
import { BUS_CLIENT } from '@schedstack/messaging';
import { request } from '@schedstack/platform';
import { RequirePermission } from './caller';
import { ApiKeyGuard, CurrentScope } from './api-key.guard';

export class SigningSecretModel implements SigningSecretView {
  @ApiProperty({ enum: ['signing_secret'] })
  object!: 'signing_secret';
  @ApiProperty({ enum: ENVIRONMENTS })
  mode!: Environment;
  @ApiProperty({ description: 'Signs every delivery (Standard Webhooks and Sched-Signature).', example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' })
  secret!: string;
  @ApiProperty({ type: String, nullable: true, description: 'Still signing during a rotation, until previous_expires_at.' })
  previous_secret!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  previous_expires_at!: string | null;
  @ApiProperty({ format: 'date-time', description: 'When the current secret was created.' })
  created_at!: string;
}

/** SPEC §9: the environment's `whsec_…` delivery signing secret(s), and rotation. */
@ApiTags('signing-secret')
@Controller('v1/signing-secret')
@UseGuards(ApiKeyGuard)
export class SigningSecretHttpController {
  constructor(@Inject(BUS_CLIENT) private readonly bus: ClientProxy) {}

  // The secret signs deliveries: reading it is as sensitive as minting a key.
  @RequirePermission('manage_keys')
  @Get()
  @ApiOperation({ summary: "Retrieve the environment's signing secret", description: 'Created on first use. See docs/dispatcher.md for verifying signatures.' })
  @ApiOkResponse({ type: SigningSecretModel })
  get(@CurrentScope() scope: Scope): Promise<SigningSecretView> {
    return request(this.bus, PATTERNS.dispatcher.getSigningSecret, { scope });
  }

  /** The new secret signs at once; the previous one keeps signing for 24 hours. */
  @RequirePermission('manage_keys')
  @Post('rotate')
  @HttpCode(200)
  @ApiOperation({ summary: 'Rotate the signing secret', description: 'The new secret signs at once; the previous one keeps signing for 24 hours.' })
  @ApiOkResponse({ type: SigningSecretModel })
  rotate(@CurrentScope() scope: Scope): Promise<SigningSecretView> {
    return request(this.bus, PATTERNS.dispatcher.rotateSigningSecret, { scope });
  }
}
