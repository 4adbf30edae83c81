import type { ArgumentMetadata, PipeTransform, Type } from '@nestjs/common';
import { apiValidationPipe } from './validation';

/**
 * Runs the shared validation pipe with an explicit DTO class, for handlers whose parameter type
 * cannot name it (routes built by a factory, where TypeScript emits `Object`).
 */
export function bodyAs(dto: Type<object>): PipeTransform {
  return {
    transform: (value: unknown, metadata: ArgumentMetadata) => apiValidationPipe.transform(value, { ...metadata, metatype: dto }),
  };
}
