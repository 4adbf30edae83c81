import { useState } from 'react';
import { client, unwrap } from '../api';
import type { Delivery, ListOf } from '../model';
import { Badge, Empty, ErrorBox, Loading, Pager, Time, useCursor, useLoad } from '../ui';

export function DeadLettersPage() {
  const cursor = useCursor();
  const { data, error, loading, reload } = useLoad(
    () => unwrap<ListOf<Delivery>>(client.GET('/v1/dead-letters', { params: { query: { limit: 20, starting_after: cursor.cursor } } })),
    [cursor.cursor],
  );
  const [replayed, setReplayed] = useState<Record<string, boolean>>({});
  const [actionError, setActionError] = useState<unknown>(null);
  return (
    <section>
      <div className="page-head">
        <h1>Dead letters</h1>
        <p className="muted">Deliveries that failed for good. Replay sends one again as a new attempt (fire kind “replay”).</p>
      </div>
      <ErrorBox error={error ?? actionError} />
      {loading && <Loading />}
      {data && data.data.length === 0 && <Empty title="No dead letters. Everything that failed has been retried or replayed." />}
      {data && data.data.length > 0 && (
        <>
          <table className="table" data-testid="dead-letters-table">
            <thead>
              <tr>
                <th>Delivery</th>
                <th>Last attempt</th>
                <th>Why</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {data.data.map((d) => {
                const last = d.attempts[d.attempts.length - 1];
                return (
                  <tr key={d.id}>
                    <td>
                      <a className="mono" href={`#/deliveries/${d.id}`}>
                        {d.id}
                      </a>
                      <div className="muted small mono">{d.schedule}</div>
                    </td>
                    <td>
                      <Time value={last?.fired_at} />
                    </td>
                    <td className="truncate">{last ? (last.status_code ? `HTTP ${last.status_code}` : last.error) : '—'}</td>
                    <td>
                      {replayed[d.id] ? (
                        <Badge value="replay queued" tone="blue" />
                      ) : (
                        <button
                          type="button"
                          className="btn btn-small"
                          onClick={async () => {
                            try {
                              await unwrap(client.POST('/v1/deliveries/{id}/replay', { params: { path: { id: d.id } } }));
                              setReplayed((r) => ({ ...r, [d.id]: true }));
                              setTimeout(reload, 1500);
                            } catch (err) {
                              setActionError(err);
                            }
                          }}
                        >
                          Replay
                        </button>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          <Pager hasMore={data.has_more} canBack={cursor.depth > 0} onBack={cursor.back} onNext={() => cursor.next(data.data[data.data.length - 1].id)} />
        </>
      )}
    </section>
  );
}
