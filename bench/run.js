#!/usr/bin/env node
// `npm run bench`: dispatch lag, burst throughput and API throughput of SchedStack (issue #9,
// SPEC §7), in the local profile and the distributed profile with two dispatchers.
//
//   npm run bench                          both profiles, full workloads
//   npm run bench -- --profile local       one profile (local | distributed)
//   npm run bench -- --scale 0.1           smaller workloads (a smoke run)
//   npm run bench -- --only w1,api         some workloads (api, w1, w2, w3)
//
// Every workload runs on live keys (first attempts, SLO-eligible) through the public HTTP API
// with durable acceptance. The project's live rate limit is raised through the owner-editable
// limits API (PATCH /v1/limits as the owner), and the report says so; nothing in the product is
// switched off. Results: a table on stdout and bench/results/<timestamp>.json.
const { fork } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { randomUUID } = require('node:crypto');
const autocannon = require('autocannon');
const { Pool } = require('undici');
const { startDistributed, startLocal, sendingThreadsPerDispatcher } = require('./profiles');
const stats = require('./stats');

const args = parseArgs(process.argv.slice(2));
const SCALE = Number(args.scale ?? 1);
const PROFILES = (args.profile ?? 'local,distributed').split(',');
const ONLY = new Set((args.only ?? 'api,w1,w2,w3').split(','));
const API_SECONDS = Number(args['api-seconds'] ?? 10 * Math.min(1, SCALE * 2));
const LAG_METRIC = 'schedstack_dispatch_lag_seconds';
const RATE_LIMIT = 100_000; // the maximum PATCH /v1/limits accepts
// The receiver stands in for a target on another machine; here it shares two cores with the product.
// At the sending thread's priority (where allowed) its own wait for a core stays out of the lag.
const RECEIVER_NICE = Number(args['receiver-nice'] ?? os.constants.priority.PRIORITY_ABOVE_NORMAL);

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) continue;
    const [key, inline] = arg.slice(2).split('=');
    out[key] = inline ?? (argv[i + 1] && !argv[i + 1].startsWith('--') ? argv[++i] : 'true');
  }
  return out;
}

