// Figures of the benchmark: percentiles of the receiver's lags, Prometheus histogram quantiles
// (the same interpolation as PromQL's histogram_quantile) and CPU time of process trees.
const fs = require('node:fs');

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

const round = (value, digits = 2) => (value === null || value === undefined ? null : Number(value.toFixed(digits)));

/** p50/p90/p99/max of a list of milliseconds. */
function summarize(values) {
  const sorted = Float64Array.from(values).sort();
  return {
    count: sorted.length,
    min: round(sorted[0] ?? null),
    p50: round(percentile(sorted, 50)),
    p90: round(percentile(sorted, 90)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted[sorted.length - 1] ?? null),
  };
}

/**
 * Cumulative bucket counts `{le → count}` of one histogram in a Prometheus text exposition, summed
 * over the series whose labels include every `labels` pair.
 */
function histogramBuckets(text, name, labels = {}) {
  const buckets = new Map();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}_bucket{`)) continue;
    const close = line.lastIndexOf('}');
    const labelText = line.slice(name.length + 8, close);
    const value = Number(line.slice(close + 1).trim().split(' ')[0]);
    const pairs = Object.fromEntries([...labelText.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (!Object.entries(labels).every(([k, v]) => pairs[k] === v)) continue;
    const le = pairs.le === '+Inf' ? Infinity : Number(pairs.le);
    buckets.set(le, (buckets.get(le) ?? 0) + value);
  }
  return buckets;
}

/** Buckets of `after` minus `before` (what a workload added). */
function bucketDelta(after, before) {
  const delta = new Map();
  for (const [le, count] of after) delta.set(le, count - (before.get(le) ?? 0));
  return delta;
}

/** PromQL's histogram_quantile: linear interpolation inside the bucket the rank falls in. */
function histogramQuantile(q, buckets) {
  const sorted = [...buckets.entries()].sort((a, b) => a[0] - b[0]);
  if (sorted.length === 0) return null;
  const total = sorted[sorted.length - 1][1];
  if (!total) return null;
  const rank = q * total;
  let previousLe = 0;
  let previousCount = 0;
  for (const [le, count] of sorted) {
    if (count >= rank) {
      if (le === Infinity) return previousLe;
      return previousLe + (le - previousLe) * ((rank - previousCount) / (count - previousCount || 1));
    }
    previousLe = le;
    previousCount = count;
  }
  return previousLe;
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** pid → { ppid, comm, ticks } for every process on the machine. */
function processTable() {
  const table = new Map();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      table.set(Number(entry), { ppid: Number(fields[1]), comm, ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // the process ended while we read
    }
  }
  return table;
}

/** CPU seconds used so far by a process and its descendants. */
function treeCpuSeconds(table, pid) {
  let ticks = 0;
  const pending = [pid];
  while (pending.length) {
    const current = pending.pop();
    const entry = table.get(current);
    if (entry) ticks += entry.ticks;
    for (const [child, info] of table) if (info.ppid === current) pending.push(child);
  }
  return ticks / CLOCK_TICKS;
}

/** CPU seconds used so far by every process of a name (e.g. the machine's `postgres` backends). */
function commCpuSeconds(table, comm) {
  let ticks = 0;
  for (const info of table.values()) if (info.comm === comm) ticks += info.ticks;
  return ticks / CLOCK_TICKS;
}

/**
 * How fast this machine runs a fixed piece of JavaScript right now (JSON in and out, as the product
 * does per request): the median ms of 7 runs, lower is faster. A shared host's speed drifts from
 * hour to hour; runs are comparable only at similar figures.
 */
function machineSpeedMs() {
  const doc = { id: 'sch_calibration', endpoint: 'http://127.0.0.1:9/x', body: 'x'.repeat(200), headers: { a: '1', b: '2' }, n: 0 };
  const runs = [];
  let sink = 0;
  for (let r = 0; r < 7; r++) {
    const started = performance.now();
    for (let i = 0; i < 20_000; i++) sink += JSON.parse(JSON.stringify({ ...doc, n: i })).n;
    runs.push(performance.now() - started);
  }
  if (sink < 0) throw new Error('unreachable: keeps the loop from being optimised away');
  return round(percentile(runs.sort((a, b) => a - b), 50), 1);
}

/** Busy and total jiffies of the whole machine (all cores), from /proc/stat. */
function machineTicks() {
  const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = fields[3] + (fields[4] ?? 0);
  const total = fields.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

module.exports = {
  machineTicks, machineSpeedMs, percentile, summarize, round, histogramBuckets, bucketDelta, histogramQuantile, processTable, treeCpuSeconds, commCpuSeconds };
