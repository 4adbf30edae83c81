import { useState } from 'react';
import { client, type Environment, unwrap } from '../api';
import { Empty, ErrorBox } from '../ui';

type Target = 'sandbox' | 'test';

interface ResourceDiff {
  added: { id?: string; name?: string; after?: unknown }[];
  changed: { id?: string; name?: string; before?: unknown; after?: unknown }[];
  removed: { id?: string; name?: string; before?: unknown }[];
}

interface CloneResult {
  dry_run: boolean;
  diff?: Record<string, ResourceDiff>;
  changes?: Record<string, ResourceDiff>;
  source_position?: string;
  [key: string]: unknown;
}

const label = (item: { id?: string; name?: string; after?: unknown; before?: unknown }) =>
  item.name ?? (item.after as { name?: string } | undefined)?.name ?? (item.before as { name?: string } | undefined)?.name ?? item.id ?? '?';

/** SPEC §5: Live → Sandbox/Test, with the dry-run diff shown before anything changes. */
export function ClonePage({ environment }: { environment: Environment }) {
  const [target, setTarget] = useState<Target>(environment === 'test' ? 'test' : 'sandbox');
  const [preview, setPreview] = useState<CloneResult | null>(null);
  const [applied, setApplied] = useState<CloneResult | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const run = async (dryRun: boolean) => {
    setBusy(true);
    setError(null);
    try {
      const result = await unwrap<CloneResult>(
        client.POST('/v1/environments/{environment}/clone', { params: { path: { environment: target } }, body: { dry_run: dryRun } }),
      );
      if (dryRun) {
        setPreview(result);
        setApplied(null);
      } else {
        setApplied(result);
        setPreview(null);
      }
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const diff = preview?.diff ?? preview?.changes ?? {};
  const total = Object.values(diff).reduce((n, d) => n + d.added.length + d.changed.length + d.removed.length, 0);

  return (
    <section>
      <div className="page-head">
        <h1>Clone configuration from live</h1>
        <p className="muted">
          Copies live’s processes, themes, fields, translations and dataset schemas into the target. Client data — keys, schedules, deliveries, webhook endpoints,
          dataset rows — never moves. Configuration that exists only in the target is removed.
        </p>
      </div>
      <div className="card">
        <div className="actions">
          <label className="inline">
            <span>Target</span>
            <select value={target} onChange={(e) => (setTarget(e.target.value as Target), setPreview(null), setApplied(null))} aria-label="Clone target">
              <option value="sandbox">sandbox</option>
              <option value="test">test</option>
            </select>
          </label>
          <button type="button" className="btn" disabled={busy} onClick={() => run(true)}>
            Preview changes (dry run)
          </button>
        </div>
        <ErrorBox error={error} />
        {preview && (
          <div className="diff" data-testid="clone-diff">
            <h2>
              {total === 0 ? `${target} already matches live.` : `${total} change${total === 1 ? '' : 's'} to ${target}`}
            </h2>
            {Object.entries(diff).map(([resource, d]) =>
              d.added.length + d.changed.length + d.removed.length === 0 ? null : (
                <div key={resource} className="diff-group">
                  <h3>{resource}</h3>
                  <ul>
                    {d.added.map((i) => (
                      <li key={`a-${label(i)}`} className="diff-added">
                        + {label(i)}
                      </li>
                    ))}
                    {d.changed.map((i) => (
                      <li key={`c-${label(i)}`} className="diff-changed">
                        ~ {label(i)}
                      </li>
                    ))}
                    {d.removed.map((i) => (
                      <li key={`r-${label(i)}`} className="diff-removed">
                        − {label(i)}
                      </li>
                    ))}
                  </ul>
                </div>
              ),
            )}
            {total > 0 && (
              <button type="button" className="btn btn-primary" disabled={busy} onClick={() => run(false)}>
                Apply these changes to {target}
              </button>
            )}
          </div>
        )}
        {applied && (
          <Empty title={`Cloned live → ${target}.`}>
            <p className="muted small">The configuration of {target} now equals live’s at the recorded source position.</p>
          </Empty>
        )}
      </div>
    </section>
  );
}
