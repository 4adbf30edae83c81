import { useState } from 'react';
import { client, unwrap } from '../api';
import type { components } from '../api-schema';
import { ErrorBox, Loading, useLoad } from '../ui';

type SloReport = components['schemas']['SloModel'];
type Window = SloReport['window'];

const WINDOWS: Window[] = ['1h', '24h', '7d', '30d'];

/** p99 over time against the objective, as a small SVG chart (no chart library needed). */
function LagChart({ series, objective }: { series: { at: string; p99_ms: number | null }[]; objective: number }) {
  const points = series.filter((p) => p.p99_ms !== null) as { at: string; p99_ms: number }[];
  if (points.length === 0) return <p className="muted">No eligible fires in this window yet.</p>;
  const w = 640;
  const h = 200;
  const max = Math.max(objective * 1.25, ...points.map((p) => p.p99_ms));
  const t0 = Date.parse(points[0].at);
  const t1 = Math.max(Date.parse(points[points.length - 1].at), t0 + 1);
  const x = (at: string) => ((Date.parse(at) - t0) / (t1 - t0)) * (w - 40) + 30;
  const y = (ms: number) => h - 20 - (ms / max) * (h - 30);
  const path = points.map((p, i) => `${i ? 'L' : 'M'}${x(p.at).toFixed(1)},${y(p.p99_ms).toFixed(1)}`).join(' ');
  return (
    <svg viewBox={`0 0 ${w} ${h}`} className="chart" role="img" aria-label="p99 dispatch lag over time against the objective">
      <line x1={30} x2={w - 10} y1={y(objective)} y2={y(objective)} className="chart-objective" />
      <text x={w - 12} y={y(objective) - 4} textAnchor="end" className="chart-label">
        objective {objective} ms
      </text>
      <path d={path} className="chart-line" />
      {points.map((p) => (
        <circle key={p.at} cx={x(p.at)} cy={y(p.p99_ms)} r={2.5} className="chart-dot">
          <title>
            {new Date(p.at).toLocaleString()}: p99 {p.p99_ms} ms
          </title>
        </circle>
      ))}
      <text x={30} y={h - 4} className="chart-label">
        {new Date(t0).toLocaleString()}
      </text>
    </svg>
  );
}

export function SloPage() {
  const [window, setWindow] = useState<Window>('1h');
  const { data, error, loading } = useLoad(() => unwrap<SloReport>(client.GET('/v1/slo', { params: { query: { window } } })), [window]);
  return (
    <section>
      <div className="page-head">
        <h1>Dispatch SLO</h1>
        <div className="tabs" role="tablist">
          {WINDOWS.map((w) => (
            <button type="button" role="tab" aria-selected={w === window} key={w} className={w === window ? 'tab active' : 'tab'} onClick={() => setWindow(w)}>
              {w}
            </button>
          ))}
        </div>
      </div>
      <p className="muted">
        Lag is the time from a fire’s scheduled instant to the first byte sent. The objective covers live first attempts only; retries, reclaims, deferrals,
        coalesced and DST-shifted fires, and all sandbox and test fires are excluded.
      </p>
      <ErrorBox error={error} />
      {loading && <Loading />}
      {data && (
        <>
          <div className="stats">
            <Stat label="p50" value={data.lag_ms.p50} unit="ms" />
            <Stat label="p90" value={data.lag_ms.p90} unit="ms" />
            <Stat label="p99" value={data.lag_ms.p99} unit="ms" tone={data.lag_ms.p99 !== null && data.lag_ms.p99 > data.objective.threshold_ms ? 'bad' : 'good'} />
            <Stat label="Eligible fires" value={data.eligible_count} />
            <Stat
              label="Error budget left"
              value={Math.round(data.error_budget.remaining * 1000) / 10}
              unit="%"
              tone={data.error_budget.remaining < 0.25 ? 'bad' : 'good'}
            />
            <Stat label="Burn rate" value={data.burn_rate} unit="×" tone={data.burn_rate > 1 ? 'bad' : 'good'} />
          </div>
          <div className="card">
            <h2>p99 against the objective</h2>
            <LagChart series={data.series} objective={data.objective.threshold_ms} />
          </div>
          <div className="card">
            <h2>Excluded fires by kind</h2>
            <table className="table">
              <tbody>
                {Object.entries(data.excluded).map(([kind, count]) => (
                  <tr key={kind}>
                    <td>{kind.replace(/_/g, ' ')}</td>
                    <td className="num">{count as number}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}

function Stat({ label, value, unit, tone }: { label: string; value: number | null; unit?: string; tone?: 'good' | 'bad' }) {
  return (
    <div className={`stat ${tone ?? ''}`}>
      <div className="stat-label">{label}</div>
      <div className="stat-value">
        {value === null ? '—' : value.toLocaleString()}
        {value !== null && unit ? <small> {unit}</small> : null}
      </div>
    </div>
  );
}
