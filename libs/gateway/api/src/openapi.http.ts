import { Controller, Get } from '@nestjs/common';
import { ApiExtraModels, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiError } from '@schedstack/contracts';
import { OpenApiDocumentHolder } from './openapi.document';
import { ErrorModel } from './openapi.models';

@ApiTags('health')
@ApiExtraModels(ErrorModel)
@Controller('v1')
export class OpenApiHttpController {
  constructor(private readonly holder: OpenApiDocumentHolder) {}

  /** SPEC §9: the OpenAPI 3.1 document; no key needed, so tools can fetch it. */
  @Get('openapi.json')
  @ApiOperation({ summary: 'The OpenAPI 3.1 document of this API' })
  @ApiOkResponse({ description: 'The OpenAPI document.', schema: { type: 'object', additionalProperties: true } })
  openapi() {
    if (!this.holder.document) throw ApiError.unavailable('The OpenAPI document is being generated; retry in a moment.');
    return this.holder.document;
  }
}
