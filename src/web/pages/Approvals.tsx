import { useState } from 'react';
import { Link } from 'react-router';
import { qs } from '../api';
import { ApprovalForm } from '../components/ApprovalForm';
import { PageHeader } from '../components/PageHeader';
import { EmptyState, ErrorNotice, Notice, PriorityBadge, RelativeTime, SkeletonRows, Spinner } from '../components/ui';
import { usePaged, useTitle } from '../hooks';
import { useSession } from '../session';
import type { Ticket } from '../types';

/** `/t/:tenant/approvals`: changes awaiting a change manager's decision. */
export function Approvals() {
  const { session, path } = useSession();
  useTitle('Approvals', session.tenant.name);
  const list = usePaged<Ticket>(`/tickets${qs({ type: 'change', status: 'awaiting_approval', limit: 25 })}`);
  const [done, setDone] = useState<{ ref: string; decision: string }[]>([]);

  return (
    <div className="page narrow-page">
      <PageHeader title="Change approvals" subtitle="Changes waiting for a decision. Approving lets the change be implemented; either way, say why." />
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
      {list.hasMore && (
        <div className="load-more">
          <button type="button" className="btn" onClick={list.loadMore} disabled={list.loadingMore}>
            {list.loadingMore && <Spinner small />} Load more
          </button>
        </div>
      )}
    </div>
  );
}
