import { type FormEvent, useState } from 'react';
import { client, type Environment, unwrap } from '../api';
import type { ApiKey, ListOf } from '../model';
import { CodeBlock, Empty, ErrorBox, Field, Loading, Time, useLoad } from '../ui';

export function KeysPage({ environment }: { environment: Environment }) {
  const { data, error, loading, reload } = useLoad(() => unwrap<ListOf<ApiKey>>(client.GET('/v1/api-keys', {})), []);
  const [name, setName] = useState('');
  const [minted, setMinted] = useState<ApiKey | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);

  const mint = async (e: FormEvent) => {
    e.preventDefault();
    setActionError(null);
    try {
      setMinted(await unwrap<ApiKey>(client.POST('/v1/api-keys', { body: { name: name || undefined } })));
      setName('');
      reload();
    } catch (err) {
      setActionError(err);
    }
  };

  return (
    <section>
      <div className="page-head">
        <h1>API keys</h1>
        <p className="muted">Keys of the {environment} environment. A key's prefix decides its environment; it never works in another.</p>
      </div>
      <form className="card inline-form" onSubmit={mint}>
        <Field label="Name (optional)">
          <input value={name} onChange={(e) => setName(e.target.value)} placeholder="e.g. billing-service" />
        </Field>
        <button className="btn btn-primary" type="submit">
          Mint a {environment} key
        </button>
      </form>
      {minted?.secret && (
        <div className="card highlight" data-testid="minted-key">
          <strong>Copy this secret now — it will not be shown again.</strong>
          <CodeBlock code={minted.secret} />
        </div>
      )}
      <ErrorBox error={error ?? actionError} />
      {loading && <Loading />}
      {data && data.data.length === 0 && <Empty title={`No ${environment} keys yet.`} />}
      {data && data.data.length > 0 && (
        <table className="table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Key</th>
              <th>Created</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {data.data.map((k) => (
              <tr key={k.id}>
                <td>{k.name ?? <span className="muted">unnamed</span>}</td>
                <td className="mono">
                  sk_{environment}_…{k.last4}
                </td>
                <td>
                  <Time value={k.created_at} />
                </td>
                <td>
                  <button
                    type="button"
                    className="btn btn-danger btn-small"
                    onClick={async () => {
                      if (!window.confirm(`Revoke ${k.name ?? k.id}? Requests with it will get 401 at once.`)) return;
                      try {
                        await unwrap(client.DELETE('/v1/api-keys/{id}', { params: { path: { id: k.id } } }));
                        reload();
                      } catch (err) {
                        setActionError(err);
                      }
                    }}
                  >
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
