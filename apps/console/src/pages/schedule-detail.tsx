import { useState } from 'react';
import { client, unwrap } from '../api';
import type { Delivery, ListOf, Schedule } from '../model';
import { whenText } from '../model';
import { navigate } from '../router';
import { Badge, Empty, ErrorBox, Loading, Time, useLoad } from '../ui';
import { DeliveryRows } from './deliveries';

interface UpcomingFire {
  fire_at: string;
  fire_kind: string;
}

export function ScheduleDetail({ id }: { id: string }) {
  const schedule = useLoad(() => unwrap<Schedule>(client.GET('/v1/schedules/{id}', { params: { path: { id } } })), [id]);
  const upcoming = useLoad(
    () => unwrap<ListOf<UpcomingFire>>(client.GET('/v1/schedules/{id}/upcoming', { params: { path: { id }, query: { count: 5 } } })),
    [id, schedule.data?.state],
  );
  const deliveries = useLoad(
    () => unwrap<ListOf<Delivery>>(client.GET('/v1/deliveries', { params: { query: { schedule: id, limit: 20 } } })),
    [id],
  );
  const [actionError, setActionError] = useState<unknown>(null);

  const act = async (action: 'pause' | 'resume' | 'cancel') => {
    setActionError(null);
    try {
      if (action === 'cancel') {
        if (!window.confirm('Cancel this schedule? Pending fires are withdrawn; this cannot be undone.')) return;
        await unwrap(client.DELETE('/v1/schedules/{id}', { params: { path: { id } } }));
      } else {
        await unwrap(client.POST(`/v1/schedules/{id}/${action}` as never, { params: { path: { id } } } as never));
      }
      schedule.reload();
      deliveries.reload();
    } catch (err) {
      setActionError(err);
    }
  };

  if (schedule.loading && !schedule.data) return <Loading />;
  if (schedule.error) return <ErrorBox error={schedule.error} />;
  const s = schedule.data as Schedule;
  return (
    <section>
      <div className="page-head">
        <div>
          <a href="#/schedules" className="muted small">
            ← Schedules
          </a>
          <h1 className="mono">{s.id}</h1>
        </div>
        <div className="actions">
          <Badge value={s.state} />
          {s.state === 'active' && (
            <button type="button" className="btn" onClick={() => act('pause')}>
              Pause
            </button>
          )}
          {s.state === 'paused' && (
            <button type="button" className="btn" onClick={() => act('resume')}>
              Resume
            </button>
          )}
          {(s.state === 'active' || s.state === 'paused') && (
            <button type="button" className="btn btn-danger" onClick={() => act('cancel')}>
              Cancel
            </button>
          )}
        </div>
      </div>
      <ErrorBox error={actionError} />
      <div className="grid-2">
        <div className="card">
          <h2>Request</h2>
          <dl className="props">
            <dt>Endpoint</dt>
            <dd className="mono break">
              {s.method} {s.endpoint}
            </dd>
            <dt>When</dt>
            <dd>{whenText(s)}</dd>
            <dt>Next fire</dt>
            <dd>
              <Time value={s.next_fire_at} />
            </dd>
            <dt>Created</dt>
            <dd>
              <Time value={s.created_at} />
            </dd>
            {s.process && (
              <>
                <dt>Process</dt>
                <dd>{s.process}</dd>
              </>
            )}
          </dl>
          {Object.keys(s.headers ?? {}).length > 0 && (
            <>
              <h3>Headers</h3>
              <pre className="pre">{Object.entries(s.headers).map(([k, v]) => `${k}: ${v}`).join('\n')}</pre>
            </>
          )}
          {s.body && (
            <>
              <h3>Body</h3>
              <pre className="pre">{s.body}</pre>
            </>
          )}
        </div>
        <div className="card">
          <h2>Upcoming fires</h2>
          {upcoming.loading && <Loading />}
          <ErrorBox error={upcoming.error} />
          {upcoming.data && upcoming.data.data.length === 0 && <p className="muted">No more fires.</p>}
          <ol className="upcoming" data-testid="upcoming">
            {upcoming.data?.data.map((f) => (
              <li key={f.fire_at}>
                <Time value={f.fire_at} /> {f.fire_kind !== 'first' && <Badge value={f.fire_kind} tone="amber" />}
              </li>
            ))}
          </ol>
        </div>
      </div>
      <div className="card">
        <h2>Deliveries</h2>
        {deliveries.loading && <Loading />}
        <ErrorBox error={deliveries.error} />
        {deliveries.data && deliveries.data.data.length === 0 && <Empty title="Nothing delivered yet." />}
        {deliveries.data && deliveries.data.data.length > 0 && <DeliveryRows deliveries={deliveries.data.data} onOpen={(d) => navigate(`/deliveries/${d.id}`)} />}
      </div>
    </section>
  );
}
