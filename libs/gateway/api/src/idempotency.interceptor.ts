import { createHash } from 'node:crypto';
import {
  applyDecorators,
  type CallHandler,
  createParamDecorator,
  type ExecutionContext,
  HttpStatus,
  Injectable,
  type NestInterceptor,
  SetMetadata,
} from '@nestjs/common';
import { HTTP_CODE_METADATA } from '@nestjs/common/constants';
import { ApiHeader } from '@nestjs/swagger';
import { ApiError, type ApiErrorBody, DomainError, domainErrorBody, type Scope } from '@schedstack/contracts';
import type { Request, Response } from 'express';
import { catchError, from, mergeMap, type Observable, of, throwError } from 'rxjs';
import { IdempotencyStore } from './idempotency.store';

const MAX_KEY_LENGTH = 255;
/** Longer than the bus timeout, so a waiting duplicate outlives the request it waits for. */
const WAIT_FOR_FIRST_REQUEST_MS = 30_000;
const POLL_MS = 50;

/** Route metadata set by `@Idempotent()`; ApiRouteInterceptor runs IdempotencyInterceptor where it is. */
export const IDEMPOTENT_ROUTE = 'schedstack:idempotent';

type ScopedRequest = Request & { scope?: Scope; idempotencyToken?: string };

/** JSON with object keys sorted at every level: the same document always gives the same text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * What makes two requests "the same" (docs/decisions.md): method, path with query, and the body
 * as canonical JSON without `idempotency_key` — so key order, whitespace and where the key was
 * sent do not matter, while any change of a value does.
 */
export function requestFingerprint(req: Pick<Request, 'method' | 'originalUrl' | 'body'>): string {
  const body = typeof req.body === 'object' && req.body !== null && !Array.isArray(req.body) ? { ...req.body, idempotency_key: undefined } : req.body;
  return createHash('sha256').update(`${req.method} ${req.originalUrl}\n${canonicalJson(body ?? null)}`).digest('hex');
}

const hasControlCharacter = (text: string) => [...text].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);

/** The key from the `Idempotency-Key` header or the body's `idempotency_key`, or null when neither is sent. */
export function idempotencyKeyOf(req: Pick<Request, 'headers' | 'body'>): string | null {
  const header = req.headers['idempotency-key'];
  const fromBody: unknown = typeof req.body === 'object' && req.body !== null ? (req.body as Record<string, unknown>).idempotency_key : undefined;
  const param = header !== undefined ? 'Idempotency-Key' : 'idempotency_key';
  const key = header ?? fromBody;
  if (key === undefined || key === null) return null;
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH || hasControlCharacter(key)) {
    throw ApiError.invalid(param, `${param} must be a string of 1 to ${MAX_KEY_LENGTH} printable characters`);
  }
  if (header !== undefined && fromBody !== undefined && fromBody !== null && fromBody !== header) {
    throw ApiError.invalid('idempotency_key', 'The Idempotency-Key header and the idempotency_key body field differ; send one');
  }
  return key;
}

/** Outcomes a retry must see again: the request ran and the answer is final. Others release the key. */
function finalError(error: unknown): ApiErrorBody | null {
  const body = error instanceof ApiError ? error.body : error instanceof DomainError ? domainErrorBody(error) : null;
  return body && (body.status === 404 || body.status === 409) ? body : null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * SPEC §3 idempotency (Stripe semantics), for any POST route marked `@Idempotent()`: the same
 * key and the same request replay the stored status and body with `Idempotent-Replayed: true`; the
 * same key with another request is a 409 `idempotency_key_reused`; concurrent duplicates wait for
 * the first one and replay its response. Validation errors and server errors are not stored, so a
 * corrected retry with the same key runs afresh.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(private readonly store: IdempotencyStore) {}

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const req = context.switchToHttp().getRequest<ScopedRequest>();
    const res = context.switchToHttp().getResponse<Response>();
    const key = idempotencyKeyOf(req);
    const scope = req.scope;
    if (key === null || !scope) return next.handle();
    const fingerprint = requestFingerprint(req);
    const outcome = await this.claim(scope, key, fingerprint);
    if (outcome.kind === 'mismatch') {
      throw new ApiError({
        status: 409,
        type: 'idempotency_error',
        code: 'idempotency_key_reused',
        message: `Idempotency key '${key}' was already used with a different request; use a new key for a new request.`,
      });
    }
    if (outcome.kind === 'replay') {
      res.setHeader('Idempotent-Replayed', 'true');
      if ('error' in outcome.response) throw new ApiError(outcome.response.error);
      // Only success statuses of this route are stored as bodies, so Nest sets the same status again.
      return of(outcome.response.body);
    }
    req.idempotencyToken = createHash('sha256').update(`${key}\n${fingerprint}\n${outcome.generation}`).digest('hex');
    const status: number = Reflect.getMetadata(HTTP_CODE_METADATA, context.getHandler()) ?? (req.method === 'POST' ? HttpStatus.CREATED : HttpStatus.OK);
    return next.handle().pipe(
      mergeMap(async (body: unknown) => {
        await this.store.complete(scope, key, { status, body });
        return body;
      }),
      catchError((error: unknown) => {
        const final = finalError(error);
        const settle = final ? this.store.complete(scope, key, { status: final.status, error: final }) : this.store.release(scope, key);
        return from(settle).pipe(mergeMap(() => throwError(() => error)));
      }),
    );
  }

  private async claim(scope: Scope, key: string, fingerprint: string) {
    const deadline = Date.now() + WAIT_FOR_FIRST_REQUEST_MS;
    for (;;) {
      const outcome = await this.store.claim(scope, key, fingerprint);
      if (outcome.kind !== 'in_progress') return outcome;
      if (Date.now() > deadline) {
        throw new ApiError({
          status: 409,
          type: 'idempotency_error',
          code: 'idempotency_request_in_progress',
          message: `A request with idempotency key '${key}' is still being processed; retry shortly.`,
        });
      }
      await sleep(POLL_MS);
    }
  }
}

/**
 * The handler parameter carrying a digest of the request's idempotency key, fingerprint and the
 * key's generation, or undefined without a key: what a create derives its object's id from, so a
 * retry after an unknown outcome (the key is released on a 5xx, in the same generation) finds the
 * first attempt's object, while a key used again after its record expired makes a new one
 * (docs/decisions.md).
 */
export const IdempotencyToken = createParamDecorator(
  (_: unknown, context: ExecutionContext): string | undefined => context.switchToHttp().getRequest<ScopedRequest>().idempotencyToken,
);

/**
 * Marks a POST route idempotent (behaviour and the header's documentation; list IDEMPOTENCY_ERRORS with the route's errors).
 * `createsWithDerivedId`: the handler derives the new object's id from `@IdempotencyToken()`, and the header says so.
 */
export function Idempotent(options: { createsWithDerivedId?: boolean } = {}): MethodDecorator {
  return applyDecorators(
    SetMetadata(IDEMPOTENT_ROUTE, true),
    ApiHeader({
      name: 'Idempotency-Key',
      required: false,
      description:
        'Makes the request safe to retry: the same key and request replay the first response for 24 hours (or send `idempotency_key` in the body).' +
        (options.createsWithDerivedId ? ' Retried after a 503, the create answers with the schedule its first attempt made, if it made one.' : ''),
      schema: { type: 'string', maxLength: MAX_KEY_LENGTH },
    }),
  );
}
