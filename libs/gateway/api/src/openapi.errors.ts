import { applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';
import type { ApiErrorBody } from '@schedstack/contracts';
import { ErrorModel } from './openapi.models';

/** One documented error: what the body says, for one status. */
export type ErrorCase = ApiErrorBody;

const STATUS_TEXT: Record<number, string> = {
  400: 'Invalid request: the parameter named in `error.param` is wrong or missing.',
  401: 'No valid API key.',
  403: 'The key may not do this here (e.g. `environment_mismatch`).',
  404: 'No such resource in the environment of the key (ids of other environments look the same).',
  409: 'Conflict with the current state or with an earlier request using the same idempotency key.',
  413: 'Request body larger than 256 KiB.',
  429: "Over the environment's rate limit; retry after `Retry-After` seconds.",
  503: 'A service did not answer in time; retry the request.',
};

/** Errors every authenticated route can answer with (SPEC §2). */
export const AUTH_ERRORS: readonly ErrorCase[] = [
  {
    status: 401,
    type: 'authentication_error',
    code: 'api_key_invalid',
    message: 'Invalid API key provided. Keys look like sk_test_… and can be minted in the console.',
  },
  {
    status: 403,
    type: 'permission_error',
    code: 'environment_mismatch',
    message: 'This host serves the sandbox environment, but the key belongs to test.',
  },
];

/** SPEC §5: every /v1 request counts against its caller's per-second limit. */
export const RATE_LIMITED: ErrorCase = {
  status: 429,
  type: 'rate_limit_error',
  code: 'rate_limit_exceeded',
  message: 'Too many requests: this API key may make 10 requests per second in test. Retry after 1 s.',
};

export const notFound = (kind: string, id: string): ErrorCase => ({
  status: 404,
  type: 'invalid_request_error',
  code: 'resource_missing',
  message: `No such ${kind}: '${id}'`,
  param: 'id',
});

export const invalid = (param: string, message: string, code = 'parameter_invalid'): ErrorCase => ({
  status: 400,
  type: 'invalid_request_error',
  code,
  message,
  param,
});

export const conflict = (code: string, message: string): ErrorCase => ({ status: 409, type: 'invalid_request_error', code, message });

export const IDEMPOTENCY_ERRORS: readonly ErrorCase[] = [
  {
    status: 409,
    type: 'idempotency_error',
    code: 'idempotency_key_reused',
    message: 'This idempotency key was already used with a different request.',
  },
];

export const BODY_ERRORS: readonly ErrorCase[] = [
  invalid('body', 'The request body is not valid JSON: Unexpected token', 'body_invalid_json'),
  { status: 413, type: 'invalid_request_error', code: 'body_too_large', message: 'Request bodies are limited to 256 KiB' },
];

export const UNAVAILABLE: ErrorCase = {
  status: 503,
  type: 'api_error',
  code: 'service_unavailable',
  message: 'The schedules service did not answer in time; retry the request.',
};

/** The Stripe-style body of an error case, as a client receives it. */
export function errorExample(error: ErrorCase) {
  const { status: _status, ...rest } = error;
  return { error: { ...rest, param: rest.param ?? null, request_id: 'req_8sPq2LmXr0TzW7yVb1Nc4k' } };
}

/** Documents the error responses of a route: one response per status, one named example per code. */
export function ApiErrors(...cases: readonly ErrorCase[]): MethodDecorator & ClassDecorator {
  const byStatus = new Map<number, ErrorCase[]>();
  for (const error of cases) byStatus.set(error.status, [...(byStatus.get(error.status) ?? []), error]);
  return applyDecorators(
    ...[...byStatus].map(([status, errors]) =>
      ApiResponse({
        status,
        description: STATUS_TEXT[status] ?? 'Error',
        type: ErrorModel,
        examples: Object.fromEntries(
          errors.map((error, i) => [`${error.code}${errors.findIndex((e) => e.code === error.code) === i ? '' : `_${i}`}`, { summary: error.message, value: errorExample(error) }]),
        ),
      }),
    ),
  );
}
