import { type FormEvent, useState } from 'react';
import { client, unwrap } from '../api';
import type { ListOf } from '../model';
import { navigate } from '../router';
import { Empty, ErrorBox, Field, Loading, Time, useAction, useLoad } from '../ui';

/** SPEC §5 configuration resources, each with an example body to start from. */
const RESOURCES = {
  processes: {
    title: 'Processes',
    help: 'Named delivery policies: retries, backoff, timeout, rate limit, circuit breaker, extra headers. A schedule names one with "process".',
    example: { name: 'billing', max_attempts: 5, backoff: { initial: '2s', max: '10m' }, timeout: '10s', rate_limit: { requests: 10, per: '1s' }, breaker: { failure_threshold: 5, cool_down: '30s' }, headers: { 'x-team': 'billing' }, vendor: false },
  },
  themes: { title: 'Themes', help: 'Console branding: product name, colours, logo.', example: { name: 'default', product_name: 'Acme Scheduler', colors: { primary: '#0f766e' }, logo_url: null } },
  fields: { title: 'Fields', help: 'Metadata fields that validate a schedule\u2019s "metadata".', example: { name: 'customer_id', type: 'string', required: true } },
  translations: { title: 'Translations', help: 'Locale → key → text for the console and notifications.', example: { locale: 'de', messages: { 'nav.schedules': 'Zeitpläne' } } },
  'dataset-schemas': { title: 'Dataset schemas', help: 'Fields of a dataset; rows are client data and never cloned.', example: { name: 'customers', fields: [{ name: 'email', type: 'string', required: true }] } },
} as const;

type Resource = keyof typeof RESOURCES;

interface ConfigObject {
  id: string;
  name?: string;
  locale?: string;
  version?: number;
  created_at: string;
  updated_at?: string;
  [key: string]: unknown;
}

const READ_ONLY = new Set(['id', 'object', 'mode', 'version', 'created_at', 'updated_at']);

/** The fields a user may send back in a PATCH: everything but the server-owned ones. */
const editableFields = (o: ConfigObject) => Object.fromEntries(Object.entries(o).filter(([k]) => !READ_ONLY.has(k)));

export function ConfigPage({ resource }: { resource?: string }) {
  const current: Resource = resource && resource in RESOURCES ? (resource as Resource) : 'processes';
  return (
    <section>
      <div className="page-head">
        <h1>Configuration</h1>
        <p className="muted">Configuration is per environment and versioned. Clone copies live’s configuration to sandbox or test.</p>
      </div>
      <div className="tabs" role="tablist">
        {(Object.keys(RESOURCES) as Resource[]).map((r) => (
          <button type="button" role="tab" aria-selected={r === current} key={r} className={r === current ? 'tab active' : 'tab'} onClick={() => navigate(`/config/${r}`)}>
            {RESOURCES[r].title}
          </button>
        ))}
      </div>
      <ResourceEditor key={current} resource={current} />
    </section>
  );
}

function ResourceEditor({ resource }: { resource: Resource }) {
  const spec = RESOURCES[resource];
  const path = `/v1/${resource}`;
  const { data, error, loading, reload } = useLoad(() => unwrap<ListOf<ConfigObject>>(client.GET(path as never, {} as never)), [resource]);
  const [json, setJson] = useState(JSON.stringify(spec.example, null, 2));
  const [editing, setEditing] = useState<string | null>(null);
  const action = useAction();

  const save = async (e: FormEvent) => {
    e.preventDefault();
    action.setError(null);
    let body: unknown;
    try {
      body = JSON.parse(json);
    } catch (err) {
      action.setError(new Error(`Not valid JSON: ${(err as Error).message}`));
      return;
    }
    try {
      if (editing) await unwrap(client.PATCH(`${path}/{id}` as never, { params: { path: { id: editing } }, body } as never));
      else await unwrap(client.POST(path as never, { body } as never));
      setEditing(null);
      setJson(JSON.stringify(spec.example, null, 2));
      reload();
    } catch (err) {
      action.setError(err);
    }
  };

  return (
    <div className="grid-2">
      <div className="card">
        <h2>{spec.title}</h2>
        <p className="muted small">{spec.help}</p>
        <ErrorBox error={error} />
        {loading && <Loading />}
        {data && data.data.length === 0 && <Empty title={`No ${spec.title.toLowerCase()} yet.`} />}
        {data && data.data.length > 0 && (
          <table className="table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Version</th>
                <th>Updated</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {data.data.map((o) => (
                <tr key={o.id}>
                  <td>{o.name ?? o.locale ?? o.id}</td>
                  <td>v{o.version ?? 1}</td>
                  <td>
                    <Time value={o.updated_at ?? o.created_at} />
                  </td>
                  <td className="actions">
                    <button
                      type="button"
                      className="btn btn-small"
                      onClick={() => {
                        setEditing(o.id);
                        setJson(JSON.stringify(editableFields(o), null, 2));
                      }}
                    >
                      Edit
                    </button>
                    <button
                      type="button"
                      className="btn btn-danger btn-small"
                      onClick={() => action.run(() => unwrap(client.DELETE(`${path}/{id}` as never, { params: { path: { id: o.id } } } as never)), reload)}
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
      <form className="card" onSubmit={save}>
        <h2>{editing ? `Edit ${editing}` : `New ${spec.title.toLowerCase().replace(/s$/, '')}`}</h2>
        <Field label="JSON" hint="The API validates it and names the field when something is wrong.">
          <textarea className="mono" rows={14} value={json} onChange={(e) => setJson(e.target.value)} aria-label={`${spec.title} JSON`} />
        </Field>
        <ErrorBox error={action.error} />
        <div className="actions">
          {editing && (
            <button type="button" className="btn btn-ghost" onClick={() => (setEditing(null), setJson(JSON.stringify(spec.example, null, 2)))}>
              Cancel
            </button>
          )}
          <button className="btn btn-primary" type="submit">
            {editing ? 'Save' : 'Create'}
          </button>
        </div>
      </form>
    </div>
  );
}
