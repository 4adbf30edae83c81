import crypto from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { Logger, type LoggerService } from '@nestjs/common';
import { type ApiKeyCreated, type DeliveryView, ENVIRONMENTS, type Environment, newId, PATTERNS, randomToken } from '@schedstack/contracts';
import { hashPassword, verifyPassword } from '@schedstack/environments-domain';
import { loadConfig, request } from '@schedstack/platform';
import { type LocalApp, startLocalApp } from '@schedstack/runtime';
import { createTestDatabase, freePort, type Receiver, startReceiver, type TestDatabase } from '@schedstack/testing';
import { Client } from 'pg';
import { eventually, liftRateLimits, type TestStack, withApi } from '../support';
import { closeRawAgent, errorShapeProblems, rawRequest, YEARLY } from './proof-support';

/**
 * SPEC §2 keys and SPEC §4/§6 secrets. Wrong, revoked, truncated, case-altered and foreign keys
 * get one indistinguishable 401; a key with another environment's header or host gets 403. Then
 * every path that handles a secret is exercised on a stack whose every log line is recorded, and
 * neither the logs, the process's stdout/stderr nor any error body holds a secret or a piece of one.
 */

/** Every log call of the stack, at every level, as text. */
class RecordingLogger implements LoggerService {
  readonly lines: string[] = [];
  private record(level: string, message: unknown, params: unknown[]) {
    const text = (v: unknown) => (v instanceof Error ? `${v.message}\n${v.stack}` : typeof v === 'string' ? v : JSON.stringify(v));
    this.lines.push(`${level} ${[message, ...params].map(text).join(' ')}`);
  }
  log = (message: unknown, ...params: unknown[]) => this.record('log', message, params);
  error = (message: unknown, ...params: unknown[]) => this.record('error', message, params);
  warn = (message: unknown, ...params: unknown[]) => this.record('warn', message, params);
  debug = (message: unknown, ...params: unknown[]) => this.record('debug', message, params);
  verbose = (message: unknown, ...params: unknown[]) => this.record('verbose', message, params);
  fatal = (message: unknown, ...params: unknown[]) => this.record('fatal', message, params);
}

/** A secret and every 12-character piece of its random part: a log holding a truncated key leaks too. */
function needlesOf(label: string, secret: string, randomPart = secret): [string, string][] {
  const pieces: [string, string][] = [[label, secret]];
  for (let i = 0; i + 12 <= randomPart.length; i++) pieces.push([`${label} (piece ${i})`, randomPart.slice(i, i + 12)]);
  return pieces;
}
const keyNeedles = (label: string, key: string) => needlesOf(label, key, key.replace(/^sk_[a-z]+_/, ''));
const whsecNeedles = (label: string, secret: string) => needlesOf(label, secret, secret.replace(/^whsec_/, ''));

