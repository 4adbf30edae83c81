import { type ReactNode, useCallback, useEffect, useState } from 'react';
import { ApiFailure } from './api';

/** Loads data with loading and error states; `reload` refetches. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): { data: T | null; error: Error | null; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ data: T | null; error: Error | null; loading: boolean }>({ data: null, error: null, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true, error: null }));
    load().then(
      (data) => live && setState({ data, error: null, loading: false }),
      (error: Error) => live && setState({ data: null, error, loading: false }),
    );
    return () => {
      live = false;
    };
    // The caller lists what `load` depends on, as with useEffect.
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

/** A user action (a button): `run(work, then)` keeps the API's error for display and calls `then` on success. */
export function useAction(): { error: unknown; setError: (error: unknown) => void; run: (work: () => Promise<unknown>, then?: () => void) => Promise<void> } {
  const [error, setError] = useState<unknown>(null);
  const run = useCallback(async (work: () => Promise<unknown>, then?: () => void) => {
    setError(null);
    try {
      await work();
      then?.();
    } catch (err) {
      setError(err);
    }
  }, []);
  return { error, setError, run };
}

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const failure = error instanceof ApiFailure ? error : null;
  return (
    <div className="error-box" role="alert">
      <strong>{failure ? failure.body.message : String((error as Error)?.message ?? error)}</strong>
      {failure && (
        <div className="muted small">
          {failure.status} · {failure.body.code}
          {failure.body.param ? ` · field “${failure.body.param}”` : ''}
          {failure.body.request_id ? ` · ${failure.body.request_id}` : ''}
        </div>
      )}
    </div>
  );
}

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="loading" aria-busy="true">
      <span className="spinner" /> {label}
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <h3>{title}</h3>
      {children}
    </div>
  );
}

const STATE_TONES: Record<string, string> = {
  active: 'green',
  succeeded: 'green',
  paused: 'amber',
  retrying: 'amber',
  scheduled: 'blue',
  delivering: 'blue',
  completed: 'gray',
  canceled: 'gray',
  dead_lettered: 'red',
  revoked: 'gray',
};

export function Badge({ value, tone }: { value: string; tone?: string }) {
  return <span className={`badge badge-${tone ?? STATE_TONES[value] ?? 'gray'}`}>{value.replace(/_/g, ' ')}</span>;
}

export function Copy({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      className="btn btn-ghost btn-small"
      onClick={() => {
        void navigator.clipboard?.writeText(text).catch(() => undefined);
        setDone(true);
        setTimeout(() => setDone(false), 1500);
      }}
    >
      {done ? 'Copied' : label}
    </button>
  );
}

export function CodeBlock({ code }: { code: string }) {
  return (
    <div className="code">
      <pre>{code}</pre>
      <Copy text={code} />
    </div>
  );
}

export function Time({ value }: { value: string | null | undefined }) {
  if (!value) return <span className="muted">—</span>;
  const d = new Date(value);
  return (
    <time dateTime={value} title={value}>
      {d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' })}
    </time>
  );
}

export function Field({ label, hint, children }: { label: string; hint?: ReactNode; children: ReactNode }) {
  return (
    <label className="field">
      <span className="field-label">{label}</span>
      {children}
      {hint && <span className="field-hint">{hint}</span>}
    </label>
  );
}

export function Pager({ hasMore, canBack, onNext, onBack }: { hasMore: boolean; canBack: boolean; onNext: () => void; onBack: () => void }) {
  return (
    <div className="pager">
      <button type="button" className="btn btn-ghost" disabled={!canBack} onClick={onBack}>
        ← Newer
      </button>
      <button type="button" className="btn btn-ghost" disabled={!hasMore} onClick={onNext}>
        Older →
      </button>
    </div>
  );
}

/** Cursor pagination the Stripe way: a stack of `starting_after` ids. */
export function useCursor(): { cursor: string | undefined; next: (lastId: string) => void; back: () => void; reset: () => void; depth: number } {
  const [stack, setStack] = useState<string[]>([]);
  return {
    cursor: stack[stack.length - 1],
    next: (lastId) => setStack((s) => [...s, lastId]),
    back: () => setStack((s) => s.slice(0, -1)),
    reset: () => setStack([]),
    depth: stack.length,
  };
}
