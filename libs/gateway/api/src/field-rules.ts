import { registerDecorator, type ValidationArguments, type ValidationOptions } from 'class-validator';

/** A rule's verdict on one field: which (dotted) parameter is wrong, and why. */
export interface FieldProblem {
  readonly param: string;
  readonly message: string;
}

/** RFC 9110 token: the characters a header name may use. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Hop-by-hop headers (RFC 9110 §7.6.1) and headers the HTTP client itself must own. */
const FORBIDDEN_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'host', 'content-length']);
/** Headers the platform sets on every delivery (SPEC §4); a copy from the schedule would be ambiguous. */
const RESERVED_HEADERS = new Set(['webhook-id', 'webhook-timestamp', 'webhook-signature']);
export const MAX_HEADERS = 50;
const MAX_HEADER_VALUE = 8_192;

/** SPEC §8: the outbound request's headers — legal names and values, no hop-by-hop or reserved ones. */
export function outboundHeadersProblem(headers: unknown): FieldProblem | null {
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) {
    return { param: 'headers', message: 'headers must be an object of header names to string values' };
  }
  const entries = Object.entries(headers);
  if (entries.length > MAX_HEADERS) return { param: 'headers', message: `headers may hold at most ${MAX_HEADERS} entries` };
  const seen = new Set<string>();
  for (const [name, value] of entries) {
    const param = `headers.${name}`;
    const lower = name.toLowerCase();
    if (!HEADER_NAME.test(name) || name.length > 256) return { param, message: `'${name}' is not a legal HTTP header name` };
    if (FORBIDDEN_HEADERS.has(lower) || lower.startsWith('proxy-')) {
      return { param, message: `${name} is a hop-by-hop or connection header; SchedStack sets it itself` };
    }
    if (RESERVED_HEADERS.has(lower) || lower.startsWith('sched-')) {
      return { param, message: `${name} is reserved: SchedStack sets it on every delivery` };
    }
    if (seen.has(lower)) return { param, message: `${name} is given twice (header names are case-insensitive)` };
    seen.add(lower);
    if (typeof value !== 'string') return { param, message: `header ${name} must have a string value` };
    if (/[\r\n\0]/.test(value)) return { param, message: `header ${name} must not contain CR, LF or NUL` };
    if (value.length > MAX_HEADER_VALUE) return { param, message: `header ${name} is longer than ${MAX_HEADER_VALUE} characters` };
  }
  return null;
}

export const MAX_METADATA_KEYS = 50;
const MAX_METADATA_KEY = 40;
const MAX_METADATA_VALUE = 500;

/** Schedule `metadata`: up to 50 flat keys with string, number or boolean values. */
export function metadataProblem(metadata: unknown): FieldProblem | null {
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    return { param: 'metadata', message: 'metadata must be an object of keys to string, number or boolean values' };
  }
  const entries = Object.entries(metadata);
  if (entries.length > MAX_METADATA_KEYS) return { param: 'metadata', message: `metadata may hold at most ${MAX_METADATA_KEYS} keys` };
  for (const [key, value] of entries) {
    const param = `metadata.${key}`;
    if (key.length === 0 || key.length > MAX_METADATA_KEY) return { param, message: `metadata keys must be 1 to ${MAX_METADATA_KEY} characters` };
    const scalar = typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
    if (!scalar) return { param, message: `metadata.${key} must be a string, number or boolean` };
    if (typeof value === 'string' && value.length > MAX_METADATA_VALUE) {
      return { param, message: `metadata.${key} is longer than ${MAX_METADATA_VALUE} characters` };
    }
  }
  return null;
}

/** Context a field rule leaves on its validation error, so the 400 names the exact parameter. */
export interface FieldRuleContext {
  readonly problemOf: (value: unknown) => FieldProblem | null;
}

/** Turns a FieldProblem function into a class-validator decorator. */
export function FieldRule(name: string, problemOf: (value: unknown) => FieldProblem | null, options: ValidationOptions = {}) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name,
      target: target.constructor,
      propertyName,
      options: { ...options, context: { problemOf } satisfies FieldRuleContext },
      validator: {
        validate: (value: unknown) => problemOf(value) === null,
        defaultMessage: (args?: ValidationArguments) => problemOf(args?.value)?.message ?? `${propertyName} is invalid`,
      },
    });
}
