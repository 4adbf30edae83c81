import { MessagePattern, Payload } from '@nestjs/microservices';
import {
  type AddMemberCommand,
  type ListApiKeysQuery,
  type ListMembersQuery,
  type LoginCommand,
  type MintApiKeyCommand,
  PATTERNS,
  type RemoveMemberCommand,
  type RevokeApiKeyCommand,
  type SessionTokenQuery,
  type UpdateMemberCommand,
} from '@schedstack/contracts';
import { BusController } from '@schedstack/platform';
import { ApiKeysApplication } from './api-keys.application';
import { MembersApplication } from './members.application';
import { SessionsApplication } from './sessions.application';

/** Sessions, members and API keys over the bus (SPEC §2). */
@BusController()
export class AccessController {
  constructor(
    private readonly sessions: SessionsApplication,
    private readonly members: MembersApplication,
    private readonly apiKeys: ApiKeysApplication,
  ) {}

  @MessagePattern(PATTERNS.environments.login)
  login(@Payload() command: LoginCommand) {
    return this.sessions.login(command);
  }

  @MessagePattern(PATTERNS.environments.verifySession)
  verifySession(@Payload() query: SessionTokenQuery) {
    return this.sessions.verify(query);
  }

  @MessagePattern(PATTERNS.environments.logout)
  logout(@Payload() command: SessionTokenQuery) {
    return this.sessions.logout(command);
  }

  @MessagePattern(PATTERNS.environments.listMembers)
  listMembers(@Payload() query: ListMembersQuery) {
    return this.members.list(query);
  }

  @MessagePattern(PATTERNS.environments.addMember)
  addMember(@Payload() command: AddMemberCommand) {
    return this.members.add(command);
  }

  @MessagePattern(PATTERNS.environments.updateMember)
  updateMember(@Payload() command: UpdateMemberCommand) {
    return this.members.update(command);
  }

  @MessagePattern(PATTERNS.environments.removeMember)
  removeMember(@Payload() command: RemoveMemberCommand) {
    return this.members.remove(command);
  }

  @MessagePattern(PATTERNS.environments.mintApiKey)
  mintApiKey(@Payload() command: MintApiKeyCommand) {
    return this.apiKeys.mint(command);
  }

  @MessagePattern(PATTERNS.environments.listApiKeys)
  listApiKeys(@Payload() query: ListApiKeysQuery) {
    return this.apiKeys.list(query);
  }

  @MessagePattern(PATTERNS.environments.revokeApiKey)
  revokeApiKey(@Payload() command: RevokeApiKeyCommand) {
    return this.apiKeys.revoke(command);
  }
}
