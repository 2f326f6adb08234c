import { useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { qs } from '../api';
import { ApprovalForm } from '../components/ApprovalForm';
import { PageHeader } from '../components/PageHeader';
import { EmptyState, ErrorNotice, LoadMore, Notice, PriorityBadge, RelativeTime, SkeletonRows } from '../components/ui';
import { statusLabel } from '../format';
import { usePaged, useTitle } from '../hooks';
import { useSession } from '../session';
import type { Decision, Ticket } from '../types';

/** `/t/:tenant/approvals`: changes awaiting a change manager's decision, and the decisions made. */
export function Approvals() {
  const { session } = useSession();
  useTitle('Approvals', session.tenant.name);
  const [params, setParams] = useSearchParams();
  const decided = params.get('tab') === 'decided';
  return (
    <div className="page narrow-page">
      <PageHeader title="Change approvals" subtitle="Changes waiting for a decision. Approving lets the change be implemented; either way, say why." />
      <div className="tabs" role="tablist" aria-label="Which approvals">
        <button type="button" role="tab" aria-selected={!decided} className={decided ? 'tab' : 'tab active'} onClick={() => setParams({})} data-testid="approvals-tab-waiting">
          Waiting
        </button>
        <button type="button" role="tab" aria-selected={decided} className={decided ? 'tab active' : 'tab'} onClick={() => setParams({ tab: 'decided' })} data-testid="approvals-tab-decided">
          Decided
        </button>
      </div>
      {decided ? <DecidedList /> : <WaitingList />}
    </div>
  );
}

function WaitingList() {
  const { session, path } = useSession();
  const list = usePaged<Ticket>(`/tickets${qs({ type: 'change', status: 'awaiting_approval', limit: 25 })}`);
  const [done, setDone] = useState<{ ref: string; decision: string }[]>([]);

  return (
    <>
      <div aria-live="polite">
        {done.map((d) => (
          <Notice key={d.ref} tone="success">
            {d.ref} {d.decision}.
          </Notice>
        ))}
      </div>
      <ErrorNotice error={list.error} onRetry={list.reload} />
      {list.loading ? (
        <div className="card">
          <SkeletonRows rows={3} />
        </div>
      ) : list.items.length === 0 ? (
        <div className="card">
          <EmptyState title="No changes to decide" icon="check">
            When a change is submitted for approval, it appears here.
          </EmptyState>
        </div>
      ) : (
        <ul className="approval-cards" data-testid="approval-list">
          {list.items.map((t) => (
            <li key={t.id} className="card approval-card" data-testid="approval-card" data-ref={t.ref}>
              <div className="approval-card-head">
                <div>
                  <Link to={path(`/agent/tickets/${t.ref}`)} className="mono ref">
                    {t.ref}
                  </Link>
                  <h2 className="h3">{t.title}</h2>
                  <p className="muted small">
                    Raised by {t.requester.displayName} · <RelativeTime date={t.createdAt} />
                    {t.assignee ? ` · owner ${t.assignee.displayName}` : ''}
                  </p>
                </div>
                <PriorityBadge priority={t.priority} />
              </div>
              {t.description && <div className="prose clamp">{t.description}</div>}
              {t.canApprove ? (
                <ApprovalForm
                  ticket={t}
                  onDecided={(_next, decision) => {
                    list.update((items) => items.filter((i) => i.id !== t.id));
                    setDone((d) => [...d, { ref: t.ref, decision }]);
                  }}
                />
              ) : (
                <p className="muted small">{t.requester.id === session.user.id ? 'You raised this change, so another change manager must decide.' : 'You cannot decide on this change.'}</p>
              )}
            </li>
          ))}
        </ul>
      )}
      <LoadMore list={list} />
    </>
  );
}

/** The history: who decided what on which change, and why; each links to its change. */
function DecidedList() {
  const { path } = useSession();
  const list = usePaged<Decision>(`/approvals${qs({ limit: 25 })}`);
  return (
    <>
      <ErrorNotice error={list.error} onRetry={list.reload} />
      {list.loading ? (
        <div className="card">
          <SkeletonRows rows={3} />
        </div>
      ) : list.items.length === 0 ? (
        <div className="card">
          <EmptyState title="No decisions yet" icon="check">
            Approvals and rejections appear here once change managers make them.
          </EmptyState>
        </div>
      ) : (
        <ul className="approval-cards" data-testid="decision-list">
          {list.items.map((d) => (
            <li key={d.id} className="card approval-card" data-testid="decision-card" data-ref={d.change.ref}>
              <div className="approval-card-head">
                <div>
                  <Link to={path(`/agent/tickets/${d.change.ref}`)} className="mono ref" data-testid="decision-change-link">
                    {d.change.ref}
                  </Link>
                  <h2 className="h3">{d.change.title}</h2>
                  <p className="muted small">
                    {d.approver.displayName} · <RelativeTime date={d.decidedAt} /> · now {statusLabel(d.change.status).toLowerCase()}
                  </p>
                </div>
                <span className={`badge tone-${d.decision === 'approved' ? 'green' : 'red'}`} data-testid="decision">
                  <span className="badge-dot" aria-hidden="true" />
                  {d.decision === 'approved' ? 'Approved' : 'Rejected'}
                </span>
              </div>
              {d.comment && <div className="prose">{d.comment}</div>}
            </li>
          ))}
        </ul>
      )}
      <LoadMore list={list} />
    </>
  );
}
