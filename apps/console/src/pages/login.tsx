import { type FormEvent, useState } from 'react';
import { client, type Session, unwrap } from '../api';
import { useT } from '../i18n';
import { ErrorBox, Field } from '../ui';

export function LoginPage({ onLogin }: { onLogin: (session: Session) => void }) {
  const t = useT();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const res = await unwrap<{ token: string; expires_at: string; user: { email: string } }>(
        client.POST('/v1/sessions', { body: { email, password } }),
      );
      onLogin({ token: res.token, email: res.user?.email ?? email, expires_at: res.expires_at });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="login">
      <form className="card login-card" onSubmit={submit}>
        <div className="brand brand-large">
          <span className="brand-mark" aria-hidden /> SchedStack
        </div>
        <h1>{t('login.title')}</h1>
        <p className="muted small">`npm start` printed the owner's e-mail and password (also in .schedstack/credentials.json).</p>
        <Field label="E-mail">
          <input type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} autoFocus />
        </Field>
        <Field label="Password">
          <input type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
        </Field>
        <ErrorBox error={error} />
        <button className="btn btn-primary btn-block" type="submit" disabled={busy}>
          {busy ? 'Signing in…' : t('login.submit')}
        </button>
      </form>
    </div>
  );
}
