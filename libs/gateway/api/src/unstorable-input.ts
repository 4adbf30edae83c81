import type { ApiErrorBody } from '@schedstack/contracts';

/** No body of this API nests more than a few levels; far deeper JSON only exhausts the validator's stack. */
export const MAX_BODY_DEPTH = 32;

/** Half of a UTF-16 surrogate pair, which no UTF-8 store can keep. */
const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** NUL or an unpaired surrogate: text PostgreSQL refuses to store (text and jsonb). */
const unstorable = (text: string) => text.includes('\u0000') || UNPAIRED_SURROGATE.test(text);

const invalidText = (param: string | null): ApiErrorBody => ({
  status: 400,
  type: 'invalid_request_error',
  code: 'parameter_invalid',
  message: `${param ?? 'The request'} must not contain NUL characters or unpaired UTF-16 surrogates`,
  ...(param ? { param } : {}),
});

/**
 * SPEC §8 "bad input never crashes a service": the first string (key or value) of a parsed body or
 * query that no store could keep, or nesting beyond MAX_BODY_DEPTH — found without recursion, so a
 * hostile document cannot exhaust the stack here either. Null when the input is acceptable.
 */
export function unstorableInput(input: unknown): ApiErrorBody | null {
  const pending: { value: unknown; path: string; depth: number }[] = [{ value: input, path: '', depth: 0 }];
  while (pending.length > 0) {
    const { value, path, depth } = pending.pop() as (typeof pending)[number];
    if (typeof value === 'string') {
      if (unstorable(value)) return invalidText(path || null);
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (depth >= MAX_BODY_DEPTH) {
      return { status: 400, type: 'invalid_request_error', code: 'body_too_deep', message: `Request bodies may nest at most ${MAX_BODY_DEPTH} levels` };
    }
    const entries = Object.entries(value);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, child] = entries[i];
      const childPath = Array.isArray(value) ? `${path}[${key}]` : path ? `${path}.${key}` : key;
      if (unstorable(key)) return invalidText(childPath);
      pending.push({ value: child, path: childPath, depth: depth + 1 });
    }
  }
  return null;
}

/** The decoded request path holds a NUL (`%00`), which no id or name can contain. */
export function unstorablePath(path: string): ApiErrorBody | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return null; // the router answers a malformed escape itself
  }
  return decoded.includes('\u0000') ? invalidText(null) : null;
}
