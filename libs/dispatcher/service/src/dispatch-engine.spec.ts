import { PostgresEventStore } from '@schedstack/event-store';
import { type Clock, migrate, systemClock } from '@schedstack/platform';
import { generateSigningSecret, sealSecret } from '@schedstack/signing';
import { createTestDatabase, type TestDatabase, eventually } from '@schedstack/testing';
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { DispatchEngine } from './dispatch-engine';
import { DISPATCHER_MIGRATIONS } from './dispatcher.projection';
import { DueFires } from './due-fires';
import type { HttpSender, OutboundRequest } from './http-sender';
import { FireLauncher } from './launcher';
import { SigningSecrets } from './signing-secrets';

const scope = { projectId: 'prj_engine', environment: 'test' as const };
/** Short, so the lease tests see leases run out within seconds. */
const SHORT_LEASE_MS = 1_000;

/** An HTTP sender that answers 200 and remembers what was sent. */
class RecordingSender implements HttpSender {
  readonly sent: OutboundRequest[] = [];
  async send(req: OutboundRequest) {
    this.sent.push(req);
    return { kind: 'response' as const, status: 200, headers: {}, body: 'ok' };
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  deliveries(): string[] {
    return this.sent.map((r) => r.headers['sched-delivery-id']);
  }
}

/** A promise that stays pending until `open()`: stands in for a database round trip that takes long. */
function gate() {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open: () => open() };
}

