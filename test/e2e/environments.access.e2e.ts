import { request as httpRequest } from 'node:http';
import type { MemberRole, Permission } from '@schedstack/contracts';
import { startLocalStack, type TestStack } from '../support';

/** fetch cannot set Host; the host check (SPEC §2) needs a plain HTTP request. */
function getWithHost(url: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}${path}`, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * SPEC §2 through HTTP: console sessions, the role table of docs/environments.md (every cell),
 * members managed through live only, and API keys minted, listed masked and revoked per environment.
 */

type Who = MemberRole | 'live key' | 'sandbox key';

/** docs/environments.md, "What each role may do" — the oracle, written out rather than imported. */
const ROLE_TABLE: Record<Permission, Record<Who, boolean>> = {
  read: { owner: true, admin: true, developer: true, viewer: true, 'live key': true, 'sandbox key': true },
  write: { owner: true, admin: true, developer: true, viewer: false, 'live key': true, 'sandbox key': true },
  manage_keys: { owner: true, admin: true, developer: true, viewer: false, 'live key': true, 'sandbox key': true },
  manage_config: { owner: true, admin: true, developer: true, viewer: false, 'live key': true, 'sandbox key': true },
  clone: { owner: true, admin: true, developer: false, viewer: false, 'live key': true, 'sandbox key': false },
  manage_members: { owner: true, admin: true, developer: false, viewer: false, 'live key': true, 'sandbox key': false },
  edit_limits: { owner: true, admin: false, developer: false, viewer: false, 'live key': true, 'sandbox key': false },
};

describe('environments — sessions, roles, members and API keys (SPEC §2)', () => {
  let stack: TestStack;
  const tokens = {} as Record<MemberRole, string>;
  const emails = {} as Record<MemberRole, string>;
  const passwords = {} as Record<MemberRole, string>;
  let counter = 0;
  const unique = () => `${Date.now().toString(36)}${counter++}`;

  const login = async (email: string, password: string) => {
    const res = await stack.api('/v1/sessions', { body: { email, password } });
    expect(res.status).toBe(201);
    return res.body.token as string;
  };

  beforeAll(async () => {
    stack = await startLocalStack('env_access');
    const owner = stack.owner as { email: string; password: string };
    emails.owner = owner.email;
    passwords.owner = owner.password;
    tokens.owner = await login(owner.email, owner.password);
    for (const role of ['admin', 'developer', 'viewer'] as const) {
      const added = await stack.api('/v1/members', { key: tokens.owner, body: { email: `${role}@example.com`, role } });
      expect(added.status).toBe(201);
      emails[role] = added.body.email;
      passwords[role] = added.body.password;
      tokens[role] = await login(added.body.email, added.body.password);
    }
  }, 60_000);

  afterAll(() => stack?.close());

  const credential = (who: Who) => (who === 'live key' ? stack.keys.live : who === 'sandbox key' ? stack.keys.sandbox : tokens[who]);

  /** One request per permission that needs exactly that permission. */
  const ACTIONS: Record<Permission, (key: string) => ReturnType<TestStack['api']>> = {
    read: (key) => stack.api('/v1/processes', { key }),
    write: (key) => stack.api('/v1/schedules', { key, body: { endpoint: 'http://127.0.0.1:9/never', delay: '1h' } }),
    manage_keys: (key) => stack.api('/v1/api-keys', { key, body: { name: 'matrix' } }),
    manage_config: (key) => stack.api('/v1/processes', { key, body: { name: `matrix-${unique()}` } }),
    clone: (key) => stack.api('/v1/environments/test/clone', { key, body: { dry_run: true } }),
    manage_members: (key) => stack.api('/v1/members', { key, body: { email: `member-${unique()}@example.com`, role: 'viewer' } }),
    edit_limits: (key) => stack.api('/v1/limits', { key, method: 'PATCH', body: { requests_per_second: 100_000 } }),
  };

  it('keeps the delivery signing secret from viewers, who could forge deliveries with it', async () => {
    const asViewer = await stack.api('/v1/signing-secret', { key: tokens.viewer });
    expect(asViewer.status).toBe(403);
    expect(asViewer.body.error.code).toBe('insufficient_permissions');
    const asDeveloper = await stack.api('/v1/signing-secret', { key: tokens.developer });
    expect(asDeveloper.status).toBe(200);
    expect(asDeveloper.body.secret).toMatch(/^whsec_/);
  });

  describe('the role table, cell by cell', () => {
    const cells = (Object.keys(ROLE_TABLE) as Permission[]).flatMap((permission) =>
      (Object.keys(ROLE_TABLE[permission]) as Who[]).map((who) => [permission, who, ROLE_TABLE[permission][who]] as const),
    );

    it.each(cells)('%s by %s: allowed = %s', async (permission, who, allowed) => {
      const res = await ACTIONS[permission](credential(who));
      if (allowed) {
        expect([200, 201]).toContain(res.status);
      } else {
        expect(res.status).toBe(403);
        expect(res.body.error.type).toBe('permission_error');
        // Member writes outside live are refused for a reason of their own, whoever asks.
        expect(res.body.error.code).toBe(permission === 'manage_members' && who === 'sandbox key' ? 'permissions_managed_in_live' : 'insufficient_permissions');
      }
    });
  });

  describe('console sessions', () => {
    it('returns a sess_ token, the user and an expiry, and the token acts in live by default', async () => {
      const res = await stack.api('/v1/sessions', { body: { email: emails.viewer, password: passwords.viewer } });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ object: 'session', user: { object: 'user', email: emails.viewer } });
      expect(res.body.token).toMatch(/^sess_[0-9A-Za-z]{22}$/);
      expect(Date.parse(res.body.expires_at)).toBeGreaterThan(Date.now());
      const limits = await stack.api('/v1/limits', { key: res.body.token });
      expect(limits.body.mode).toBe('live');
    });

    it('refuses a wrong password and an unknown e-mail with the same 401', async () => {
      const wrong = await stack.api('/v1/sessions', { body: { email: emails.owner, password: 'not-the-password' } });
      const unknown = await stack.api('/v1/sessions', { body: { email: 'nobody@example.com', password: 'whatever' } });
      for (const res of [wrong, unknown]) {
        expect(res.status).toBe(401);
        expect(res.body.error).toMatchObject({ type: 'authentication_error', code: 'invalid_credentials' });
      }
    });

    it('accepts the e-mail in any letter case', async () => {
      const res = await stack.api('/v1/sessions', { body: { email: emails.developer.toUpperCase(), password: passwords.developer } });
      expect(res.status).toBe(201);
    });

    it('acts in the environment named by Sched-Environment', async () => {
      const created = await stack.api('/v1/processes', { key: tokens.developer, headers: { 'sched-environment': 'test' }, body: { name: `in-test-${unique()}` } });
      expect(created.status).toBe(201);
      expect(created.body.mode).toBe('test');
      expect((await stack.api(`/v1/processes/${created.body.id}`, { key: stack.keys.test })).status).toBe(200);
      expect((await stack.api(`/v1/processes/${created.body.id}`, { key: stack.keys.live })).status).toBe(404);
    });

    it('refuses an unknown Sched-Environment, and one that contradicts the host', async () => {
      const bad = await stack.api('/v1/limits', { key: tokens.viewer, headers: { 'sched-environment': 'staging' } });
      expect(bad.status).toBe(400);
      expect(bad.body.error.param).toBe('Sched-Environment');
      const authorization = `Bearer ${tokens.viewer}`;
      const mismatch = await getWithHost(stack.url, '/v1/limits', { authorization, host: 'sandbox-api.example.com', 'sched-environment': 'test' });
      expect(mismatch.status).toBe(403);
      expect(mismatch.body.error.code).toBe('environment_mismatch');
      const fromHost = await getWithHost(stack.url, '/v1/limits', { authorization, host: 'sandbox-api.example.com' });
      expect(fromHost.body.mode).toBe('sandbox');
    });

    it('ends at logout: the token is refused at once', async () => {
      const token = await login(emails.viewer, passwords.viewer);
      expect((await stack.api('/v1/limits', { key: token })).status).toBe(200);
      const out = await stack.api('/v1/sessions/current', { key: token, method: 'DELETE' });
      expect(out.status).toBe(200);
      expect(out.body).toEqual({ object: 'session', deleted: true });
      const after = await stack.api('/v1/limits', { key: token });
      expect(after.status).toBe(401);
      expect(after.body.error.code).toBe('session_invalid');
    });

    it('refuses to log out an API key', async () => {
      const res = await stack.api('/v1/sessions/current', { key: stack.keys.live, method: 'DELETE' });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('session_required');
    });

    it('answers 400 naming the field for a bad login body', async () => {
      for (const [body, param] of [
        [{ email: emails.owner }, 'password'],
        [{ password: 'x' }, 'email'],
        [{ email: 42, password: 'x' }, 'email'],
        [{ email: emails.owner, password: 'x', remember: true }, 'remember'],
      ] as const) {
        const res = await stack.api('/v1/sessions', { body });
        expect(res.status).toBe(400);
        expect(res.body.error.param).toBe(param);
      }
    });
  });

  describe('members', () => {
    it('lists the project’s members in every environment, echoing its mode', async () => {
      for (const [key, mode] of [
        [stack.keys.live, 'live'],
        [stack.keys.sandbox, 'sandbox'],
        [stack.keys.test, 'test'],
      ] as const) {
        const res = await stack.api('/v1/members?limit=100', { key });
        expect(res.status).toBe(200);
        expect(res.body.object).toBe('list');
        expect(res.body.data).toEqual(expect.arrayContaining([expect.objectContaining({ object: 'member', mode, email: emails.owner, role: 'owner' })]));
      }
    });

    it('refuses every member write outside live, even for the owner: 403 permissions_managed_in_live', async () => {
      const member = (await stack.api('/v1/members?limit=100', { key: tokens.owner })).body.data.find((m: { email: string }) => m.email === emails.viewer);
      for (const environment of ['sandbox', 'test']) {
        const headers = { 'sched-environment': environment };
        const writes = [
          stack.api('/v1/members', { key: tokens.owner, headers, body: { email: 'x@example.com', role: 'viewer' } }),
          stack.api(`/v1/members/${member.id}`, { key: tokens.owner, headers, method: 'PATCH', body: { role: 'developer' } }),
          stack.api(`/v1/members/${member.id}`, { key: tokens.owner, headers, method: 'DELETE' }),
        ];
        for (const res of await Promise.all(writes)) {
          expect(res.status).toBe(403);
          expect(res.body.error.code).toBe('permissions_managed_in_live');
        }
      }
      const read = await stack.api('/v1/members?limit=100', { key: tokens.owner, headers: { 'sched-environment': 'sandbox' } });
      expect(read.status).toBe(200);
    });

    it('adds an existing user without a new password, and changes a role through live', async () => {
      const email = `colleague-${unique()}@example.com`;
      const first = await stack.api('/v1/members', { key: tokens.admin, body: { email, role: 'viewer' } });
      expect(first.status).toBe(201);
      expect(first.body.password).toEqual(expect.any(String));
      expect(first.body.id).toMatch(/^usr_/);
      const again = await stack.api('/v1/members', { key: tokens.admin, body: { email, role: 'viewer' } });
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('member_exists');
      const changed = await stack.api(`/v1/members/${first.body.id}`, { key: tokens.admin, method: 'PATCH', body: { role: 'developer' } });
      expect(changed.status).toBe(200);
      expect(changed.body).toMatchObject({ id: first.body.id, role: 'developer', mode: 'live' });
    });

    it('applies a new role to a signed-in user at once', async () => {
      const email = `promoted-${unique()}@example.com`;
      const added = await stack.api('/v1/members', { key: tokens.owner, body: { email, role: 'viewer' } });
      const token = await login(email, added.body.password);
      expect((await ACTIONS.manage_config(token)).status).toBe(403);
      await stack.api(`/v1/members/${added.body.id}`, { key: tokens.owner, method: 'PATCH', body: { role: 'developer' } });
      expect((await ACTIONS.manage_config(token)).status).toBe(201);
    });

    it('lets only an owner grant, change or remove the owner role', async () => {
      const owners = (await stack.api('/v1/members?limit=100', { key: tokens.owner })).body.data.filter((m: { role: string }) => m.role === 'owner');
      const email = `would-be-owner-${unique()}@example.com`;
      const grant = await stack.api('/v1/members', { key: tokens.admin, body: { email, role: 'owner' } });
      expect(grant.status).toBe(403);
      const demote = await stack.api(`/v1/members/${owners[0].id}`, { key: tokens.admin, method: 'PATCH', body: { role: 'viewer' } });
      expect(demote.status).toBe(403);
      const remove = await stack.api(`/v1/members/${owners[0].id}`, { key: tokens.admin, method: 'DELETE' });
      expect(remove.status).toBe(403);
    });

    it('never leaves a project without an owner', async () => {
      const me = (await stack.api('/v1/members?limit=100', { key: tokens.owner })).body.data.find((m: { email: string }) => m.email === emails.owner);
      const demote = await stack.api(`/v1/members/${me.id}`, { key: tokens.owner, method: 'PATCH', body: { role: 'admin' } });
      expect(demote.status).toBe(409);
      expect(demote.body.error.code).toBe('last_owner');
    });

    it('removes a member, whose session then has no access to the project', async () => {
      const email = `leaver-${unique()}@example.com`;
      const added = await stack.api('/v1/members', { key: tokens.owner, body: { email, role: 'developer' } });
      const token = await login(email, added.body.password);
      expect((await stack.api('/v1/limits', { key: token })).status).toBe(200);
      const removed = await stack.api(`/v1/members/${added.body.id}`, { key: tokens.owner, method: 'DELETE' });
      expect(removed.status).toBe(200);
      expect(removed.body).toEqual({ id: added.body.id, object: 'member', deleted: true });
      const after = await stack.api('/v1/limits', { key: token });
      expect(after.status).toBe(403);
      expect(after.body.error.code).toBe('project_access_denied');
      expect((await stack.api(`/v1/members/${added.body.id}`, { key: tokens.owner, method: 'DELETE' })).status).toBe(404);
    });

    it('answers 400 naming the field for bad member bodies', async () => {
      for (const [path, method, body, param] of [
        ['/v1/members', 'POST', { email: 'x@example.com', role: 'superuser' }, 'role'],
        ['/v1/members', 'POST', { role: 'viewer' }, 'email'],
        ['/v1/members', 'POST', { email: 'not an address', role: 'viewer' }, 'email'],
        ['/v1/members', 'POST', { email: 'x@example.com', role: 'viewer', team: 'a' }, 'team'],
        ['/v1/members/usr_x', 'PATCH', { role: 'root' }, 'role'],
        ['/v1/members/usr_x', 'PATCH', {}, 'role'],
      ] as const) {
        const res = await stack.api(path, { key: tokens.owner, method, body });
        expect({ path, status: res.status, param: res.body.error?.param }).toEqual({ path, status: 400, param });
      }
    });
  });

  describe('API keys', () => {
    it('mints a key whose secret is shown once, lists it masked, and the key works in its environment', async () => {
      const minted = await stack.api('/v1/api-keys', { key: stack.keys.sandbox, body: { name: 'CI' } });
      expect(minted.status).toBe(201);
      expect(Object.keys(minted.body)).toEqual(['id', 'object', 'mode', 'name', 'secret', 'last4', 'created_at']);
      expect(minted.body).toMatchObject({ object: 'api_key', mode: 'sandbox', name: 'CI' });
      expect(minted.body.id).toMatch(/^key_/);
      expect(minted.body.secret).toMatch(/^sk_sandbox_[0-9A-Za-z]{32}$/);
      expect(minted.body.last4).toBe(minted.body.secret.slice(-4));

      const listed = await stack.api('/v1/api-keys?limit=100', { key: stack.keys.sandbox });
      const shown = listed.body.data.find((k: { id: string }) => k.id === minted.body.id);
      expect(shown).toEqual({ id: minted.body.id, object: 'api_key', mode: 'sandbox', name: 'CI', last4: minted.body.last4, created_at: minted.body.created_at });
      expect(JSON.stringify(listed.body)).not.toContain(minted.body.secret);
      expect((await stack.api('/v1/api-keys?limit=100', { key: stack.keys.test })).body.data.map((k: { id: string }) => k.id)).not.toContain(minted.body.id);

      expect((await stack.api('/v1/limits', { key: minted.body.secret })).body.mode).toBe('sandbox');
    });

    it('never lets a sandbox key work in test', async () => {
      const minted = await stack.api('/v1/api-keys', { key: stack.keys.sandbox, body: { name: 'sandbox only' } });
      const key = minted.body.secret;
      const byHeader = await stack.api('/v1/processes', { key, headers: { 'sched-environment': 'test' } });
      expect(byHeader.status).toBe(403);
      expect(byHeader.body.error.code).toBe('environment_mismatch');
      const byHost = await getWithHost(stack.url, '/v1/processes', { authorization: `Bearer ${key}`, host: 'test-api.example.com' });
      expect(byHost.status).toBe(403);
      expect(byHost.body.error.code).toBe('environment_mismatch');
      const testProcess = await stack.api('/v1/processes', { key: stack.keys.test, body: { name: `test-only-${unique()}` } });
      expect((await stack.api(`/v1/processes/${testProcess.body.id}`, { key })).status).toBe(404);
      // A sandbox secret with a test prefix is not a key at all.
      expect((await stack.api('/v1/processes', { key: key.replace('sk_sandbox_', 'sk_test_') })).status).toBe(401);
    });

    it('revokes a key: it is refused at once, leaves the list, and revoking it again is harmless', async () => {
      const minted = await stack.api('/v1/api-keys', { key: stack.keys.test, body: { name: 'short-lived' } });
      const key = minted.body.secret;
      expect((await stack.api('/v1/limits', { key })).status).toBe(200);
      const revoked = await stack.api(`/v1/api-keys/${minted.body.id}`, { key: stack.keys.test, method: 'DELETE' });
      expect(revoked.status).toBe(200);
      expect(revoked.body).toEqual({ id: minted.body.id, object: 'api_key', deleted: true });
      const after = await stack.api('/v1/limits', { key });
      expect(after.status).toBe(401);
      expect(after.body.error.code).toBe('api_key_invalid');
      expect((await stack.api('/v1/api-keys?limit=100', { key: stack.keys.test })).body.data.map((k: { id: string }) => k.id)).not.toContain(minted.body.id);
      expect((await stack.api(`/v1/api-keys/${minted.body.id}`, { key: stack.keys.test, method: 'DELETE' })).status).toBe(200);
    });

    it('answers 404 for a key of another environment, as for an unknown one', async () => {
      const minted = await stack.api('/v1/api-keys', { key: stack.keys.live, body: { name: 'live' } });
      const other = await stack.api(`/v1/api-keys/${minted.body.id}`, { key: stack.keys.test, method: 'DELETE' });
      const unknown = await stack.api('/v1/api-keys/key_doesnotexist', { key: stack.keys.test, method: 'DELETE' });
      expect(other.status).toBe(404);
      expect(unknown.status).toBe(404);
      expect(other.body.error.code).toBe(unknown.body.error.code);
      expect((await stack.api('/v1/limits', { key: minted.body.secret })).status).toBe(200);
    });

    it('mints keys for the environment a session names', async () => {
      const minted = await stack.api('/v1/api-keys', { key: tokens.developer, headers: { 'sched-environment': 'test' }, body: {} });
      expect(minted.status).toBe(201);
      expect(minted.body.secret).toMatch(/^sk_test_/);
      expect(minted.body.name).toBeNull();
    });

    it('answers 400 naming the field for a bad key body', async () => {
      const res = await stack.api('/v1/api-keys', { key: stack.keys.test, body: { name: 7 } });
      expect(res.status).toBe(400);
      expect(res.body.error.param).toBe('name');
      const unknown = await stack.api('/v1/api-keys', { key: stack.keys.test, body: { scopes: ['all'] } });
      expect(unknown.body.error.param).toBe('scopes');
    });
  });
});
