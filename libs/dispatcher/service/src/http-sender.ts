import { errors, request } from 'undici';

/** The outbound HTTP port: one request, never throws, reports what a user would want to see. */
export interface OutboundRequest {
  readonly url: string;
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body: string | null;
  readonly timeoutMs: number;
}

export type OutboundResult =
  | {
      readonly kind: 'response';
      readonly status: number;
      readonly headers: Record<string, string | string[] | undefined>;
      /** First 4 KiB of the body (SPEC §4). */
      readonly body: string;
    }
  | { readonly kind: 'network_error' | 'timeout'; readonly error: string };

export interface HttpSender {
  send(req: OutboundRequest): Promise<OutboundResult>;
}

export const HTTP_SENDER = Symbol('HTTP_SENDER');

const RESPONSE_EXCERPT_BYTES = 4096;

/** undici keeps one keep-alive pool per origin in its global dispatcher, so repeat targets reuse sockets. */
export class UndiciHttpSender implements HttpSender {
  async send(req: OutboundRequest): Promise<OutboundResult> {
    try {
      const res = await request(req.url, {
        method: req.method as never,
        headers: req.headers,
        body: req.body ?? undefined,
        headersTimeout: req.timeoutMs,
        bodyTimeout: req.timeoutMs,
        signal: AbortSignal.timeout(req.timeoutMs),
        maxRedirections: 0,
      } as Parameters<typeof request>[1]);
      const body = await readExcerpt(res.body);
      return { kind: 'response', status: res.statusCode, headers: res.headers, body };
    } catch (error) {
      const err = error as Error & { code?: string };
      const timedOut =
        err instanceof errors.HeadersTimeoutError ||
        err instanceof errors.BodyTimeoutError ||
        err.name === 'TimeoutError' ||
        err.name === 'AbortError';
      return timedOut
        ? { kind: 'timeout', error: `no response within ${req.timeoutMs} ms` }
        : { kind: 'network_error', error: err.code ? `${err.code}: ${err.message}` : err.message };
    }
  }
}

async function readExcerpt(body: AsyncIterable<Buffer> & { destroy?: () => void }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= RESPONSE_EXCERPT_BYTES) {
      body.destroy?.();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, RESPONSE_EXCERPT_BYTES).toString('utf8');
}
