import { useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router';
import { qs } from '../api';
import { AdminNav } from '../components/AdminNav';
import { PageHeader } from '../components/PageHeader';
import { EmptyState, FilterSelect, Icon, PagedTable, RelativeTime } from '../components/ui';
import { formatDateTime, humanize } from '../format';
import { useApi, useFilterParams, usePaged, useSlashKey, useTitle } from '../hooks';
import { useSession } from '../session';
import type { SsoConnection, TraceSummary } from '../types';

/** "kd-1a2b3c4d5e", "1A2B3C4D5E", " KD-1A2B3C4D5E " → "KD-1A2B3C4D5E", or null. */
export function normalizeReference(input: string): string | null {
  const s = input.trim().toUpperCase().replace(/\s+/g, '');
  const ref = s.startsWith('KD-') ? s : `KD-${s}`;
  return /^KD-[0-9A-F]{10}$/.test(ref) ? ref : null;
}

export function OutcomeBadge({ outcome }: { outcome: 'success' | 'failure' }) {
  return (
    <span className={`badge tone-${outcome === 'success' ? 'green' : 'red'}`} data-outcome={outcome}>
      <span className="badge-dot" aria-hidden="true" />
      {outcome === 'success' ? 'Succeeded' : 'Failed'}
    </span>
  );
}

/** `/t/:tenant/admin/sso/traces`: every single sign-on attempt, newest first, and a lookup by reference. */
export function AdminSsoTraces() {
  const { session, path } = useSession();
  useTitle('Sign-in traces', session.tenant.name);
  const navigate = useNavigate();
  const [params, set] = useFilterParams();
  const outcome = params.get('outcome') ?? '';
  const connection = params.get('connection') ?? '';
  const [ref, setRef] = useState('');
  const [refError, setRefError] = useState<string | null>(null);
  const connections = useApi<{ items: SsoConnection[] }>('/sso/connections');
  const list = usePaged<TraceSummary>(`/sso/traces${qs({ outcome: outcome || undefined, connection: connection || undefined, limit: 50 })}`);
  useSlashKey(() => document.getElementById('trace-ref')?.focus());

  const find = (e: FormEvent) => {
    e.preventDefault();
    const r = normalizeReference(ref);
    if (!r) return setRefError('A reference looks like KD-1A2B3C4D5E: “KD-” and ten letters or digits.');
    setRefError(null);
    navigate(path(`/admin/sso/traces/${r}`));
  };

  return (
    <div className="page">
      <PageHeader title="Administration" />
      <AdminNav />
      <div className="subhead">
        <Link to={path('/admin/sso')} className="back-link">
          <Icon name="arrow-left" size={14} /> Single sign-on
        </Link>
        <h2 className="h2">Sign-in traces</h2>
        <p className="muted">Every single sign-on attempt leaves a trace of each check. People whose sign-in fails see a reference such as KD-1A2B3C4D5E: look it up here.</p>
      </div>

      <div className="filters">
        <form className="search-box ref-search" role="search" onSubmit={find} noValidate>
          <Icon name="search" size={16} />
          <label htmlFor="trace-ref" className="sr-only">
            Find a reference
          </label>
          <input
            id="trace-ref"
            type="search"
            placeholder="Find a reference: KD-…"
            autoCapitalize="characters"
            spellCheck={false}
            value={ref}
            onChange={(e) => {
              setRef(e.target.value);
              setRefError(null);
            }}
            aria-invalid={refError ? true : undefined}
            aria-describedby={refError ? 'trace-ref-error' : undefined}
            data-testid="trace-search"
          />
          <kbd className="kbd" aria-hidden="true">
            /
          </kbd>
        </form>
        <FilterSelect id="trace-outcome" label="Outcome" value={outcome} onChange={(e) => set({ outcome: e.target.value })} empty="Any outcome" options={[['success', 'Succeeded'], ['failure', 'Failed']]} data-testid="trace-filter-outcome" />
        <FilterSelect
          id="trace-connection"
          label="Connection"
          value={connection}
          onChange={(e) => set({ connection: e.target.value })}
          empty="Any connection"
          options={(connections.data?.items ?? []).map((c) => [c.slug, `${c.displayName} (${c.slug})`])}
          data-testid="trace-filter-connection"
        />
        {(outcome || connection) && (
          <button type="button" className="btn ghost small" onClick={() => set({ outcome: '', connection: '' })}>
            Clear
          </button>
        )}
      </div>
      {refError && (
        <p id="trace-ref-error" className="field-hint error-text ref-error" role="alert">
          {refError}
        </p>
      )}

      <PagedTable
        list={list}
        empty={
          <EmptyState title="No sign-in traces" icon="list">
            {outcome || connection ? 'Nothing matches these filters.' : 'Single sign-on attempts appear here, including test sign-ins.'}
          </EmptyState>
        }
        className="traces-table"
        testId="traces-table"
        headers={['Reference', 'When', 'Connection', 'Outcome', 'Person']}
      >
        {(t) => (
          <tr key={t.id} data-testid="trace-row" data-ref={t.id} data-outcome={t.outcome} className="clickable" onClick={() => navigate(path(`/admin/sso/traces/${t.id}`))}>
            <td className="cell-ref">
              <Link to={path(`/admin/sso/traces/${t.id}`)} className="mono trace-ref" onClick={(e) => e.stopPropagation()}>
                {t.id}
              </Link>
            </td>
            <td data-label="When" className="small nowrap" title={formatDateTime(t.createdAt)}>
              <RelativeTime date={t.createdAt} />
            </td>
            <td data-label="Connection" className="small">
              {t.connectionSlug ? <code className="code">{t.connectionSlug}</code> : <span className="muted">—</span>}
            </td>
            <td data-label="Outcome">
              <span className="status-line">
                <OutcomeBadge outcome={t.outcome} />
                {t.test && <span className="chip test-chip">Test</span>}
                {t.errorCode && <span className="muted small">{humanize(t.errorCode)}</span>}
              </span>
            </td>
            <td data-label="Person" className="small">
              {t.userEmail ?? <span className="muted">—</span>}
            </td>
          </tr>
        )}
      </PagedTable>
    </div>
  );
}
