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

  /** What every edge (HTTP, bus) answers for a backend outage (`isConnectionFailure`). */
  static backendUnavailable(): ApiError {
    return ApiError.unavailable('A service SchedStack depends on is unavailable right now; retry the request.');
  }
}

/** Socket errors of Node: the peer is not there, or went away mid-request. */
const NETWORK_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/** nats.js codes for a connection that is closed, draining, refused or lost. */
const BROKER_ERROR_CODES = new Set(['CONNECTION_CLOSED', 'CONNECTION_DRAINING', 'CONNECTION_REFUSED', 'DISCONNECT']);
/**
 * PostgreSQL SQLSTATEs of a server that is unreachable, starting or shutting down: class 08
 * (connection exception), 57P01–57P03 (admin or crash shutdown, cannot connect now), 53300 (too many connections).
 */
const DATABASE_UNAVAILABLE = /^(08...|57P0[123]|53300)$/;
/** What node-postgres and Nest's NATS client say when their connection dies or is being re-established. */
const CONNECTION_LOST_MESSAGE =
  /Connection terminated|timeout exceeded when trying to connect|not queryable|Connection lost\. Trying to reconnect|Connection to transport failed/i;

/**
 * A backend (PostgreSQL, NATS) could not be reached or dropped the connection — a restart or an
 * outage, not a bug: the request may well succeed when retried, so the edge answers 503
 * `service_unavailable` instead of 500.
 */
export function isConnectionFailure(error: unknown, depth = 0): boolean {
  if (typeof error === 'string') return CONNECTION_LOST_MESSAGE.test(error);
  if (typeof error !== 'object' || error === null || depth > 3) return false;
  const { code, syscall, message, errors, cause } = error as { code?: unknown; syscall?: unknown; message?: unknown; errors?: unknown; cause?: unknown };
  if (typeof code === 'string' && (NETWORK_ERROR_CODES.has(code) || BROKER_ERROR_CODES.has(code) || DATABASE_UNAVAILABLE.test(code))) return true;
  // A Unix socket whose server is not listening: PostgreSQL removes its socket file when it stops.
  if (code === 'ENOENT' && syscall === 'connect') return true;
  if (typeof message === 'string' && CONNECTION_LOST_MESSAGE.test(message)) return true;
  // Node reports a refused connection to several addresses as an AggregateError; wrappers keep a cause.
  if (Array.isArray(errors) && errors.some((e) => isConnectionFailure(e, depth + 1))) return true;
  return cause !== undefined && isConnectionFailure(cause, depth + 1);
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

/** A setting the process was started with is wrong: it stops at start, naming the setting. */
export class ConfigError extends Error {}
