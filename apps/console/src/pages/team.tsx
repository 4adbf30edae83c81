import { type FormEvent, useState } from 'react';
import { client, type Environment, unwrap } from '../api';
import type { ListOf } from '../model';
import { CodeBlock, ErrorBox, Field, Loading, Time, useLoad } from '../ui';

interface Member {
  id?: string;
  user_id?: string;
  user?: string;
  email: string;
  role: string;
  created_at?: string;
}

const ROLES = ['owner', 'admin', 'developer', 'viewer'] as const;
type Role = (typeof ROLES)[number];

export function TeamPage({ environment }: { environment: Environment }) {
  const editable = environment === 'live';
  const { data, error, loading, reload } = useLoad(() => unwrap<ListOf<Member>>(client.GET('/v1/members', {})), []);
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('developer');
  const [invite, setInvite] = useState<string | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const userOf = (m: Member) => m.user_id ?? m.user ?? m.id ?? m.email;

  const add = async (e: FormEvent) => {
    e.preventDefault();
    setActionError(null);
    try {
      const res = await unwrap<Record<string, unknown>>(client.POST('/v1/members', { body: { email, role } }));
      const secret = (res.one_time_password ?? res.password ?? res.invitation_token) as string | undefined;
      setInvite(secret ? `${email} / ${secret}` : null);
      setEmail('');
      reload();
    } catch (err) {
      setActionError(err);
    }
  };

  return (
    <section>
      <div className="page-head">
        <h1>Team</h1>
      </div>
      {!editable && (
        <div className="note" role="note">
          Users and roles are global to the project and managed in <strong>live</strong>. In {environment} they are inherited and read-only.
        </div>
      )}
      {editable && (
        <form className="card inline-form" onSubmit={add}>
          <Field label="E-mail">
            <input type="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
          </Field>
          <Field label="Role">
            <select value={role} onChange={(e) => setRole(e.target.value as Role)}>
              {ROLES.map((r) => (
                <option key={r}>{r}</option>
              ))}
            </select>
          </Field>
          <button className="btn btn-primary" type="submit">
            Add member
          </button>
        </form>
      )}
      {invite && (
        <div className="card highlight">
          <strong>Send these sign-in details to the new member (shown once):</strong>
          <CodeBlock code={invite} />
        </div>
      )}
      <ErrorBox error={error ?? actionError} />
      {loading && <Loading />}
      {data && (
        <table className="table" data-testid="members-table">
          <thead>
            <tr>
              <th>E-mail</th>
              <th>Role</th>
              <th className="hide-narrow">Since</th>
              {editable && <th />}
            </tr>
          </thead>
          <tbody>
            {data.data.map((m) => (
              <tr key={userOf(m)}>
                <td>{m.email}</td>
                <td>
                  {editable ? (
                    <select
                      aria-label={`Role of ${m.email}`}
                      value={m.role}
                      onChange={async (e) => {
                        try {
                          await unwrap(client.PATCH('/v1/members/{user}', { params: { path: { user: userOf(m) } }, body: { role: e.target.value as Role } }));
                          reload();
                        } catch (err) {
                          setActionError(err);
                        }
                      }}
                    >
                      {ROLES.map((r) => (
                        <option key={r}>{r}</option>
                      ))}
                    </select>
                  ) : (
                    m.role
                  )}
                </td>
                <td className="hide-narrow">
                  <Time value={m.created_at} />
                </td>
                {editable && (
                  <td>
                    <button
                      type="button"
                      className="btn btn-danger btn-small"
                      onClick={async () => {
                        if (!window.confirm(`Remove ${m.email} from the project?`)) return;
                        try {
                          await unwrap(client.DELETE('/v1/members/{user}', { params: { path: { user: userOf(m) } } }));
                          reload();
                        } catch (err) {
                          setActionError(err);
                        }
                      }}
                    >
                      Remove
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