describe('API keys, environments and secrets (SPEC §2, §4, §6)', () => {
  const logger = new RecordingLogger();
  const stdio: string[] = [];
  const consoleCalls: unknown[][][] = [];
  const errorBodies: string[] = [];
  const needles: [string, string][] = [];
  const restore: (() => void)[] = [];
  let db: TestDatabase;
  let local: LocalApp;
  let stack: TestStack;
  let receiver: Receiver;
  let other: Record<Environment, string>;
  let queries: unknown[][];

  /** stack.api, keeping every error body for the scan. */
  const api: TestStack['api'] = async (p, init) => {
    const res = await stack.api(p, init);
    if (res.status >= 400) errorBodies.push(JSON.stringify(res.body));
    return res;
  };

  beforeAll(async () => {
    // Everything the process writes, not only what goes through the Nest logger.
    for (const stream of [process.stdout, process.stderr]) {
      const write = stream.write.bind(stream);
      stream.write = ((chunk: unknown, ...rest: unknown[]) => {
        stdio.push(String(chunk));
        return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
      }) as typeof stream.write;
      restore.push(() => (stream.write = write));
    }
    for (const level of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      const spy = jest.spyOn(console, level);
      consoleCalls.push(spy.mock.calls);
      restore.push(() => spy.mockRestore());
    }
    // What reaches PostgreSQL, for the proof that keys and sessions are looked up by digest only.
    const query = jest.spyOn(Client.prototype, 'query');
    queries = query.mock.calls as unknown[][];
    restore.push(() => query.mockRestore());

    db = await createTestDatabase('proof_secrets');
    const config = { ...loadConfig('local', { ...process.env, PORT: '0', HOST: '127.0.0.1' }), databaseUrl: db.url };
    local = await startLocalApp(config, db.url, { logger });
    const demo = await local.bootstrapDemo();
    await liftRateLimits(local.bus, demo.project_id);
    stack = withApi(local.url, demo.project_id, demo.keys as Record<Environment, string>, async () => undefined, demo.owner);
    // Project B through the environments service's own pattern (bootstrapDemo makes only the first project).
    const projectB = newId('prj');
    other = {} as Record<Environment, string>;
    for (const environment of ENVIRONMENTS) {
      other[environment] = (await request<ApiKeyCreated>(local.bus, PATTERNS.environments.mintApiKey, { scope: { projectId: projectB, environment }, name: 'B' })).secret;
    }
    await liftRateLimits(local.bus, projectB);
    receiver = await startReceiver();
    for (const environment of ENVIRONMENTS) {
      needles.push(...keyNeedles(`${environment} key`, stack.keys[environment]), ...keyNeedles(`B ${environment} key`, other[environment]));
    }
    needles.push(...needlesOf('owner password', stack.owner?.password as string));
  }, 60_000);

  afterAll(async () => {
    closeRawAgent();
    await receiver?.close();
    await local?.close();
    await db?.drop();
    for (const undo of restore.reverse()) undo();
  });

  describe('wrong credentials: one 401 that tells nothing', () => {
    /** Every way a caller can hold almost the right key. */
    const wrongKeys = (): [string, string][] => {
      const cases: [string, string][] = [];
      for (const environment of ENVIRONMENTS) {
        const key = stack.keys[environment];
        for (let n = 0; n < key.length; n++) cases.push([`${environment} key cut to ${n} characters`, key.slice(0, n)]);
        for (let i = 0; i < key.length; i++) {
          const flipped = key[i] === key[i].toUpperCase() ? key[i].toLowerCase() : key[i].toUpperCase();
          if (flipped !== key[i]) cases.push([`${environment} key with character ${i} in the other case`, `${key.slice(0, i)}${flipped}${key.slice(i + 1)}`]);
        }
        cases.push([`${environment} key in upper case`, key.toUpperCase()], [`${environment} key and one more character`, `${key}a`], [`a character and the ${environment} key`, `a${key}`]);
        for (const prefix of ENVIRONMENTS.filter((e) => e !== environment)) cases.push([`${environment} secret under the ${prefix} prefix`, key.replace(`sk_${environment}_`, `sk_${prefix}_`)]);
        cases.push([`unknown ${environment} key`, `sk_${environment}_${randomToken(32)}`]);
        // A key names no project, only its environment: project B's secret under another prefix is no key at all.
        cases.push([`project B's ${environment} secret under another prefix`, other[environment].replace(`sk_${environment}_`, environment === 'live' ? 'sk_test_' : 'sk_live_')]);
      }
      return cases;
    };

    it('refuses truncated, case-altered, extended, re-prefixed and unknown keys with the same 401, and creates nothing', async () => {
      const cases = wrongKeys();
      expect(cases.length).toBeGreaterThan(200);
      const answers = new Set<string>();
      const problems: string[] = [];
      for (const [name, key] of cases) {
        // Derived keys are caught by the pieces of the real ones; a random key sent is a needle of its own.
        if (name.startsWith('unknown')) needles.push([`sent bearer: ${name}`, key]);
        const res = await api('/v1/schedules', { key, body: YEARLY });
        if (res.status !== 401 || res.body.error?.type !== 'authentication_error' || errorShapeProblems({ body: res.body, headers: Object.fromEntries(res.headers) }).length) {
          problems.push(`${name}: ${res.status} ${JSON.stringify(res.body)}`);
        }
        const { code, message, type, param } = res.body.error ?? {};
        answers.add(JSON.stringify({ code, message, type, param }));
      }
      expect(problems).toEqual([]);
      // A key one character off and a random one get the very same answer (an empty one is "missing").
      expect([...answers].map((a) => JSON.parse(a).code).sort()).toEqual(['api_key_invalid', 'api_key_missing']);
      for (const environment of ENVIRONMENTS) expect((await api('/v1/schedules', { key: stack.keys[environment] })).body.data).toEqual([]);
    });

    it('refuses a revoked key at once, with the same 401', async () => {
      const minted = await api('/v1/api-keys', { key: stack.keys.test, body: { name: 'to revoke' } });
      needles.push(...keyNeedles('revoked key', minted.body.secret));
      expect((await api('/v1/schedules', { key: minted.body.secret })).status).toBe(200);
      expect((await api(`/v1/api-keys/${minted.body.id}`, { key: stack.keys.test, method: 'DELETE' })).status).toBe(200);
      const after = await api('/v1/schedules', { key: minted.body.secret });
      expect(after.status).toBe(401);
      expect(after.body.error).toMatchObject({ type: 'authentication_error', code: 'api_key_invalid' });
    });

    it('refuses other credential forms: no header, other schemes, session-shaped garbage', async () => {
      for (const [headers, code] of [
        [{}, 'api_key_missing'],
        [{ authorization: `Basic ${Buffer.from(`user:${stack.keys.live}`).toString('base64')}` }, 'api_key_invalid'],
        [{ authorization: `Token ${stack.keys.live}` }, 'api_key_invalid'],
        [{ authorization: `Bearer ${stack.keys.live} ${stack.keys.live}` }, 'api_key_invalid'],
        [{ authorization: `Bearer sess_${randomToken(22)}` }, 'session_invalid'],
      ] as [Record<string, string>, string][]) {
        const res = await api('/v1/schedules', { headers });
        expect({ status: res.status, code: res.body.error?.code }).toEqual({ status: 401, code });
      }
    });
  });

  describe('environments and projects', () => {
    it('refuses every key sent with another environment in Sched-Environment or the Host: 403 environment_mismatch', async () => {
      for (const environment of ENVIRONMENTS) {
        const key = stack.keys[environment];
        for (const named of ENVIRONMENTS) {
          const res = await api('/v1/schedules', { key, headers: { 'sched-environment': named } });
          expect({ environment, named, status: res.status, code: res.body.error?.code ?? null }).toEqual({
            environment,
            named,
            status: named === environment ? 200 : 403,
            code: named === environment ? null : 'environment_mismatch',
          });
        }
        for (const host of ['sandbox', 'test'] as const) {
          const res = await rawRequest(stack.url, { method: 'GET', path: '/v1/schedules', headers: { authorization: `Bearer ${key}`, host: `${host}-api.example.com` } });
          if (res.status >= 400) errorBodies.push(res.text);
          expect({ environment, host, status: res.status }).toEqual({ environment, host, status: host === environment ? 200 : 403 });
        }
      }
    });

    it("keeps a project's keys in their project: Sched-Project cannot switch it, and A's ids are unknown to B", async () => {
      const mine = await api('/v1/schedules', { key: stack.keys.live, body: YEARLY });
      const plain = await api('/v1/schedules?limit=100', { key: other.live });
      const naming = await api('/v1/schedules?limit=100', { key: other.live, headers: { 'sched-project': stack.projectId } });
      expect(naming.status).toBe(200);
      expect(naming.body).toEqual(plain.body);
      expect(JSON.stringify(naming.body)).not.toContain(mine.body.id);
      const foreign = await api(`/v1/schedules/${mine.body.id}`, { key: other.live, headers: { 'sched-project': stack.projectId } });
      expect(foreign.status).toBe(404);
    });
  });

  it('exercises every path that handles a secret: keys, sessions, webhook and signing secrets, target credentials, failures', async () => {
    // Console session of the owner, a wrong password, a session-made key, logout.
    const owner = stack.owner as { email: string; password: string };
    expect((await api('/v1/sessions', { body: { email: owner.email, password: `${owner.password}x` } })).status).toBe(401);
    const session = await api('/v1/sessions', { body: { email: owner.email, password: owner.password } });
    expect(session.status).toBe(201);
    needles.push(...needlesOf('session token', session.body.token, session.body.token.replace(/^sess_/, '')));
    const bySession = await api('/v1/api-keys', { key: session.body.token, headers: { 'sched-environment': 'test' }, body: { name: 'session-made' } });
    expect(bySession.status).toBe(201);
    expect((await api('/v1/sessions/current', { key: session.body.token, method: 'DELETE' })).status).toBe(200);
    expect((await api('/v1/schedules', { key: session.body.token })).status).toBe(401);

    // Keys minted in every environment.
    for (const environment of ENVIRONMENTS) {
      const minted = await api('/v1/api-keys', { key: stack.keys[environment], body: { name: `minted ${environment}` } });
      expect(minted.status).toBe(201);
      needles.push(...keyNeedles(`minted ${environment} key`, minted.body.secret));
    }
    needles.push(...keyNeedles('session-made key', bySession.body.secret));

    // The environment's signing secret, rotated (both are live during the overlap).
    const signing = await api('/v1/signing-secret', { key: stack.keys.live });
    const rotated = await api('/v1/signing-secret/rotate', { key: stack.keys.live, method: 'POST' });
    expect(rotated.body.previous_secret).toBe(signing.body.secret);
    needles.push(...whsecNeedles('signing secret', signing.body.secret), ...whsecNeedles('rotated signing secret', rotated.body.secret));

    // A webhook endpoint: created, rotated, refused a bad update.
    const endpoint = await api('/v1/webhook-endpoints', { key: stack.keys.live, body: { url: `${receiver.url}/events`, events: ['*'] } });
    expect(endpoint.status).toBe(201);
    const rotatedEndpoint = await api(`/v1/webhook-endpoints/${endpoint.body.id}/rotate-secret`, { key: stack.keys.live, method: 'POST' });
    expect(rotatedEndpoint.status).toBe(200);
    needles.push(...whsecNeedles('webhook secret', endpoint.body.secret), ...whsecNeedles('rotated webhook secret', rotatedEndpoint.body.secret));
    expect((await api(`/v1/webhook-endpoints/${endpoint.body.id}`, { key: stack.keys.live, method: 'PATCH', body: { url: 'ftp://example.com' } })).status).toBe(400);

    // Target credentials: in headers (delivered), in a URL, and in requests that are refused.
    const targetToken = `tgt_${randomToken(32)}`;
    const apiKeyHeader = randomToken(40);
    needles.push(...needlesOf('target Authorization value', `Bearer ${targetToken}`, targetToken), ...needlesOf('target x-api-key value', apiKeyHeader));
    receiver.respondWith((req) => (req.path === '/failing' ? { status: 500, body: 'down' } : { status: 200, body: 'ok' }));
    const headers = { authorization: `Bearer ${targetToken}`, 'x-api-key': apiKeyHeader };
    const delivered = await api('/v1/schedules', { key: stack.keys.live, body: { endpoint: `${receiver.url}/target`, headers, body: '{"n":1}', delay: '1s' } });
    const failing = await api('/v1/schedules', { key: stack.keys.live, body: { endpoint: `${receiver.url}/failing`, headers, delay: '1s' } });
    const closed = await api('/v1/schedules', { key: stack.keys.live, body: { endpoint: `http://127.0.0.1:${await freePort()}/closed`, headers, delay: '1s' } });
    for (const res of [delivered, failing, closed]) expect(res.status).toBe(201);
    for (const [name, body] of [
      ['CR LF in the Authorization value', { endpoint: `${receiver.url}/x`, delay: '1h', headers: { authorization: `Bearer ${targetToken}\r\nx: 1` } }],
      ['the token as an over-long metadata value', { endpoint: `${receiver.url}/x`, delay: '1h', metadata: { token: `${targetToken}${'x'.repeat(600)}` } }],
      ['the token in a refused endpoint URL', { endpoint: `ftp://proof:${targetToken}@example.com/x`, delay: '1h' }],
      ['the token in an unknown field', { endpoint: `${receiver.url}/x`, delay: '1h', credentials: targetToken }],
    ] as [string, unknown][]) {
      const res = await api('/v1/schedules', { key: stack.keys.live, body });
      expect({ name, status: res.status }).toEqual({ name, status: 400 });
    }
    for (const url of [`https://proof:${targetToken}@example.com/hooks`, `ftp://proof:${targetToken}@example.com/hooks`]) {
      const inUrl = await api('/v1/webhook-endpoints', { key: stack.keys.live, body: { url, events: ['nope.event'] } });
      expect(inUrl.status).toBe(400);
      const refusedUrl = await api('/v1/webhook-endpoints', { key: stack.keys.live, body: { url: url.replace('https:', 'ftp:') } });
      expect(refusedUrl.status).toBe(400);
    }

    // Wait until the dispatcher has sent, failed and refused, and the webhook about the success arrived.
    const target = await eventually(async () => receiver.requests.find((r) => r.path === '/target'));
    expect(target.headers.authorization).toBe(`Bearer ${targetToken}`);
    await eventually(async () => receiver.requests.some((r) => r.path === '/events'));
    for (const res of [failing, closed]) {
      await eventually(async () => {
        const list = await api(`/v1/deliveries?schedule=${res.body.id}`, { key: stack.keys.live });
        return (list.body.data as DeliveryView[])[0]?.attempts.length > 0;
      });
    }
  }, 60_000);

  it('finds no secret, nor any 12-character piece of one, in the logs, stdout/stderr or any error body', () => {
    // The scan can see: a line logged in this process reaches the recorder.
    const canary = `canary-${randomToken(20)}`;
    new Logger('proof').warn(canary);
    expect(logger.lines.some((line) => line.includes(canary))).toBe(true);
    expect(logger.lines.length).toBeGreaterThan(10);
    expect(errorBodies.length).toBeGreaterThan(250);

    const haystacks: [string, string[]][] = [
      ['log', logger.lines],
      ['stdout/stderr', [...stdio, ...consoleCalls.flat().map((call) => call.map(String).join(' '))]],
      ['error body', errorBodies],
    ];
    const found: string[] = [];
    for (const [where, texts] of haystacks) {
      for (const [label, needle] of needles) {
        const hit = texts.find((t) => t.includes(needle));
        if (hit) found.push(`${label} in a ${where}: …${hit.slice(Math.max(0, hit.indexOf(needle) - 80), hit.indexOf(needle) + 80)}…`);
      }
    }
    expect(found).toEqual([]);
    expect(needles.length).toBeGreaterThan(300);
  });

  it('looks keys and sessions up by SHA-256 digest: no secret ever reaches PostgreSQL', () => {
    const sql = queries.map(safeJson);
    const digest = (secret: string) => crypto.createHash('sha256').update(secret).digest('hex');
    // The demo keys were verified on every request above, by their digest.
    for (const environment of ENVIRONMENTS) expect(sql.some((q) => q.includes(digest(stack.keys[environment])))).toBe(true);
    // Webhook and signing secrets are stored (they sign), and target headers are schedule data: not in this claim.
    const leaked = needles.filter(([label]) => / key|session token|password/.test(label) && !label.includes('piece')).filter(([, secret]) => sql.some((q) => q.includes(secret)));
    expect(leaked.map(([label]) => label)).toEqual([]);
  });
});

