import { Fragment, useEffect, useState } from 'react';
import { useSearchParams } from 'react-router';
import { qs } from '../api';
import { AdminNav } from '../components/AdminNav';
import { PageHeader } from '../components/PageHeader';
import { EmptyState, ErrorNotice, Icon, SkeletonRows, LoadMore } from '../components/ui';
import { formatDateTime } from '../format';
import { usePaged, useTitle } from '../hooks';
import { useSession } from '../session';
import type { AuditEntry } from '../types';

/** `/t/:tenant/admin/audit`: who did what, newest first. */
export function AdminAudit() {
  const { session } = useSession();
  useTitle('Audit log', session.tenant.name);
  const [params, setParams] = useSearchParams();
  const action = params.get('action') ?? '';
  const outcome = params.get('outcome') ?? '';
  const actor = params.get('actor') ?? '';
  const [actionInput, setActionInput] = useState(action);
  const [actorInput, setActorInput] = useState(actor);
  const [open, setOpen] = useState<number | null>(null);
  const actionValid = /^[a-z_.]*$/.test(actionInput.trim());

  useEffect(() => setActionInput(action), [action]);
  useEffect(() => setActorInput(actor), [actor]);

  const list = usePaged<AuditEntry>(`/audit${qs({ action: action || undefined, outcome: outcome || undefined, actor: actor || undefined, limit: 50 })}`);

  const apply = (changes: Record<string, string>) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v) next.set(k, v);
      else next.delete(k);
    }
    setParams(next, { replace: true });
  };

  return (
    <div className="page">
      <PageHeader title="Administration" />
      <AdminNav />
      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault();
          if (actionValid) apply({ action: actionInput.trim(), actor: actorInput.trim() });
        }}
      >
        <div className="field inline">
          <label htmlFor="audit-action">Action</label>
          <input
            id="audit-action"
            placeholder="e.g. user.created"
            value={actionInput}
            onChange={(e) => setActionInput(e.target.value.toLowerCase())}
            aria-invalid={!actionValid || undefined}
            list="audit-actions"
            data-testid="audit-action"
          />
          <datalist id="audit-actions">
            {['signin', 'signout', 'user', 'user.created', 'user.updated', 'user.roles_changed', 'user.sessions_revoked', 'user.password_changed', 'user.totp_enabled', 'team', 'api_token', 'sla.policies_changed', 'tenant.created', 'signin.saml', 'sso', 'sso.connection_created', 'sso.connection_updated', 'sso.connection_tested', 'sso.enforced', 'sso.role_rule_added', 'sso.domain_verified'].map((a) => (
              <option key={a} value={a} />
            ))}
          </datalist>
        </div>
        <div className="field inline">
          <label htmlFor="audit-actor">Actor</label>
          <input id="audit-actor" placeholder="email or name" value={actorInput} onChange={(e) => setActorInput(e.target.value)} data-testid="audit-actor" />
        </div>
        <div className="field inline">
          <label htmlFor="audit-outcome">Outcome</label>
          <select id="audit-outcome" value={outcome} onChange={(e) => apply({ outcome: e.target.value })} data-testid="audit-outcome">
            <option value="">Any</option>
            <option value="success">Success</option>
            <option value="failure">Failure</option>
          </select>
        </div>
        <button type="submit" className="btn" disabled={!actionValid}>
          <Icon name="search" size={14} /> Apply
        </button>
        {(action || actor || outcome) && (
          <button type="button" className="btn ghost small" onClick={() => apply({ action: '', actor: '', outcome: '' })}>
            Clear
          </button>
        )}
      </form>
      {!actionValid && <p className="field-hint error-text">An action is written in lower case letters, dots and underscores, like user.created.</p>}

      <ErrorNotice error={list.error} onRetry={list.reload} />
      <div className="card flush">
        {list.loading ? (
          <SkeletonRows rows={8} />
        ) : list.items.length === 0 ? (
          <EmptyState title="No entries" icon="list">
            Nothing in the audit log matches these filters.
          </EmptyState>
        ) : (
          <table className="table audit-table" data-testid="audit-table">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Actor</th>
                <th scope="col">Action</th>
                <th scope="col">Outcome</th>
                <th scope="col">Target</th>
                <th scope="col">IP</th>
                <th scope="col">
                  <span className="sr-only">Details</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.items.map((e) => (
                <Fragment key={e.id}>
                  <tr data-testid="audit-row">
                    <td className="nowrap small">{formatDateTime(e.occurredAt)}</td>
                    <td data-label="Actor" className="small">
                      {e.actorLabel}
                    </td>
                    <td data-label="Action">
                      <code className="code">{e.action}</code>
                    </td>
                    <td data-label="Outcome">
                      <span className={`badge tone-${e.outcome === 'success' ? 'green' : 'red'}`}>
                        <span className="badge-dot" aria-hidden="true" />
                        {e.outcome === 'success' ? 'Success' : 'Failure'}
                      </span>
                      {e.reason && <span className="muted small"> {e.reason.replace(/_/g, ' ')}</span>}
                    </td>
                    <td data-label="Target" className="small">
                      {e.targetType ? (
                        <>
                          <span className="muted">{e.targetType.replace(/_/g, ' ')}</span>{' '}
                          {e.targetLabel ? <span data-testid="audit-target">{e.targetLabel}</span> : <span className="muted mono">{e.targetId?.slice(0, 8)}</span>}
                        </>
                      ) : (
                        <span className="muted">—</span>
                      )}
                    </td>
                    <td data-label="IP" className="small mono">
                      {e.ip ?? '—'}
                    </td>
                    <td className="cell-actions">
                      {Object.keys(e.details).length > 0 && (
                        <button type="button" className="btn small ghost" aria-expanded={open === e.id} onClick={() => setOpen(open === e.id ? null : e.id)}>
                          {open === e.id ? 'Hide' : 'Details'}
                        </button>
                      )}
                    </td>
                  </tr>
                  {open === e.id && (
                    <tr className="details-row">
                      <td colSpan={7}>
                        <pre className="json">{JSON.stringify(e.details, null, 2)}</pre>
                      </td>
                    </tr>
                  )}
                </Fragment>
              ))}
            </tbody>
          </table>
        )}
      </div>
      <LoadMore list={list} />
    </div>
  );
}
