import { useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { qs } from '../api';
import { ApprovalForm } from '../components/ApprovalForm';
import { PageHeader } from '../components/PageHeader';
import { EmptyState, Notice, PriorityBadge, RelativeTime, PagedCards } from '../components/ui';
import { statusLabel } from '../format';
import { usePaged, useTitle } from '../hooks';
import { useSession } from '../session';
import type { Decision, Ticket } from '../types';

/**
 * `/t/:tenant/approvals`: what waits for the signed-in person's decision: requests from the people
 * they manage (categories that need the manager's approval), and for change managers, changes; then
 * the decisions made.
 */
export function Approvals() {
  const { session, has, isStaff } = useSession();
  useTitle('Approvals', session.tenant.name);
  const [params, setParams] = useSearchParams();
  const decided = params.get('tab') === 'decided';
  const changeManager = has('change_manager');
  return (
    <div className="page narrow-page">
      <PageHeader
        title="Approvals"
        subtitle={
          changeManager
            ? 'Requests from the people you manage, and changes, waiting for your decision. Either way, say why: the requester sees it.'
            : 'Requests from the people you manage, waiting for your approval. Approving sends the request to the team that fulfils it; rejecting closes it. Either way, say why: the requester sees it.'
        }
      />
      <div className="tabs" role="tablist" aria-label="Which approvals">
        <button type="button" role="tab" aria-selected={!decided} className={decided ? 'tab' : 'tab active'} onClick={() => setParams({})} data-testid="approvals-tab-waiting">
          Waiting
        </button>
        <button type="button" role="tab" aria-selected={decided} className={decided ? 'tab active' : 'tab'} onClick={() => setParams({ tab: 'decided' })} data-testid="approvals-tab-decided">
          Decided
        </button>
      </div>
      {decided ? (
        isStaff ? <DecidedList /> : <MyDecisions />
      ) : (
        <>
          <WaitingList kind="request" heading={changeManager ? 'Requests' : undefined} />
          {changeManager && <WaitingList kind="change" heading="Changes" />}
        </>
      )}
    </div>
  );
}

/** Requests wait for their requester's manager (the caller); changes for any change manager. */
function WaitingList({ kind, heading }: { kind: 'request' | 'change'; heading?: string }) {
  const { session, path, isStaff } = useSession();
  const list = usePaged<Ticket>(`/tickets${qs(kind === 'request' ? { type: 'request', approver: 'me', status: 'awaiting_approval', limit: 25 } : { type: 'change', status: 'awaiting_approval', limit: 25 })}`);
  const [done, setDone] = useState<{ ref: string; decision: string }[]>([]);
  const ticketPath = (t: Ticket) => (isStaff ? path(`/agent/tickets/${t.ref}`) : path(`/portal/tickets/${t.ref}`));

  return (
    <section className="stack" aria-label={heading ?? 'Waiting'} data-testid={`approvals-waiting-${kind}`}>
      {heading && <h2 className="h3">{heading}</h2>}
      <div aria-live="polite">
        {done.map((d) => (
          <Notice key={d.ref} tone="success">
            {d.ref} {d.decision}.
          </Notice>
        ))}
      </div>
      <PagedCards
        list={list}
        className="approval-cards"
        testId="approval-list"
        empty={
          kind === 'change' ? (
            <EmptyState title="No changes to decide" icon="check">
              When a change is submitted for approval, it appears here.
            </EmptyState>
          ) : (
            <EmptyState title="No requests to decide" icon="check">
              When someone you manage asks for something that needs their manager’s approval, it appears here.
            </EmptyState>
          )
        }
      >
        {(t) => (
          <li key={t.id} className="card approval-card" data-testid="approval-card" data-ref={t.ref}>
            <div className="approval-card-head">
              <div>
                <Link to={ticketPath(t)} className="mono ref">
                  {t.ref}
                </Link>
                <h2 className="h3">{t.title}</h2>
                <p className="muted small">
                  Raised by {t.requester.displayName} · <RelativeTime date={t.createdAt} />
                  {t.category ? ` · ${t.category}` : ''}
                  {t.team ? ` · fulfilled by ${t.team.name}` : ''}
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
              <p className="muted small">
                {t.requester.id === session.user.id ? `You raised this ${kind}, so someone else must decide.` : `You cannot decide on this ${kind}.`}
              </p>
            )}
          </li>
        )}
      </PagedCards>
    </section>
  );
}

/** For a manager who is not staff: the requests they were asked to approve, and where each stands. */
function MyDecisions() {
  const { path } = useSession();
  const list = usePaged<Ticket>(`/tickets${qs({ type: 'request', approver: 'me', limit: 25 })}`);
  const decided = list.items.filter((t) => t.status !== 'awaiting_approval');
  return (
    <>
      <PagedCards
        list={list}
        items={decided}
        className="approval-cards"
        testId="decision-list"
        empty={
          <EmptyState title="No decisions yet" icon="check">
            Requests you approve or reject appear here.
          </EmptyState>
        }
      >
        {(t) => (
          <li key={t.id} className="card approval-card" data-testid="decision-card" data-ref={t.ref}>
            <div className="approval-card-head">
              <div>
                <Link to={path(`/portal/tickets/${t.ref}`)} className="mono ref">
                  {t.ref}
                </Link>
                <h2 className="h3">{t.title}</h2>
                <p className="muted small">
                  Raised by {t.requester.displayName} · <RelativeTime date={t.createdAt} /> · now {statusLabel(t.status).toLowerCase()}
                </p>
              </div>
            </div>
          </li>
        )}
      </PagedCards>
    </>
  );
}

/** The history: who decided what on which change or request, and why; each links to its ticket. */
function DecidedList() {
  const { path } = useSession();
  const list = usePaged<Decision>(`/approvals${qs({ limit: 25 })}`);
  return (
    <>
      <PagedCards
        list={list}
        className="approval-cards"
        testId="decision-list"
        empty={
          <EmptyState title="No decisions yet" icon="check">
            Approvals and rejections appear here once change managers and managers make them.
          </EmptyState>
        }
      >
        {(d) => (
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
        )}
      </PagedCards>
    </>
  );
}
