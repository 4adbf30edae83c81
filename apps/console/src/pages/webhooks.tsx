import { type FormEvent, useState } from 'react';
import { client, unwrap } from '../api';
import type { components } from '../api-schema';
import type { ListOf } from '../model';
import { Badge, CodeBlock, Empty, ErrorBox, Field, Loading, Time, useAction, useLoad } from '../ui';

type WebhookEndpoint = components['schemas']['WebhookEndpointModel'] & { secret?: string };

interface SigningSecret {
  secret: string;
  previous_secret: string | null;
  previous_expires_at: string | null;
}

export function WebhooksPage() {
  return (
    <section>
      <div className="page-head">
        <h1>Webhooks</h1>
      </div>
      <SigningSecretCard />
      <EndpointsCard />
    </section>
  );
}

function SigningSecretCard() {
  const { data, error, loading, reload } = useLoad(() => unwrap<SigningSecret>(client.GET('/v1/signing-secret', {})), []);
  const [shown, setShown] = useState(false);
  const action = useAction();
  return (
    <div className="card">
      <h2>Delivery signing secret</h2>
      <p className="muted small">
        Every delivery carries <code>Sched-Signature</code> and Standard Webhooks headers signed with this secret. Rotating keeps the previous secret
        signing for 24 hours so receivers can switch over.
      </p>
      {loading && <Loading />}
      <ErrorBox error={error ?? action.error} />
      {data && (
        <>
          {shown ? <CodeBlock code={data.secret} /> : <p className="mono">whsec_••••••••••••</p>}
          {data.previous_secret && (
            <p className="muted small">
              Previous secret still signs until <Time value={data.previous_expires_at} />.
            </p>
          )}
          <div className="actions">
            <button type="button" className="btn btn-ghost" onClick={() => setShown((s) => !s)}>
              {shown ? 'Hide' : 'Reveal'}
            </button>
            <button
              type="button"
              className="btn"
              onClick={async () => {
                if (!window.confirm('Rotate the signing secret? The old one keeps signing for 24 hours.')) return;
                try {
                  await unwrap(client.POST('/v1/signing-secret/rotate', {}));
                  reload();
                } catch (err) {
                  action.setError(err);
                }
              }}
            >
              Rotate
            </button>
          </div>
        </>
      )}
    </div>
  );
}

function EndpointsCard() {
  const { data, error, loading, reload } = useLoad(() => unwrap<ListOf<WebhookEndpoint>>(client.GET('/v1/webhook-endpoints', {})), []);
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState('delivery.dead_lettered, delivery.failed');
  const [created, setCreated] = useState<WebhookEndpoint | null>(null);
  const action = useAction();
  const add = async (e: FormEvent) => {
    e.preventDefault();
    action.setError(null);
    try {
      const list = events.split(',').map((s) => s.trim()).filter(Boolean) as components['schemas']['CreateWebhookEndpointDto']['events'];
      setCreated(await unwrap<WebhookEndpoint>(client.POST('/v1/webhook-endpoints', { body: { url, events: list } })));
      setUrl('');
      reload();
    } catch (err) {
      action.setError(err);
    }
  };
  return (
    <div className="card">
      <h2>Platform event endpoints</h2>
      <p className="muted small">SchedStack calls these URLs when something happens: a delivery succeeded, failed or was dead-lettered, a schedule completed, a clone ran.</p>
      <form className="inline-form" onSubmit={add}>
        <Field label="URL">
          <input type="url" required value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://example.com/schedstack-events" />
        </Field>
        <Field label="Events" hint="Comma-separated, or * for all">
          <input value={events} onChange={(e) => setEvents(e.target.value)} />
        </Field>
        <button className="btn btn-primary" type="submit">
          Add endpoint
        </button>
      </form>
      {created?.secret && (
        <div className="highlight">
          <strong>This endpoint's secret is shown once:</strong>
          <CodeBlock code={created.secret} />
        </div>
      )}
      <ErrorBox error={error ?? action.error} />
      {loading && <Loading />}
      {data && data.data.length === 0 && <Empty title="No endpoints yet." />}
      {data && data.data.length > 0 && (
        <table className="table">
          <thead>
            <tr>
              <th>URL</th>
              <th>Events</th>
              <th>State</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {data.data.map((w) => (
              <tr key={w.id}>
                <td className="mono break">{w.url}</td>
                <td>{w.events.join(', ')}</td>
                <td>
                  <Badge value={w.enabled === false ? 'disabled' : 'enabled'} tone={w.enabled === false ? 'gray' : 'green'} />
                </td>
                <td>
                  <button
                    type="button"
                    className="btn btn-danger btn-small"
                    onClick={() => action.run(() => unwrap(client.DELETE('/v1/webhook-endpoints/{id}', { params: { path: { id: w.id } } })), reload)}
                  >
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
