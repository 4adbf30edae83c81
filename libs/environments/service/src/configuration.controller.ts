import { MessagePattern, Payload } from '@nestjs/microservices';
import {
  type CloneCommand,
  type ConfigByIdQuery,
  type CreateConfigCommand,
  type CreateDatasetRowCommand,
  type LimitsQuery,
  type ListConfigQuery,
  type ListDatasetRowsQuery,
  PATTERNS,
  type ProcessByNameQuery,
  type UpdateConfigCommand,
  type UpdateLimitsCommand,
  type ValidateMetadataQuery,
} from '@schedstack/contracts';
import { BusController } from '@schedstack/platform';
import { CloneApplication } from './clone.application';
import { ConfigApplication } from './config.application';
import { DatasetsApplication } from './datasets.application';
import { LimitsApplication } from './limits.application';

/** Configuration resources, dataset rows, clone and limits over the bus (SPEC §5). */
@BusController()
export class ConfigurationController {
  constructor(
    private readonly config: ConfigApplication,
    private readonly datasets: DatasetsApplication,
    private readonly cloning: CloneApplication,
    private readonly limits: LimitsApplication,
  ) {}

  @MessagePattern(PATTERNS.environments.createConfig)
  create(@Payload() command: CreateConfigCommand) {
    return this.config.create(command);
  }

  @MessagePattern(PATTERNS.environments.listConfig)
  list(@Payload() query: ListConfigQuery) {
    return this.config.list(query);
  }

  @MessagePattern(PATTERNS.environments.getConfig)
  get(@Payload() query: ConfigByIdQuery) {
    return this.config.get(query);
  }

  @MessagePattern(PATTERNS.environments.updateConfig)
  update(@Payload() command: UpdateConfigCommand) {
    return this.config.update(command);
  }

  @MessagePattern(PATTERNS.environments.deleteConfig)
  delete(@Payload() command: ConfigByIdQuery) {
    return this.config.delete(command);
  }

  @MessagePattern(PATTERNS.environments.getProcessByName)
  processByName(@Payload() query: ProcessByNameQuery) {
    return this.config.processByName(query);
  }

  @MessagePattern(PATTERNS.environments.validateMetadata)
  validateMetadata(@Payload() query: ValidateMetadataQuery) {
    return this.config.validateMetadata(query);
  }

  @MessagePattern(PATTERNS.environments.createDatasetRow)
  createRow(@Payload() command: CreateDatasetRowCommand) {
    return this.datasets.create(command);
  }

  @MessagePattern(PATTERNS.environments.listDatasetRows)
  listRows(@Payload() query: ListDatasetRowsQuery) {
    return this.datasets.list(query);
  }

  @MessagePattern(PATTERNS.environments.clone)
  clone(@Payload() command: CloneCommand) {
    return this.cloning.clone(command);
  }

  @MessagePattern(PATTERNS.environments.getLimits)
  getLimits(@Payload() query: LimitsQuery) {
    return this.limits.get(query);
  }

  @MessagePattern(PATTERNS.environments.updateLimits)
  updateLimits(@Payload() command: UpdateLimitsCommand) {
    return this.limits.update(command);
  }
}