const say = (line) => process.stdout.write(`› ${line}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- receiver (a separate process)

async function startReceiver() {
  const child = fork(path.join(__dirname, 'receiver.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ask = (type, answer) =>
    new Promise((resolve) => {
      const onMessage = (message) => {
        if (message.type !== answer) return;
        child.off('message', onMessage);
        resolve(message);
      };
      child.on('message', onMessage);
      child.send({ type });
    });
  const ready = await new Promise((resolve) => child.once('message', resolve));
  let nice = 0;
  try {
    os.setPriority(child.pid, RECEIVER_NICE);
    nice = RECEIVER_NICE;
  } catch (error) {
    say(`receiver runs at the default priority (${error.code ?? error.message})`);
  }
  return {
    url: ready.url,
    pid: child.pid,
    nice,
    count: async () => (await ask('count', 'count')).count,
    /** The requests and connection accepts since the last take. */
    take: async () => {
      const { records, connections } = await ask('take', 'records');
      return { records, connections };
    },
    stop: () => new Promise((resolve) => (child.once('exit', resolve), child.send({ type: 'stop' }))),
  };
}

// ---------------------------------------------------------------- measurements around a workload

function cpuSnapshot(sources, extra) {
  const table = stats.processTable();
  const seconds = {};
  for (const source of [...sources, ...extra]) {
    if (source.comm) seconds[source.name] = stats.commCpuSeconds(table, source.comm);
    else if (source.children) seconds[source.name] = stats.treeCpuSeconds(table, source.pid) - (table.get(source.pid)?.ticks ?? 0) / 100;
    else seconds[source.name] = (table.get(source.pid)?.ticks ?? 0) / 100;
  }
  return { at: Date.now(), seconds, machine: stats.machineTicks() };
}

/** Average CPU of each process between two snapshots, in % of one core. */
function cpuBetween(before, after) {
  const wall = (after.at - before.at) / 1000;
  // Processes that ended between the snapshots (short-lived backends) take their CPU with them: never below 0.
  const perProcess = Object.fromEntries(Object.keys(after.seconds).map((name) => [name, Math.max(0, stats.round(((after.seconds[name] - before.seconds[name]) / wall) * 100, 0))]));
  // The whole machine, all cores, whoever used them: 100% = every core busy (a saturated 2-core box).
  const machine = stats.round(((after.machine.busy - before.machine.busy) / Math.max(1, after.machine.total - before.machine.total)) * 100, 0);
  return { ...perProcess, 'machine (all cores)': machine };
}

/**
 * CPU time per operation (ms) of each process and of the whole machine between two snapshots: a
 * steadier figure than operations per second on a noisy machine, and the one a fix must lower.
 */
function cpuPerOperation(before, after, operations) {
  const n = Math.max(1, operations);
  const perProcess = Object.fromEntries(Object.keys(after.seconds).map((name) => [name, Math.max(0, stats.round(((after.seconds[name] - before.seconds[name]) * 1000) / n, 2))]));
  // /proc/stat counts in USER_HZ (100 per second on Linux).
  return { ...perProcess, 'machine (all cores)': stats.round(((after.machine.busy - before.machine.busy) * 10) / n, 2) };
}

async function lagBuckets(urls) {
  const total = new Map();
  for (const url of urls) {
    const text = await (await fetch(url)).text();
    for (const [le, count] of stats.histogramBuckets(text, LAG_METRIC, { environment: 'live', fire_kind: 'first' })) {
      total.set(le, (total.get(le) ?? 0) + count);
    }
  }
  return total;
}

/** The machine counts as at rest below this share of all its cores, held for SETTLE_QUIET_MS. */
const SETTLE_BUSY = 0.15;
const SETTLE_QUIET_MS = 2_000;
const SETTLE_MAX_MS = 180_000;

/**
 * Waits until the machine is at rest — the previous workload's completions, projections and relays
 * done — so each workload measures itself and not its predecessor's backlog. Returns how long that
 * took (reported with the row), or null when the machine never came to rest within SETTLE_MAX_MS.
 */
async function settle() {
  const started = Date.now();
  let before = stats.machineTicks();
  let quietSince = null;
  while (Date.now() - started < SETTLE_MAX_MS) {
    await sleep(250);
    const after = stats.machineTicks();
    const busy = (after.busy - before.busy) / Math.max(1, after.total - before.total);
    before = after;
    quietSince = busy < SETTLE_BUSY ? quietSince ?? Date.now() : null;
    if (quietSince !== null && Date.now() - quietSince >= SETTLE_QUIET_MS) return Date.now() - started;
  }
  return null;
}

// ---------------------------------------------------------------- the API

async function raiseLiveRateLimit(stack) {
  const login = await fetch(`${stack.url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(stack.owner) });
  if (login.status !== 201 && login.status !== 200) throw new Error(`owner login failed: ${login.status} ${await login.text()}`);
  const { token } = await login.json();
  const res = await fetch(`${stack.url}/v1/limits`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'sched-environment': 'live' },
    body: JSON.stringify({ requests_per_second: RATE_LIMIT }),
  });
  if (res.status !== 200) throw new Error(`raising the live rate limit failed: ${res.status} ${await res.text()}`);
  return (await res.json()).requests_per_second;
}

