import { assertCron, cronOccurrences, isValidTimeZone, parseDuration } from '@schedstack/time';
import { type FormEvent, useMemo, useState } from 'react';
import { client, unwrap } from '../api';
import type { Schedule } from '../model';
import { navigate } from '../router';
import { ErrorBox, Field } from '../ui';

type TriggerKind = 'delay' | 'run_at' | 'cron';

const METHODS = ['POST', 'PUT', 'PATCH', 'DELETE', 'GET'] as const;
const ZONES: string[] = (Intl as unknown as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf?.('timeZone') ?? ['UTC'];

interface Preview {
  fires: { at: Date; dstShifted: boolean }[];
  problem: string | null;
}

/** The next five fires, computed with the same time library the server uses (DST rules included). */
function previewOf(kind: TriggerKind, delay: string, runAt: string, cron: string, timezone: string): Preview {
  try {
    if (kind === 'delay') {
      if (!delay) return { fires: [], problem: null };
      return { fires: [{ at: new Date(Date.now() + parseDuration(delay)), dstShifted: false }], problem: null };
    }
    if (kind === 'run_at') {
      const at = new Date(runAt);
      return Number.isNaN(at.getTime()) ? { fires: [], problem: null } : { fires: [{ at, dstShifted: false }], problem: null };
    }
    if (!cron.trim()) return { fires: [], problem: null };
    if (!isValidTimeZone(timezone)) return { fires: [], problem: `Unknown time zone ${timezone}` };
    assertCron(cron, timezone);
    const fires = [];
    for (const o of cronOccurrences(cron, timezone, new Date())) {
      fires.push(o);
      if (fires.length === 5) break;
    }
    return { fires, problem: null };
  } catch (error) {
    return { fires: [], problem: (error as Error).message };
  }
}

function parseHeaders(text: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (line.trim() && i > 0) headers[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return headers;
}

export function NewSchedulePage() {
  const [endpoint, setEndpoint] = useState('https://example.com/hooks/orders');
  const [method, setMethod] = useState('POST');
  const [headers, setHeaders] = useState('content-type: application/json');
  const [body, setBody] = useState('{"order_id":"ord_123"}');
  const [kind, setKind] = useState<TriggerKind>('delay');
  const [delay, setDelay] = useState('30s');
  const [runAt, setRunAt] = useState('');
  const [cron, setCron] = useState('0 9 * * 1-5');
  const [timezone, setTimezone] = useState(Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const preview = useMemo(() => previewOf(kind, delay, runAt, cron, timezone), [kind, delay, runAt, cron, timezone]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const trigger =
      kind === 'delay' ? { delay } : kind === 'run_at' ? { run_at: new Date(runAt).toISOString() } : { cron, timezone };
    try {
      const created = await unwrap<Schedule>(
        client.POST('/v1/schedules', {
          body: { endpoint, method: method as (typeof METHODS)[number], headers: parseHeaders(headers), body: body || undefined, ...trigger },
          headers: { 'Idempotency-Key': crypto.randomUUID() },
        }),
      );
      navigate(`/schedules/${created.id}`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section>
      <div className="page-head">
        <h1>New schedule</h1>
      </div>
      <form className="grid-2" onSubmit={submit}>
        <div className="card">
          <h2>Request</h2>
          <Field label="Endpoint" hint="The URL SchedStack calls, http or https.">
            <input type="url" required value={endpoint} onChange={(e) => setEndpoint(e.target.value)} />
          </Field>
          <Field label="Method">
            <select value={method} onChange={(e) => setMethod(e.target.value)}>
              {METHODS.map((m) => (
                <option key={m}>{m}</option>
              ))}
            </select>
          </Field>
          <Field label="Headers" hint="One “Name: value” per line.">
            <textarea rows={3} value={headers} onChange={(e) => setHeaders(e.target.value)} className="mono" />
          </Field>
          <Field label="Body">
            <textarea rows={5} value={body} onChange={(e) => setBody(e.target.value)} className="mono" />
          </Field>
        </div>
        <div className="card">
          <h2>When</h2>
          <div className="tabs" role="tablist">
            {(['delay', 'run_at', 'cron'] as const).map((k) => (
              <button type="button" role="tab" aria-selected={kind === k} key={k} className={kind === k ? 'tab active' : 'tab'} onClick={() => setKind(k)}>
                {k === 'delay' ? 'After a delay' : k === 'run_at' ? 'At a time' : 'Recurring (cron)'}
              </button>
            ))}
          </div>
          {kind === 'delay' && (
            <Field label="Delay" hint="30s, 5m, 1h30m, 2d">
              <input value={delay} onChange={(e) => setDelay(e.target.value)} />
            </Field>
          )}
          {kind === 'run_at' && (
            <Field label="Run at (your local time)">
              <input type="datetime-local" step={1} value={runAt} onChange={(e) => setRunAt(e.target.value)} required />
            </Field>
          )}
          {kind === 'cron' && (
            <>
              <Field label="Cron expression" hint="minute hour day month weekday — or 6 fields with seconds first">
                <input className="mono" value={cron} onChange={(e) => setCron(e.target.value)} aria-label="Cron expression" />
              </Field>
              <Field label="Time zone">
                <input list="zones" value={timezone} onChange={(e) => setTimezone(e.target.value)} aria-label="Time zone" />
                <datalist id="zones">
                  {ZONES.map((z) => (
                    <option key={z} value={z} />
                  ))}
                </datalist>
              </Field>
            </>
          )}
          <div className="preview" data-testid="fire-preview" aria-live="polite">
            <h3>Next fires</h3>
            {preview.problem && <p className="error-text">{preview.problem}</p>}
            {!preview.problem && preview.fires.length === 0 && <p className="muted small">Fill in when to fire to see a preview.</p>}
            <ol>
              {preview.fires.map((f) => (
                <li key={f.at.toISOString()}>
                  <span className="mono">{f.at.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium', timeZone: kind === 'cron' ? timezone : undefined })}</span>
                  <span className="muted small"> {kind === 'cron' ? timezone : ''}</span>
                  {f.dstShifted && (
                    <span className="badge badge-amber" title="This local time does not exist on that day (DST); it fires at the first instant after the gap.">
                      DST shifted
                    </span>
                  )}
                </li>
              ))}
            </ol>
          </div>
          <ErrorBox error={error} />
          <div className="actions">
            <a className="btn btn-ghost" href="#/schedules">
              Cancel
            </a>
            <button className="btn btn-primary" type="submit" disabled={busy}>
              {busy ? 'Creating…' : 'Create schedule'}
            </button>
          </div>
        </div>
      </form>
    </section>
  );
}
