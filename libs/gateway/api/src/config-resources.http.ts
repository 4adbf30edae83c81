import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Patch, Post, Query, type Type, UseGuards, UsePipes } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import { ApiBody, ApiTags } from '@nestjs/swagger';
import { CONFIG_RESOURCES, type ConfigKind, type ConfigView, type DeletedObject, type ListResult, PATTERNS, type Scope } from '@schedstack/contracts';
import { BUS_CLIENT } from '@schedstack/messaging';
import { request } from '@schedstack/platform';
import { ListPageDto } from './access.dto';
import { ApiKeyGuard, CurrentScope } from './api-key.guard';
import { bodyAs } from './body-as';
import { RequirePermission } from './caller';
import {
  CreateDatasetSchemaDto,
  CreateFieldDto,
  CreateProcessDto,
  CreateThemeDto,
  CreateTranslationDto,
  UpdateDatasetSchemaDto,
  UpdateFieldDto,
  UpdateProcessDto,
  UpdateThemeDto,
  UpdateTranslationDto,
} from './config.dto';
import { parseLimit } from './pagination';
import { apiValidationPipe } from './validation';

/**
 * SPEC §5 configuration CRUD, the same five routes for each kind: `/v1/processes`, `/v1/themes`,
 * `/v1/fields`, `/v1/translations`, `/v1/dataset-schemas`, each with `/{id}`.
 */
function configResourceController(kind: ConfigKind, createDto: Type<object>, updateDto: Type<object>, className: string): Type<unknown> {
  const { path } = CONFIG_RESOURCES[kind];

  @ApiTags(path)
  @Controller(`v1/${path}`)
  @UseGuards(ApiKeyGuard)
  @UsePipes(apiValidationPipe)
  class ConfigResourceHttpController {
    constructor(@Inject(BUS_CLIENT) readonly bus: ClientProxy) {}

    @Post()
    @HttpCode(201)
    @RequirePermission('manage_config')
    @ApiBody({ type: createDto })
    create(@CurrentScope() scope: Scope, @Body(bodyAs(createDto)) input: object): Promise<ConfigView> {
      return request(this.bus, PATTERNS.environments.createConfig, { scope, kind, input });
    }

    @Get()
    list(@CurrentScope() scope: Scope, @Query() query: ListPageDto): Promise<ListResult<ConfigView>> {
      return request(this.bus, PATTERNS.environments.listConfig, { scope, kind, limit: parseLimit(query.limit), starting_after: query.starting_after });
    }

    @Get(':id')
    get(@CurrentScope() scope: Scope, @Param('id') id: string): Promise<ConfigView> {
      return request(this.bus, PATTERNS.environments.getConfig, { scope, kind, id });
    }

    @Patch(':id')
    @RequirePermission('manage_config')
    @ApiBody({ type: updateDto })
    update(@CurrentScope() scope: Scope, @Param('id') id: string, @Body(bodyAs(updateDto)) input: object): Promise<ConfigView> {
      return request(this.bus, PATTERNS.environments.updateConfig, { scope, kind, id, input });
    }

    @Delete(':id')
    @RequirePermission('manage_config')
    delete(@CurrentScope() scope: Scope, @Param('id') id: string): Promise<DeletedObject> {
      return request(this.bus, PATTERNS.environments.deleteConfig, { scope, kind, id });
    }
  }
  // Each kind gets its own class name: the OpenAPI document derives operation ids from it.
  Object.defineProperty(ConfigResourceHttpController, 'name', { value: className });
  return ConfigResourceHttpController;
}

export const ProcessesHttpController = configResourceController('process', CreateProcessDto, UpdateProcessDto, 'ProcessesHttpController');
export const ThemesHttpController = configResourceController('theme', CreateThemeDto, UpdateThemeDto, 'ThemesHttpController');
export const FieldsHttpController = configResourceController('field', CreateFieldDto, UpdateFieldDto, 'FieldsHttpController');
export const TranslationsHttpController = configResourceController('translation', CreateTranslationDto, UpdateTranslationDto, 'TranslationsHttpController');
export const DatasetSchemasHttpController = configResourceController(
  'dataset_schema',
  CreateDatasetSchemaDto,
  UpdateDatasetSchemaDto,
  'DatasetSchemasHttpController',
);

export const CONFIG_RESOURCE_CONTROLLERS = [
  ProcessesHttpController,
  ThemesHttpController,
  FieldsHttpController,
  TranslationsHttpController,
  DatasetSchemasHttpController,
];