/** Creates schedules through POST /v1/schedules with `concurrency` keep-alive connections. */
async function createSchedules(stack, bodies, concurrency = 32) {
  const pool = new Pool(stack.url, { connections: concurrency, pipelining: 1 });
  const failures = [];
  let next = 0;
  const started = Date.now();
  const worker = async () => {
    while (next < bodies.length) {
      const body = bodies[next++];
      const res = await pool.request({
        path: '/v1/schedules',
        method: 'POST',
        headers: { authorization: `Bearer ${stack.keys.live}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await res.body.text();
      if (res.statusCode !== 201) failures.push(`${res.statusCode} ${text.slice(0, 200)}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  await pool.close();
  return { ms: Date.now() - started, failures };
}

async function apiWorkload(stack, idempotent) {
  const run = (connections) =>
    new Promise((resolve, reject) => {
      autocannon(
        {
          url: `${stack.url}/v1/schedules`,
          method: 'POST',
          connections,
          duration: API_SECONDS,
          headers: { authorization: `Bearer ${stack.keys.live}`, 'content-type': 'application/json' },
          // A fire far in the future: the API is measured, not the dispatcher.
          body: JSON.stringify({ endpoint: 'http://127.0.0.1:9/api-bench', delay: '7d', body: '{"bench":true}' }),
          requests: idempotent
            ? [{ setupRequest: (req) => ({ ...req, headers: { ...req.headers, 'idempotency-key': randomUUID() } }) }]
            : undefined,
        },
        (error, result) => (error ? reject(error) : resolve(result)),
      );
    });
  const result = await run(Number(args.connections ?? 32));
  return {
    workload: idempotent ? 'API create + Idempotency-Key' : 'API create',
    requests_per_s: stats.round(result.requests.average, 0),
    created: result['2xx'],
    non_2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    latency_ms: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
    connections: result.connections,
    duration_s: result.duration,
  };
}

// ---------------------------------------------------------------- fire workloads

/**
 * Creates one schedule per due instant (all before the first is due), waits for every delivery,
 * and measures lag = handler start at the receiver − scheduled instant.
 */
async function fireWorkload(stack, receiver, name, offsets, createRate) {
  // All schedules must exist before the first is due: lead time from the measured creation rate.
  const lead = Math.max(3_000, Math.ceil((offsets.length / createRate) * 1_000 * 1.5) + 2_000);
  const t0 = Math.ceil((Date.now() + lead) / 1000) * 1000;
  const dues = offsets.map((offset) => t0 + offset);
  const bodies = dues.map((due) => ({ endpoint: `${receiver.url}/${name}/${due}`, run_at: new Date(due).toISOString(), body: '{"bench":true}' }));
  await receiver.take();
  const metricsBefore = await lagBuckets(stack.metricsUrls);
  const created = await createSchedules(stack, bodies);
  const createdBeforeDue = Date.now() < t0;
  if (created.failures.length) say(`${name}: ${created.failures.length} creates failed, e.g. ${created.failures[0]}`);
  const accepted = bodies.length - created.failures.length;
  await sleep(Math.max(0, t0 - Date.now()));
  const cpuBefore = cpuSnapshot(stack.cpuSources, [{ name: 'receiver', pid: receiver.pid }, { name: 'bench (load)', pid: process.pid }]);
  const lastDue = Math.max(...dues);
  const deadline = lastDue + 120_000;
  while (Date.now() < deadline && (await receiver.count()) < accepted) await sleep(100);
  await sleep(1_000); // late duplicates, if any, would arrive now
  const cpuAfter = cpuSnapshot(stack.cpuSources, [{ name: 'receiver', pid: receiver.pid }, { name: 'bench (load)', pid: process.pid }]);
  const taken = await receiver.take();
  const records = taken.records.filter((r) => r[4] === name);
  if (process.env.BENCH_DUMP) fs.writeFileSync(`${process.env.BENCH_DUMP}-${name}.json`, JSON.stringify({ t0, records, connections: taken.connections }));
  const metricsAfter = await lagBuckets(stack.metricsUrls);

  const first = new Map();
  for (const r of records) if (!first.has(r[2]) || first.get(r[2])[0] > r[0]) first.set(r[2], r);
  const lags = [...first.values()].map((r) => r[0] - r[1]);
  const received = records.map((r) => r[0]);
  const lastArrival = received.length ? Math.max(...received) : null;
  const delta = stats.bucketDelta(metricsAfter, metricsBefore);
  const ms = (q) => {
    const seconds = stats.histogramQuantile(q, delta);
    return seconds === null ? null : stats.round(seconds * 1000);
  };
  return {
    workload: name,
    schedules: bodies.length,
    accepted,
    created_in_ms: created.ms,
    created_before_first_due: createdBeforeDue,
    first_due_at: new Date(t0).toISOString(),
    delivered: first.size,
    missing: accepted - first.size,
    duplicated: records.length - first.size,
    lag_ms: stats.summarize(lags),
    // Where in the workload the tail is: lag p99 and max of the fires due in each second.
    lag_by_second: lagBySecond([...first.values()], t0),
    // W2: from the instant all were due to the last arrival.
    drain_ms: lastArrival === null ? null : stats.round(lastArrival - t0, 0),
    fires_per_s: lastArrival === null ? null : stats.round(first.size / Math.max(0.001, (lastArrival - Math.min(...dues)) / 1000), 0),
    // Connections the senders opened from the first due instant on (idle ones close after 30 s).
    receiver_connections: taken.connections.filter((at) => at >= t0).length,
    metrics_lag_ms: { observations: [...delta.values()].reduce((a, b) => Math.max(a, b), 0), p50: ms(0.5), p90: ms(0.9), p99: ms(0.99) },
    cpu_percent: cpuBetween(cpuBefore, cpuAfter),
  };
}

/** Per second of due time (from t0): fires, lag p99 and max, for workloads longer than a second. */
function lagBySecond(records, t0) {
  const bySecond = new Map();
  for (const r of records) {
    const second = Math.floor((r[1] - t0) / 1000);
    if (!bySecond.has(second)) bySecond.set(second, []);
    bySecond.get(second).push(r[0] - r[1]);
  }
  if (bySecond.size < 2) return undefined;
  return [...bySecond.keys()].sort((a, b) => a - b).map((second) => {
    const lags = stats.summarize(bySecond.get(second));
    return { second, fires: lags.count, p99: lags.p99, max: lags.max };
  });
}

const WORKLOADS = {
  w1: { title: 'W1 steady', offsets: () => Array.from({ length: Math.round(10_000 * SCALE) }, (_, i) => i) }, // 1,000/s
  w2: { title: 'W2 burst', offsets: () => Array.from({ length: Math.round(10_000 * SCALE) }, () => 0) },
  w3: { title: 'W3 light', offsets: () => Array.from({ length: Math.max(20, Math.round(200 * SCALE)) }, (_, i) => i * 50) },
};

// ---------------------------------------------------------------- report

function table(rows) {
  const header = ['profile', 'workload', 'n', 'lag p50', 'p90', 'p99', 'max', 'fires/s', 'req/s', 'lat p50', 'lat p99', 'missing', 'dup', 'metrics p99'];
  const lines = rows.map((r) => [
    r.profile,
    r.workload,
    r.schedules ?? r.created ?? '',
    r.lag_ms?.p50 ?? '',
    r.lag_ms?.p90 ?? '',
    r.lag_ms?.p99 ?? '',
    r.lag_ms?.max ?? '',
    r.workload.startsWith('W2') ? r.fires_per_s : '',
    r.requests_per_s ?? '',
    r.latency_ms?.p50 ?? '',
    r.latency_ms?.p99 ?? '',
    r.missing ?? (r.non_2xx + r.errors),
    r.duplicated ?? '',
    r.metrics_lag_ms?.p99 ?? '',
  ].map(String));
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [fmt(header), widths.map((w) => '─'.repeat(w)).join('  '), ...lines.map(fmt)].join('\n');
}

const TARGETS = { 'W1 steady': { p99: 10 }, 'W3 light': { p99: 5 }, 'W2 burst': { fires_per_s: 8_000 }, 'API create': { requests_per_s: 3_000 } };

function verdicts(rows) {
  return rows.flatMap((r) => {
    const target = TARGETS[r.workload];
    if (!target) return [];
    // A workload that started on a busy machine says so next to its verdict.
    if (r.settled_after_ms === null) return [`${r.profile} ${r.workload}: measured on a machine that never came to rest (see settle()); no verdict`];
    const factor = r.profile === 'distributed' ? 2 : 1;
    if (target.p99) return [`${r.profile} ${r.workload}: p99 ${r.lag_ms.p99} ms (target ≤ ${target.p99 * factor}) ${r.lag_ms.p99 <= target.p99 * factor ? 'met' : 'MISSED'}`];
    if (target.fires_per_s) return [`${r.profile} ${r.workload}: ${r.fires_per_s} fires/s (target ≥ ${target.fires_per_s / factor}) ${r.fires_per_s >= target.fires_per_s / factor ? 'met' : 'MISSED'}`];
    return [`${r.profile} ${r.workload}: ${r.requests_per_s} creates/s (target ≥ ${target.requests_per_s / factor}) ${r.requests_per_s >= target.requests_per_s / factor ? 'met' : 'MISSED'}`];
  });
}

// ---------------------------------------------------------------- main

async function benchProfile(profile, receiver) {
  say(`${profile}: starting…`);
  const stack = profile === 'local' ? await startLocal() : await startDistributed();
  const rows = [];
  try {
    const limit = await raiseLiveRateLimit(stack);
    say(`${profile}: ready at ${stack.url}; live rate limit raised to ${limit} requests/s through PATCH /v1/limits (owner session)`);
    // A freshly started process sends its first fires 20–30 ms late (code not yet compiled): a
    // workload run alone would measure that as its tail. 200 fires over one second, not reported.
    const warmup = await fireWorkload(stack, receiver, 'warmup', Array.from({ length: 200 }, (_, i) => i * 5), 100);
    const warmupCreateRate = Math.round((warmup.accepted * 1000) / Math.max(1, warmup.created_in_ms));
    say(`${profile}: warmed up (200 fires, not reported: lag p50 ${warmup.lag_ms.p50} / max ${warmup.lag_ms.max} ms; created at ${warmupCreateRate}/s)`);
    if (warmup.missing || warmup.duplicated) say(`${profile}: the warm-up lost ${warmup.missing} and duplicated ${warmup.duplicated} deliveries`);
    // The lead time before each fire workload comes from the create rate: the API row's when it runs,
    // else the warm-up's (a fresh process, so slower and on the safe side). A fixed guess let a
    // distributed `--only w1` create past its first due instant.
    let createRate = Math.max(50, warmupCreateRate);
    if (ONLY.has('api')) {
      for (const idempotent of [false, true]) {
        const settledAfter = await settle();
        say(`${profile}: API create${idempotent ? ' with Idempotency-Key' : ''}, ${API_SECONDS} s…`);
        const cpuBefore = cpuSnapshot(stack.cpuSources, [{ name: 'bench (load)', pid: process.pid }]);
        const row = await apiWorkload(stack, idempotent);
        const cpuAfter = cpuSnapshot(stack.cpuSources, [{ name: 'bench (load)', pid: process.pid }]);
        row.cpu_percent = cpuBetween(cpuBefore, cpuAfter);
        row.cpu_ms_per_create = cpuPerOperation(cpuBefore, cpuAfter, row.created);
        rows.push({ profile, ...row, settled_after_ms: settledAfter });
        if (!idempotent) createRate = Math.max(100, row.requests_per_s);
        say(`${profile}: ${row.requests_per_s} creates/s, p50 ${row.latency_ms.p50} ms, p99 ${row.latency_ms.p99} ms`);
      }
    }
    for (const key of ['w1', 'w2', 'w3']) {
      if (!ONLY.has(key)) continue;
      const { title, offsets } = WORKLOADS[key];
      const settledAfter = await settle();
      say(`${profile}: ${title} (machine at rest after ${settledAfter === null ? `${SETTLE_MAX_MS / 1000} s: it never was` : `${settledAfter} ms`})…`);
      const row = await fireWorkload(stack, receiver, title.split(' ')[0].toLowerCase(), offsets(), createRate);
      rows.push({ profile, ...row, workload: title, settled_after_ms: settledAfter });
      if (!row.created_before_first_due) say(`${profile}: ${title}: creating the schedules took ${row.created_in_ms} ms and overran the first due time — the lags include that wait`);
      say(`${profile}: ${title}: lag p50 ${row.lag_ms.p50} / p99 ${row.lag_ms.p99} / max ${row.lag_ms.max} ms, ${row.fires_per_s} fires/s, missing ${row.missing}, duplicated ${row.duplicated}, ${row.receiver_connections} connections opened`);
      if (row.lag_by_second) say(`${profile}: ${title}: p99 / max by second: ${row.lag_by_second.map((s) => `${s.p99}/${s.max}`).join('  ')}`);
    }
  } finally {
    await stack.stop();
  }
  return rows;
}

async function main() {
  const speedBefore = stats.machineSpeedMs();
  say(`machine speed: ${speedBefore} ms for the calibration workload (lower is faster)`);
  const receiver = await startReceiver();
  const rows = [];
  const skipped = [];
  try {
    for (const profile of PROFILES) {
      try {
        rows.push(...(await benchProfile(profile, receiver)));
      } catch (error) {
        say(`${profile}: could not run: ${error.message.split('\n')[0]}`);
        skipped.push({ profile, reason: error.message.split('\n')[0] });
        if (args.strict) throw error;
      }
    }
  } finally {
    await receiver.stop();
  }
  const when = new Date();
  const speedAfter = stats.machineSpeedMs();
  const report = {
    at: when.toISOString(),
    machine: { speed_ms: { before: speedBefore, after: speedAfter }, cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model, memory_gb: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.type()} ${os.release()}` },
    settings: { scale: SCALE, api_seconds: API_SECONDS, live_rate_limit: `${RATE_LIMIT} requests/s, raised through PATCH /v1/limits as the owner`, keys: 'live', receiver_nice: receiver.nice, distributed_sending_threads_per_dispatcher: sendingThreadsPerDispatcher() },
    rows,
    skipped,
    verdicts: verdicts(rows),
  };
  const dir = path.join(__dirname, 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${when.toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
  console.log(`\n${table(rows)}\n`);
  for (const line of report.verdicts) console.log(`  ${line}`);
  for (const row of rows) if (row.cpu_percent) console.log(`  cpu ${row.profile} ${row.workload}: ${Object.entries(row.cpu_percent).map(([k, v]) => `${k} ${v}%`).join(', ')}`);
  for (const row of rows) if (row.cpu_ms_per_create) console.log(`  cpu per create ${row.profile} ${row.workload}: ${Object.entries(row.cpu_ms_per_create).map(([k, v]) => `${k} ${v} ms`).join(', ')}`);
  console.log(`\nLive rate limit raised to ${RATE_LIMIT} requests/s through PATCH /v1/limits (owner); nothing else changed.`);
  console.log(`Receiver at nice ${receiver.nice} (--receiver-nice; the product's sending thread asks for ${os.constants.priority.PRIORITY_ABOVE_NORMAL}).`);
  console.log(`Machine speed: ${speedBefore} ms before, ${speedAfter} ms after for the calibration workload (lower is faster; compare runs at similar figures).`);
  console.log(`Results written to ${path.relative(process.cwd(), file)}`);
  const lost = rows.some((r) => (r.missing ?? 0) > 0 || (r.duplicated ?? 0) > 0);
  if (lost) console.log('Some deliveries were missing or duplicated: see the table.');
  process.exitCode = lost || (args.strict && skipped.length) ? 1 : 0;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
