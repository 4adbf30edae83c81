/** Stripe-style error types (SPEC §8). */
export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'idempotency_error'
  | 'rate_limit_error'
  | 'api_error';

/** What crosses the bus when a handler refuses a request, and what the gateway renders. */
export interface ApiErrorBody {
  readonly status: number;
  readonly type: ErrorType;
  readonly code: string;
  readonly message: string;
  readonly param?: string;
}

/**
 * The one error class business code throws. The gateway's exception filter renders it as
 * `{"error": {type, code, message, param, request_id}}`; over the bus it travels as its body.
 */
export class ApiError extends Error {
  constructor(readonly body: ApiErrorBody) {
    super(body.message);
    this.name = 'ApiError';
  }

  static invalid(param: string, message: string, code = 'parameter_invalid'): ApiError {
    return new ApiError({ status: 400, type: 'invalid_request_error', code, message, param });
  }

  static notFound(kind: string, id: string, param = 'id'): ApiError {
    return new ApiError({
      status: 404,
      type: 'invalid_request_error',
      code: 'resource_missing',
      message: `No such ${kind}: '${id}'`,
      param,
    });
  }

  static conflict(code: string, message: string): ApiError {
    return new ApiError({ status: 409, type: 'invalid_request_error', code, message });
  }

  static unavailable(message: string): ApiError {
    return new ApiError({ status: 503, type: 'api_error', code: 'service_unavailable', message });
  }
}

export function isApiErrorBody(value: unknown): value is ApiErrorBody {
  const v = value as ApiErrorBody | null;
  return (
    typeof v === 'object' && v !== null && typeof v.status === 'number' && typeof v.type === 'string' &&
    typeof v.code === 'string' && typeof v.message === 'string'
  );
}

/**
 * A business rule said no. Domain code throws this (no HTTP in the domain); `toErrorBody` in
 * @schedstack/platform maps the kind to a status once: invalid → 400, not_found → 404, conflict → 409.
 */
export class DomainError extends Error {
  constructor(
    readonly kind: 'invalid' | 'not_found' | 'conflict',
    readonly code: string,
    message: string,
    readonly param?: string,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

const DOMAIN_STATUS = { invalid: 400, not_found: 404, conflict: 409 } as const;

export function domainErrorBody(error: DomainError): ApiErrorBody {
  return {
    status: DOMAIN_STATUS[error.kind],
    type: 'invalid_request_error',
    code: error.code,
    message: error.message,
    ...(error.param ? { param: error.param } : {}),
  };
}
