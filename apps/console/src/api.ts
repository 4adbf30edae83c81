import createClient, { type Middleware } from 'openapi-fetch';
import type { paths } from './api-schema';

/** The console's whole API surface: a client generated from the gateway's OpenAPI document. */

export type Environment = 'live' | 'sandbox' | 'test';

export interface StripeError {
  type: string;
  code: string;
  message: string;
  param?: string | null;
  request_id?: string;
}

/** A refused request, carrying the API's own error body so the UI can show its message. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly body: StripeError,
  ) {
    super(body.message);
  }
}

const SESSION_KEY = 'schedstack.session';
const ENV_KEY = 'schedstack.environment';

export interface Session {
  token: string;
  email: string;
  expires_at: string;
}

export const sessionStore = {
  get(): Session | null {
    try {
      return JSON.parse(localStorage.getItem(SESSION_KEY) ?? 'null');
    } catch {
      return null;
    }
  },
  set(session: Session | null) {
    if (session) localStorage.setItem(SESSION_KEY, JSON.stringify(session));
    else localStorage.removeItem(SESSION_KEY);
  },
  environment(): Environment {
    const v = localStorage.getItem(ENV_KEY);
    return v === 'sandbox' || v === 'test' ? v : 'live';
  },
  setEnvironment(env: Environment) {
    localStorage.setItem(ENV_KEY, env);
  },
};

/** Adds the session bearer and the chosen environment to every request (SPEC §2 console sessions). */
const auth: Middleware = {
  onRequest({ request }) {
    const session = sessionStore.get();
    if (session) request.headers.set('Authorization', `Bearer ${session.token}`);
    request.headers.set('Sched-Environment', sessionStore.environment());
    return request;
  },
};

export const client = createClient<paths>({ baseUrl: '' });
client.use(auth);

/** Unwraps an openapi-fetch result: the data, or an ApiFailure with the API's error body. */
export async function unwrap<T>(
  promise: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await promise;
  if (error !== undefined || !response.ok) {
    const body = (error as { error?: StripeError } | undefined)?.error ?? {
      type: 'api_error',
      code: 'http_' + response.status,
      message: `The server answered ${response.status} ${response.statusText}`,
    };
    if (response.status === 401) window.dispatchEvent(new CustomEvent('schedstack:unauthorized'));
    throw new ApiFailure(response.status, body);
  }
  return data as T;
}
