import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort, type Receiver, startReceiver } from '@schedstack/testing';
import { eventually, startLocalStack, type TestStack } from '../support';

const PROMETHEUS = process.env.PROMETHEUS_PATH ?? '/usr/bin/prometheus';
const PROMTOOL = process.env.PROMTOOL_PATH ?? '/usr/bin/promtool';
const ROOT = path.resolve(__dirname, '..', '..');
const DEPLOY = path.join(ROOT, 'deploy');

const available = fs.existsSync(PROMETHEUS) && fs.existsSync(PROMTOOL);
if (!available) {
  const why = `Prometheus (${PROMETHEUS}) or promtool is missing`;
  if (process.env.CI === 'true') throw new Error(`${why}; CI must run the Prometheus evaluation test`);
  console.warn(`SKIPPED: the Prometheus evaluation suite — ${why}. Install it with apt-get install prometheus.`);
}

/** Every PromQL expression of the Grafana SLO dashboard, with its panel title. */
function dashboardExpressions(): { name: string; expr: string }[] {
  const dashboard = JSON.parse(fs.readFileSync(path.join(DEPLOY, 'grafana', 'dashboards', 'slo.json'), 'utf8')) as {
    panels: { title: string; targets?: { expr?: string }[]; panels?: { title: string; targets?: { expr?: string }[] }[] }[];
  };
  const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
  return panels.flatMap((p) => (p.targets ?? []).filter((t) => t.expr).map((t) => ({ name: `panel "${p.title}"`, expr: t.expr as string })));
}

/**
 * Every `expr` of the recording and alerting rules. An alert's threshold comparison filters its
 * series away while the system is healthy, so it is evaluated with `bool`: same expression and
 * operands, a 0/1 answer instead of nothing.
 */
function ruleExpressions(): { name: string; expr: string }[] {
  const text = fs.readFileSync(path.join(DEPLOY, 'prometheus', 'alerts.yml'), 'utf8');
  const found: { name: string; expr: string }[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const match = /^(\s*)(?:- )?expr:\s*(\|)?\s*(.*)$/.exec(lines[i]);
    if (!match) continue;
    const name = (/(?:record|alert):\s*(\S+)/.exec(lines[i - 1] ?? '') ?? [])[1] ?? `rule at line ${i + 1}`;
    let expr = match[3];
    if (match[2]) {
      const indent = match[1].length;
      const body: string[] = [];
      while (i + 1 < lines.length && (lines[i + 1].trim() === '' || lines[i + 1].search(/\S/) > indent)) body.push(lines[++i].trim());
      expr = body.join(' ').trim();
    }
    found.push({ name, expr: expr.replace(/(==|!=|>=|<=|>|<)\s*(-?[0-9.]+(?:e-?\d+)?)(?=\s|$|\))/g, '$1 bool $2') });
  }
  return found;
}