/** JSON of query arguments, without functions and cycles (pg passes Query objects). */
function safeJson(value: unknown): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(value, (_key, v) => {
    if (typeof v === 'function') return undefined;
    if (typeof v === 'object' && v !== null) {
      if (seen.has(v)) return undefined;
      seen.add(v);
    }
    return v;
  });
}

describe('secret comparisons (unit)', () => {
  afterEach(() => jest.restoreAllMocks());

  it('checks a password with crypto.timingSafeEqual', async () => {
    const spy = jest.spyOn(crypto, 'timingSafeEqual');
    const stored = await hashPassword('correct horse');
    expect(await verifyPassword('correct horse', stored)).toBe(true);
    expect(await verifyPassword('correct horsf', stored)).toBe(false);
    expect(spy).toHaveBeenCalledTimes(2);
    for (const [a, b] of spy.mock.calls) expect((a as Buffer).length).toBe((b as Buffer).length);
  });

  it('compares no secret, token, signature or password with == in product code (digests in SQL, timingSafeEqual in code)', () => {
    const root = path.resolve(__dirname, '..', '..');
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const full = path.join(dir, name);
        if (statSync(full).isDirectory()) {
          if (name !== 'node_modules') walk(full);
        } else if (full.endsWith('.ts') && !full.endsWith('.spec.ts') && full.includes(`${path.sep}src${path.sep}`)) files.push(full);
      }
    };
    walk(path.join(root, 'libs'));
    walk(path.join(root, 'apps'));
    const comparison = /\b\w*(secret|signature|token|password|digest|hash)\w*\s*(===|!==|==|!=)(?!\s*(undefined|null|['"`]|\d))|(===|!==|==|!=)\s*\w*(secret|signature|token|password|digest)\w*\b(?!\s*\()/i;
    const hits = files.flatMap((file) =>
      readFileSync(file, 'utf8')
        .split('\n')
        .map((line, i) => [line, i] as const)
        .filter(([line]) => comparison.test(line) && !/typeof|\.length|\.kind|\.type\b/.test(line))
        .map(([line, i]) => `${path.relative(root, file)}:${i + 1}: ${line.trim()}`),
    );
    expect(files.length).toBeGreaterThan(50);
    expect(hits).toEqual([]);
  });
});
