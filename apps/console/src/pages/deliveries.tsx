import { useState } from 'react';
import { client, unwrap } from '../api';
import { type Attempt, type Delivery, lagMs, type ListOf } from '../model';
import { navigate } from '../router';
import { Badge, Empty, ErrorBox, Loading, Pager, Time, useCursor, useLoad } from '../ui';

const STATES = ['', 'scheduled', 'delivering', 'succeeded', 'retrying', 'dead_lettered', 'canceled'];

export function DeliveryRows({ deliveries, onOpen }: { deliveries: Delivery[]; onOpen: (d: Delivery) => void }) {
  return (
    <table className="table" data-testid="deliveries-table">
      <thead>
        <tr>
          <th>Delivery</th>
          <th>State</th>
          <th>Scheduled for</th>
          <th>Attempts</th>
          <th className="hide-narrow">Last status</th>
        </tr>
      </thead>
      <tbody>
        {deliveries.map((d) => {
          const last = d.attempts[d.attempts.length - 1];
          return (
            <tr key={d.id} className="clickable" onClick={() => onOpen(d)}>
              <td>
                <a className="mono" href={`#/deliveries/${d.id}`}>
                  {d.id}
                </a>
                <div className="muted small mono">{d.schedule}</div>
              </td>
              <td>
                <Badge value={d.state} />
              </td>
              <td>
                <Time value={d.scheduled_for} />
              </td>
              <td>{d.attempts.length}</td>
              <td className="hide-narrow">{last ? (last.status_code ?? last.error ?? '—') : '—'}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

export function DeliveriesPage() {
  const [state, setState] = useState('');
  const [schedule, setSchedule] = useState('');
  const cursor = useCursor();
  const { data, error, loading } = useLoad(
    () =>
      unwrap<ListOf<Delivery>>(
        client.GET('/v1/deliveries', {
          params: { query: { limit: 20, state: (state || undefined) as Delivery['state'] | undefined, schedule: schedule || undefined, starting_after: cursor.cursor } },
        }),
      ),
    [state, schedule, cursor.cursor],
  );
  return (
    <section>
      <div className="page-head">
        <h1>Deliveries</h1>
        <div className="actions">
          <input placeholder="Filter by schedule id" value={schedule} aria-label="Filter by schedule" onChange={(e) => (cursor.reset(), setSchedule(e.target.value.trim()))} />
          <select aria-label="Filter by state" value={state} onChange={(e) => (cursor.reset(), setState(e.target.value))}>
            {STATES.map((s) => (
              <option key={s} value={s}>
                {s ? s.replace('_', ' ') : 'all states'}
              </option>
            ))}
          </select>
        </div>
      </div>
      <ErrorBox error={error} />
      {loading && <Loading />}
      {data && data.data.length === 0 && <Empty title="No deliveries yet.">Each fire of a schedule becomes a delivery, with every attempt recorded.</Empty>}
      {data && data.data.length > 0 && (
        <>
          <DeliveryRows deliveries={data.data} onOpen={(d) => navigate(`/deliveries/${d.id}`)} />
          <Pager hasMore={data.has_more} canBack={cursor.depth > 0} onBack={cursor.back} onNext={() => cursor.next(data.data[data.data.length - 1].id)} />
        </>
      )}
    </section>
  );
}

export function AttemptTimeline({ attempts }: { attempts: Attempt[] }) {
  if (attempts.length === 0) return <p className="muted">No attempt yet: it is waiting for its time.</p>;
  return (
    <ol className="timeline" data-testid="attempts">
      {attempts.map((a) => {
        const ok = a.status_code !== null && a.status_code >= 200 && a.status_code < 300;
        return (
          <li key={`${a.n}-${a.fired_at}`} className={ok ? 'ok' : 'fail'}>
            <div className="timeline-head">
              <strong>Attempt {a.n}</strong> <Badge value={a.fire_kind} tone="blue" />
              {a.mocked && <Badge value="mocked" tone="amber" />}
              <span className={`status ${ok ? 'status-ok' : 'status-fail'}`}>{a.status_code ?? 'no response'}</span>
            </div>
            <dl className="props compact">
              <dt>Scheduled for</dt>
              <dd>
                <Time value={a.scheduled_for} />
              </dd>
              <dt>Fired at</dt>
              <dd>
                <Time value={a.fired_at} />
              </dd>
              <dt>Lag</dt>
              <dd>{lagMs(a)} ms</dd>
              <dt>Duration</dt>
              <dd>{a.duration_ms} ms</dd>
            </dl>
            {a.error && <p className="error-text">{a.error}</p>}
            {a.response_body && <pre className="pre small">{a.response_body}</pre>}
          </li>
        );
      })}
    </ol>
  );
}

export function DeliveryDetail({ id }: { id: string }) {
  const { data, error, loading, reload } = useLoad(() => unwrap<Delivery>(client.GET('/v1/deliveries/{id}', { params: { path: { id } } })), [id]);
  const [replayError, setReplayError] = useState<unknown>(null);
  if (loading && !data) return <Loading />;
  if (error) return <ErrorBox error={error} />;
  const d = data as Delivery;
  return (
    <section>
      <div className="page-head">
        <div>
          <a href="#/deliveries" className="muted small">
            ← Deliveries
          </a>
          <h1 className="mono">{d.id}</h1>
          <p className="muted small">
            Schedule <a href={`#/schedules/${d.schedule}`}>{d.schedule}</a>
          </p>
        </div>
        <div className="actions">
          <Badge value={d.state} />
          <button type="button" className="btn" onClick={reload}>
            Refresh
          </button>
          {d.state === 'dead_lettered' && (
            <button
              type="button"
              className="btn btn-primary"
              onClick={async () => {
                try {
                  await unwrap(client.POST('/v1/deliveries/{id}/replay', { params: { path: { id } } }));
                  reload();
                } catch (err) {
                  setReplayError(err);
                }
              }}
            >
              Replay
            </button>
          )}
        </div>
      </div>
      <ErrorBox error={replayError} />
      <div className="card">
        <h2>Attempts</h2>
        <AttemptTimeline attempts={d.attempts} />
      </div>
    </section>
  );
}