(available ? describe : describe.skip)("deploy/ against Debian's real Prometheus, scraping the local profile", () => {
  let stack: TestStack;
  let receiver: Receiver;
  let prometheus: ChildProcess | null = null;
  let promUrl = '';
  let promLog = '';
  let dir = '';

  const query = async (expr: string): Promise<{ status: string; data: { result: unknown[] }; error?: string }> => {
    const res = await fetch(`${promUrl}/api/v1/query?${new URLSearchParams({ query: expr })}`);
    return (await res.json()) as { status: string; data: { result: unknown[] }; error?: string };
  };

  /**
   * The answer to `expr` once it has data (or the last answer after 15 s). On a busy machine one
   * scrape can overrun its 1 s timeout, and Prometheus then marks every series of the target stale
   * until the next scrape succeeds: an instant query in that second finds nothing, a moment later
   * everything (a CI run saw exactly that once).
   */
  const queryWithData = async (expr: string) => {
    let answer = await query(expr);
    const deadline = Date.now() + 15_000;
    while (!(answer.data?.result.length > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      answer = await query(expr);
    }
    return answer;
  };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'schedstack-prom-'));
    stack = await startLocalStack('prometheus');
    receiver = await startReceiver();
    // Live first attempts (SLO-eligible) and test ones (excluded), so every series the dashboard reads exists.
    for (const key of [stack.keys.live, stack.keys.live, stack.keys.test]) {
      const res = await stack.api('/v1/schedules', { key, body: { endpoint: `${receiver.url}/hook`, delay: '1s' } });
      expect(res.status).toBe(201);
    }
    await receiver.waitFor(3, 20_000);

    const target = new URL(stack.url).host;
    const config = [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'rule_files:',
      `  - ${JSON.stringify(path.join(DEPLOY, 'prometheus', 'alerts.yml'))}`,
      'scrape_configs:',
      '  - job_name: schedstack-local',
      '    metrics_path: /metrics',
      '    static_configs:',
      `      - targets: [${JSON.stringify(target)}]`,
    ].join('\n');
    fs.writeFileSync(path.join(dir, 'prometheus.yml'), config);
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    prometheus = spawn(PROMETHEUS, [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ]);
    prometheus.stdout?.on('data', (c: Buffer) => (promLog += c.toString()));
    prometheus.stderr?.on('data', (c: Buffer) => (promLog += c.toString()));
    await eventually(async () => (await fetch(`${promUrl}/-/ready`)).ok, 20_000, 200).catch((error) => {
      throw new Error(`prometheus did not become ready: ${(error as Error).message}\n${promLog}`);
    });
    // rate() needs two samples after the deliveries, and the recording rules one evaluation after that.
    await eventually(async () => (await query('schedstack:dispatch_slo_bad_ratio:rate5m')).data?.result.length > 0, 30_000, 500);
    await eventually(async () => (await query('count_over_time(schedstack_deliveries_total[1m])')).data?.result.some((r) => Number((r as { value: [number, string] }).value[1]) >= 3), 30_000, 500);
  }, 90_000);

  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((resolve) => prometheus?.once('exit', resolve));
      prometheus.kill('SIGTERM');
      await exited;
    }
    await receiver?.close();
    await stack?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('promtool accepts prometheus.yml (with its rule files) and alerts.yml', () => {
    for (const args of [
      ['check', 'config', path.join(DEPLOY, 'prometheus', 'prometheus.yml')],
      ['check', 'rules', path.join(DEPLOY, 'prometheus', 'alerts.yml')],
    ]) {
      const run = spawnSync(PROMTOOL, args, { encoding: 'utf8' });
      expect({ args, status: run.status, output: run.status === 0 ? '' : run.stdout + run.stderr }).toEqual({ args, status: 0, output: '' });
    }
  });

  it('scrapes the metrics the dashboard and rules read, with the SPEC §7 labels', async () => {
    for (const expr of [
      'schedstack_dispatch_lag_seconds_count{environment="live",fire_kind="first",slo_eligible="true"}',
      'schedstack_dispatch_lag_seconds_count{environment="test",slo_eligible="false"}',
      'schedstack_deliveries_total{outcome="succeeded"}',
      'schedstack_due_fires{state="due_within_1m"}',
      'schedstack_due_fires{state="overdue"}',
      'schedstack_lease_reclaims_total or vector(0)',
    ]) {
      expect({ expr, found: (await queryWithData(expr)).data.result.length > 0 }).toEqual({ expr, found: true });
    }
  });

  it('returns data for every PromQL expression of the Grafana SLO dashboard', async () => {
    const expressions = dashboardExpressions();
    expect(expressions.length).toBeGreaterThanOrEqual(10);
    for (const { name, expr } of expressions) {
      const answer = await queryWithData(expr);
      expect({ name, expr, status: answer.status, error: answer.error, results: answer.data?.result.length > 0 }).toEqual({ name, expr, status: 'success', error: undefined, results: true });
    }
  });

  it('returns data for every recording and alerting rule expression', async () => {
    const expressions = ruleExpressions();
    expect(expressions.map((e) => e.name)).toEqual(expect.arrayContaining(['schedstack:dispatch_slo_bad_ratio:rate5m', 'SchedStackDispatchSLOFastBurn', 'SchedStackOverdueFires']));
    for (const { name, expr } of expressions) {
      const answer = await queryWithData(expr);
      expect({ name, expr, status: answer.status, error: answer.error, results: answer.data?.result.length > 0 }).toEqual({ name, expr, status: 'success', error: undefined, results: true });
    }
  });
});
