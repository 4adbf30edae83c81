import { useState } from 'react';
import { client, type Environment, unwrap } from '../api';
import type { ApiKey, ListOf, Schedule } from '../model';
import { navigate } from '../router';
import { Badge, CodeBlock, Empty, ErrorBox, Loading, Pager, Time, useCursor, useLoad } from '../ui';
import { whenText } from '../model';

const STATES = ['', 'active', 'paused', 'completed', 'canceled'] as const;

export function SchedulesPage({ environment }: { environment: Environment }) {
  const [state, setState] = useState<string>('');
  const cursor = useCursor();
  const { data, error, loading } = useLoad(
    () =>
      unwrap<ListOf<Schedule>>(
        client.GET('/v1/schedules', { params: { query: { limit: 20, state: (state || undefined) as Schedule['state'] | undefined, starting_after: cursor.cursor } } }),
      ),
    [state, cursor.cursor],
  );

  return (
    <section>
      <div className="page-head">
        <h1>Schedules</h1>
        <div className="actions">
          <label className="inline">
            <span className="muted small">State</span>
            <select
              aria-label="Filter by state"
              value={state}
              onChange={(e) => {
                cursor.reset();
                setState(e.target.value);
              }}
            >
              {STATES.map((s) => (
                <option key={s} value={s}>
                  {s || 'all'}
                </option>
              ))}
            </select>
          </label>
          <a className="btn btn-primary" href="#/schedules/new">
            New schedule
          </a>
        </div>
      </div>
      <ErrorBox error={error} />
      {loading && <Loading />}
      {data && data.data.length === 0 && !state && cursor.depth === 0 && <FirstScheduleHelp environment={environment} />}
      {data && data.data.length === 0 && (state || cursor.depth > 0) && <Empty title="No schedules match." />}
      {data && data.data.length > 0 && (
        <>
          <table className="table" data-testid="schedules-table">
            <thead>
              <tr>
                <th>Schedule</th>
                <th>When</th>
                <th>State</th>
                <th>Next fire</th>
                <th className="hide-narrow">Created</th>
              </tr>
            </thead>
            <tbody>
              {data.data.map((s) => (
                <tr key={s.id} className="clickable" onClick={() => navigate(`/schedules/${s.id}`)}>
                  <td>
                    <a href={`#/schedules/${s.id}`} className="mono">
                      {s.id}
                    </a>
                    <div className="muted small truncate">
                      {s.method} {s.endpoint}
                    </div>
                  </td>
                  <td>{whenText(s)}</td>
                  <td>
                    <Badge value={s.state} />
                  </td>
                  <td>
                    <Time value={s.next_fire_at} />
                  </td>
                  <td className="hide-narrow">
                    <Time value={s.created_at} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pager hasMore={data.has_more} canBack={cursor.depth > 0} onBack={cursor.back} onNext={() => cursor.next(data.data[data.data.length - 1].id)} />
        </>
      )}
    </section>
  );
}

/** The empty state teaches: a curl that works, with a key of this environment minted on request. */
function FirstScheduleHelp({ environment }: { environment: Environment }) {
  const [key, setKey] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const origin = window.location.origin;
  const curl = `curl ${origin}/v1/schedules \\
  -H "Authorization: Bearer ${key ?? `sk_${environment}_…`}" \\
  -H "Content-Type: application/json" \\
  -d '{"endpoint":"https://example.com/hooks/orders","delay":"30s","body":"{\\"order_id\\":\\"ord_123\\"}"}'`;
  return (
    <Empty title={`No schedules in ${environment} yet`}>
      <p>Create one here with “New schedule”, or from your terminal:</p>
      <CodeBlock code={curl} />
      {!key && (
        <button
          type="button"
          className="btn"
          onClick={async () => {
            try {
              const minted = await unwrap<ApiKey>(client.POST('/v1/api-keys', { body: { name: 'Console quick start' } }));
              setKey(minted.secret ?? null);
            } catch (err) {
              setError(err);
            }
          }}
        >
          Mint a {environment} key for this command
        </button>
      )}
      {key && <p className="muted small">This key is shown once. Keep it somewhere safe, or revoke it under API keys.</p>}
      <ErrorBox error={error} />
    </Empty>
  );
}
