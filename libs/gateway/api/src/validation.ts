import { ValidationPipe, type ValidationError } from '@nestjs/common';
import { ApiError } from '@schedstack/contracts';

/** The first failing field, as a dotted path (`headers.x-foo`), with class-validator's message. */
function firstFailure(errors: ValidationError[], parent = ''): { param: string; message: string; unknown: boolean } | null {
  for (const error of errors) {
    const param = parent ? `${parent}.${error.property}` : error.property;
    if (error.constraints) {
      const [key, message] = Object.entries(error.constraints)[0];
      return { param, message, unknown: key === 'whitelistValidation' };
    }
    const nested = firstFailure(error.children ?? [], param);
    if (nested) return nested;
  }
  return null;
}

/** class-validator at the edge (SPEC §8): unknown fields and wrong types are 400s naming the field. */
export const apiValidationPipe = new ValidationPipe({
  whitelist: true,
  forbidNonWhitelisted: true,
  transform: true,
  validationError: { target: false, value: false },
  exceptionFactory: (errors) => {
    const failure = firstFailure(errors) ?? { param: 'body', message: 'The request is invalid', unknown: false };
    return failure.unknown
      ? ApiError.invalid(failure.param, `Received unknown parameter: ${failure.param}`, 'parameter_unknown')
      : ApiError.invalid(failure.param, failure.message);
  },
});
