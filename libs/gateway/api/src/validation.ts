import { ValidationPipe, type ValidationError } from '@nestjs/common';
import { ApiError } from '@schedstack/contracts';
import type { FieldRuleContext } from './field-rules';

/**
 * The first failing field, as a dotted path (`headers.x-foo`), with class-validator's message.
 * A FieldRule names the exact parameter inside an object (e.g. one header) through its context.
 */
function firstFailure(errors: ValidationError[], parent = ''): { param: string; message: string; unknown: boolean } | null {
  for (const error of errors) {
    const param = parent ? `${parent}.${error.property}` : error.property;
    if (error.constraints) {
      const [key, message] = Object.entries(error.constraints)[0];
      const rule = error.contexts?.[key] as FieldRuleContext | undefined;
      const problem = rule?.problemOf?.(error.value);
      return { param: problem ? (parent ? `${parent}.${problem.param}` : problem.param) : param, message, unknown: key === 'whitelistValidation' };
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
  // Values stay on the errors only so a FieldRule can name the parameter; they are never shown.
  validationError: { target: false, value: true },
  exceptionFactory: (errors) => {
    const failure = firstFailure(errors) ?? { param: 'body', message: 'The request is invalid', unknown: false };
    return failure.unknown
      ? ApiError.invalid(failure.param, `Received unknown parameter: ${failure.param}`, 'parameter_unknown')
      : ApiError.invalid(failure.param, failure.message);
  },
});