describe('DispatchEngine and DueFires with two replicas on one database', () => {
  let db: TestDatabase;
  let pool: Pool;
  let store: PostgresEventStore;

  beforeAll(async () => {
    db = await createTestDatabase('dsp_engine');
    pool = new Pool({ connectionString: db.url, max: 8 });
    store = new PostgresEventStore({ pool });
    await store.init();
    await migrate(pool, 'dispatcher', DISPATCHER_MIGRATIONS);
    await pool.query(`INSERT INTO dsp_signing_secrets (project_id, environment, secret, created_at) VALUES ($1, $2, $3, now())`, [
      scope.projectId,
      scope.environment,
      sealSecret(generateSigningSecret(), null),
    ]);
  });

  afterEach(() => jest.restoreAllMocks());

  afterAll(async () => {
    await store.close();
    await pool.end();
    await db.drop();
  });

  /** Plans a fire due `inMs` from now (negative: already due) and returns its delivery id. */
  async function plan(inMs: number, label: string): Promise<string> {
    const deliveryId = `dlv_${label}_${randomUUID().slice(0, 8)}`;
    await pool.query(
      `INSERT INTO dsp_due_fires (delivery_id, attempt, project_id, environment, schedule_id, fire_at, scheduled_for, fire_kind, request)
       VALUES ($1, 1, $2, $3, $4, now() + make_interval(secs => $5::float8 / 1000), now() + make_interval(secs => $5::float8 / 1000), 'first', $6)`,
      [deliveryId, scope.projectId, scope.environment, `sch_${label}`, inMs, { endpoint: 'https://example.com/hook', method: 'POST', headers: {}, body: '{}' }],
    );
    return deliveryId;
  }

  /** An engine for the lease tests: claims only what is due, polls often, and holds leases of SHORT_LEASE_MS. */
  const shortLeaseEngine = (sender: HttpSender, clock: Clock = systemClock) =>
    new DispatchEngine(pool, store, new FireLauncher(sender, () => clock.now().getTime()), clock, new SigningSecrets(store, systemClock, null), {
      lookAheadMs: 0,
      pollIntervalMs: 50,
      leaseMs: SHORT_LEASE_MS,
      batchSize: 10,
      userAgent: 'SchedStack/test',
    });

  /**
   * An engine that arms fires due within ten minutes (so an armed fire's lease is checked by later
   * polls) and polls only when a test asks: its timer is ten minutes too.
   */
  const farAheadEngine = (sender: HttpSender) =>
    new DispatchEngine(pool, store, new FireLauncher(sender), systemClock, new SigningSecrets(store, systemClock, null), {
      lookAheadMs: 600_000,
      pollIntervalMs: 600_000,
      leaseMs: 30_000,
      batchSize: 100,
      userAgent: 'SchedStack/test',
    });

  /** Deletes a test's fires, so no later test claims what it left behind. */
  const forget = (...deliveryIds: string[]) => pool.query(`DELETE FROM dsp_due_fires WHERE delivery_id = ANY($1)`, [deliveryIds]);

  const leaseOwner = async (deliveryId: string) =>
    (await pool.query<{ lease_owner: string | null }>(`SELECT lease_owner FROM dsp_due_fires WHERE delivery_id = $1`, [deliveryId])).rows[0]?.lease_owner;

  it('claims and sends a due fire while the lease check of what it has armed is still running', async () => {
    const sender = new RecordingSender();
    // Look far ahead so the first fire is armed (and its lease checked on every later cycle); the
    // poll interval is long so only the polls the test asks for run.
    const engine = farAheadEngine(sender);
    const armed = await plan(300_000, 'armed');
    const slow = gate();
    try {
      engine.start();
      await engine.poll();
      expect(await leaseOwner(armed)).toBe(engine.workerId);

      // The lease check of the armed fire hangs (a slow round trip on a busy database)…
      const leaseCheck = jest.spyOn(DueFires.prototype, 'lost').mockImplementation(async () => {
        await slow.opened;
        return [];
      });
      const due = await plan(-1_000, 'due');
      const cycle = engine.poll();
      // …and the fire that is already due is claimed and sent all the same.
      await eventually(() => sender.deliveries().includes(due));
      expect(leaseCheck).toHaveBeenCalled();
      expect(sender.deliveries()).not.toContain(armed);
      slow.open();
      await cycle;
    } finally {
      slow.open();
      await engine.stop();
    }
    // A clean stop hands the armed fire back.
    expect(await leaseOwner(armed)).toBeNull();
    await forget(armed);
  });

  it('still drops an armed fire that was withdrawn meanwhile, once the lease check answers', async () => {
    const sender = new RecordingSender();
    const engine = farAheadEngine(sender);
    const withdrawn = await plan(300_000, 'withdrawn');
    try {
      engine.start();
      await engine.poll();
      expect(await leaseOwner(withdrawn)).toBe(engine.workerId);
      // Canceled (a pause or cancel applied by the other replica's projection) while armed here.
      await pool.query(`UPDATE dsp_due_fires SET state = 'canceled' WHERE delivery_id = $1`, [withdrawn]);
      const leaseCheck = jest.spyOn(DueFires.prototype, 'lost');
      await engine.poll();
      const [id] = (await pool.query<{ id: string }>(`SELECT id FROM dsp_due_fires WHERE delivery_id = $1`, [withdrawn])).rows.map((r) => r.id);
      expect(leaseCheck.mock.calls[0][0]).toContain(id);
      expect(await leaseCheck.mock.results[0].value).toEqual([id]);
    } finally {
      await engine.stop();
    }
    // The stop did not hand it back: it was no longer armed.
    expect(await leaseOwner(withdrawn)).toBe(engine.workerId);
    expect(sender.deliveries()).not.toContain(withdrawn);
  });

  it("does not check again, on each of a burst's back-to-back claims, the leases of the fires the earlier ones armed", async () => {
    const sender = new RecordingSender();
    const engine = farAheadEngine(sender);
    const burst = await Promise.all(Array.from({ length: 350 }, (_, n) => plan(300_000, `burst${n}`)));
    const leaseCheck = jest.spyOn(DueFires.prototype, 'lost');
    try {
      // One poll: four full claims back to back (100 each), the last one short.
      engine.start();
      await eventually(async () => {
        const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM dsp_due_fires WHERE delivery_id = ANY($1) AND lease_owner = $2`, [burst, engine.workerId]);
        return rows[0].n === 350;
      });
      // The first claim had nothing armed to check; the three that continued the burst skipped the check.
      expect(leaseCheck).not.toHaveBeenCalled();
      // The next poll checks them all.
      await engine.poll();
      expect(leaseCheck).toHaveBeenCalledTimes(1);
      expect(leaseCheck.mock.calls[0][0]).toHaveLength(350);
    } finally {
      await engine.stop();
      await forget(...burst);
    }
  });

  it('does not check the leases of fires whose time has come: they are on their way', async () => {
    const inFlight = gate();
    const sent: string[] = [];
    // Holds every request open: the due fire stays launched, in flight, for the rest of the test.
    const sender: HttpSender = {
      async send(req) {
        sent.push(req.headers['sched-delivery-id']);
        await inFlight.opened;
        return { kind: 'response', status: 200, headers: {}, body: 'ok' };
      },
      close: () => Promise.resolve(),
    };
    const engine = farAheadEngine(sender);
    const due = await plan(-1_000, 'onitsway');
    const armed = await plan(300_000, 'stillarmed');
    const leaseCheck = jest.spyOn(DueFires.prototype, 'lost');
    try {
      engine.start();
      await eventually(() => sent.includes(due));
      await engine.poll();
      const ids = (await pool.query<{ id: string; delivery_id: string }>(`SELECT id, delivery_id FROM dsp_due_fires WHERE delivery_id = ANY($1)`, [[due, armed]])).rows;
      const idOf = (deliveryId: string) => ids.find((r) => r.delivery_id === deliveryId)?.id;
      expect(leaseCheck).toHaveBeenCalledTimes(1);
      expect(leaseCheck.mock.calls[0][0]).toEqual([idOf(armed)]);
    } finally {
      inFlight.open();
      await engine.stop();
      await forget(due, armed);
    }
  });

  it('keeps the lease of a request that outlasts it while its claim cycle is stuck, so no other replica sends it again', async () => {
    const reply = gate();
    const sender = new RecordingSender();
    const send = jest.spyOn(sender, 'send').mockImplementation(async (req) => {
      sender.sent.push(req);
      await reply.opened;
      return { kind: 'response' as const, status: 200, headers: {}, body: 'ok' };
    });
    const engine = shortLeaseEngine(sender);
    const slow = gate();
    const claim = DueFires.prototype.claim;
    const other = new DueFires(pool, 'replica-b', SHORT_LEASE_MS);
    const fire = await plan(-100, 'outlasts');
    try {
      engine.start();
      await eventually(() => sender.deliveries().includes(fire));
      // From now on this engine's claim round trip hangs (a busy database), and with it its poll cycle.
      jest.spyOn(DueFires.prototype, 'claim').mockImplementation(() => slow.opened.then(() => []));
      // Three leases go by with the request still in flight; the other replica keeps trying to claim it.
      const until = Date.now() + 3 * SHORT_LEASE_MS;
      while (Date.now() < until) {
        expect((await claim.call(other, 0, 10)).map((f) => f.delivery_id)).not.toContain(fire);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(await leaseOwner(fire)).toBe(engine.workerId);
      reply.open();
      // Answered and recorded: the fire is finished, so no due fire of it is left pending.
      await eventually(async () => (await pool.query(`SELECT 1 FROM dsp_due_fires WHERE delivery_id = $1 AND state = 'pending'`, [fire])).rowCount === 0);
    } finally {
      reply.open();
      slow.open();
      await engine.stop();
    }
    expect(send).toHaveBeenCalledTimes(1);
    await forget(fire);
  });

  /** A process whose timers run a minute late: what a stalled event loop does to an armed fire, made deterministic. */
  const aMinuteBehind: Clock = { now: () => new Date(Date.now() - 60_000) };

  it('keeps the lease of an armed fire whose timer runs late, so no other replica takes it', async () => {
    const sender = new RecordingSender();
    const engine = shortLeaseEngine(sender, aMinuteBehind);
    const claim = DueFires.prototype.claim;
    const other = new DueFires(pool, 'replica-b', SHORT_LEASE_MS);
    const late = await plan(-100, 'late');
    const slow = gate();
    try {
      engine.start();
      await eventually(async () => (await leaseOwner(late)) === engine.workerId);
      // Its claims hang from now on, so it cannot simply claim its own lapsed lease back.
      jest.spyOn(DueFires.prototype, 'claim').mockImplementation(() => slow.opened.then(() => []));
      const until = Date.now() + 3 * SHORT_LEASE_MS;
      while (Date.now() < until) {
        expect((await claim.call(other, 0, 10)).map((f) => f.delivery_id)).not.toContain(late);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(sender.deliveries()).not.toContain(late);
    } finally {
      slow.open();
      await engine.stop();
    }
    // Still armed at the stop (its timer a minute off), so handed back.
    expect(await leaseOwner(late)).toBeNull();
    await forget(late);
  });

  it('drops an armed fire whose lease the keeper finds gone: it is not handed back at stop as if it were still ours', async () => {
    const sender = new RecordingSender();
    const engine = shortLeaseEngine(sender, aMinuteBehind);
    const lost = await plan(-100, 'lost');
    try {
      engine.start();
      await eventually(async () => (await leaseOwner(lost)) === engine.workerId);
      // The renewal finds the fire is no longer this dispatcher's (another replica took it over).
      const renew = jest.spyOn(DueFires.prototype, 'renew').mockResolvedValue(new Set());
      await eventually(() => renew.mock.calls.length > 0);
    } finally {
      await engine.stop();
    }
    // Not armed any more at the stop, so not handed back either: the table's holder keeps it.
    expect(await leaseOwner(lost)).toBe(engine.workerId);
    await forget(lost);
  });

  it('does not send a fire whose lease ran out before its (late) timer, unless a renewal proves it is still ours', async () => {
    const sender = new RecordingSender();
    // Timers 1.5 s late: the fire's timer runs after its lease (claimed 100 ms overdue) has run out.
    const behind: Clock = { now: () => new Date(Date.now() - 1_500) };
    const engine = shortLeaseEngine(sender, behind);
    const lapsed = await plan(-100, 'lapsed');
    const slow = gate();
    try {
      engine.start();
      await eventually(async () => (await leaseOwner(lapsed)) === engine.workerId);
      // No claim takes it back, and no renewal gets through (a database that stopped answering).
      jest.spyOn(DueFires.prototype, 'claim').mockImplementation(() => slow.opened.then(() => []));
      const renew = jest.spyOn(DueFires.prototype, 'renew').mockRejectedValue(new Error('connection terminated'));
      // Renewals fail from the first one on; by two leases later the late timer has long run.
      await eventually(() => renew.mock.calls.length > 0);
      await new Promise((r) => setTimeout(r, 2 * SHORT_LEASE_MS));
      expect(sender.deliveries()).not.toContain(lapsed);
    } finally {
      slow.open();
      await engine.stop();
      await forget(lapsed);
    }
  });

  it("one replica's claim skips the rows the other replica's claim transaction holds, without waiting for it", async () => {
    const fires = await Promise.all([-3_000, -2_000, -1_000, 100_000].map((ms, i) => plan(ms, `skip${i}`)));
    const a = new DueFires(pool, 'replica-a', 30_000);
    const other = await pool.connect();
    try {
      // Replica B is mid-claim: its transaction holds the two earliest fires.
      await other.query('BEGIN');
      await other.query(`SELECT id FROM dsp_due_fires WHERE delivery_id = ANY($1) FOR UPDATE`, [fires.slice(0, 2)]);
      const claimed = await a.claim(1_000, 10);
      // A took the due fire B does not hold (and not the one due beyond its look-ahead), at once.
      expect(claimed.map((f) => f.delivery_id)).toEqual([fires[2]]);
      await other.query('COMMIT');
    } finally {
      other.release();
    }
    // Once B's transaction ends, the fires it held but did not lease are A's to claim.
    const next = await a.claim(1_000, 10);
    expect(next.map((f) => f.delivery_id)).toEqual(fires.slice(0, 2));
  });
});
