import type { Scope, VerifiedApiKey } from '@schedstack/contracts';
import { CredentialsCache } from './credentials.cache';

const scope: Scope = { projectId: 'prj_cache', environment: 'live' };
const key: VerifiedApiKey = { key_id: 'key_1', scope };

/** A promise with its resolve function, to let a lookup finish when the test says so. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('CredentialsCache', () => {
  it('verifies a key once for requests that arrive while it is being verified', async () => {
    const cache = new CredentialsCache();
    const answer = deferred<VerifiedApiKey | null>();
    const load = jest.fn(() => answer.promise);
    const waiting = Promise.all([cache.apiKey('sk_live_a', load), cache.apiKey('sk_live_a', load), cache.apiKey('sk_live_a', load)]);
    answer.resolve(key);
    expect(await waiting).toEqual([key, key, key]);
    expect(await cache.apiKey('sk_live_a', load)).toEqual(key);
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('does not remember a verification that was under way when the key was revoked', async () => {
    const cache = new CredentialsCache();
    const answer = deferred<VerifiedApiKey | null>();
    const before = cache.apiKey('sk_live_b', () => answer.promise);
    cache.forgetKey(key.key_id);
    answer.resolve(key);
    await before;
    const load = jest.fn(async () => null);
    expect(await cache.apiKey('sk_live_b', load)).toBeNull();
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('lets the next request verify again after a failed verification', async () => {
    const cache = new CredentialsCache();
    await expect(cache.apiKey('sk_live_c', () => Promise.reject(new Error('bus down')))).rejects.toThrow('bus down');
    expect(await cache.apiKey('sk_live_c', async () => key)).toEqual(key);
  });
});
