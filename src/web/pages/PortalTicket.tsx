import { useState } from 'react';
import { Link, useLocation, useParams } from 'react-router';
import { api, ApiError } from '../api';
import { ApprovalForm } from '../components/ApprovalForm';
import { PageHeader } from '../components/PageHeader';
import { TicketConversation } from '../components/TicketConversation';
import { EmptyState, ErrorNotice, FormError, Loading, Notice, RelativeTime, Spinner, TicketMeta } from '../components/ui';
import { formatDateTime, isOpenStatus, statusLabel } from '../format';
import { useApi, useTitle } from '../hooks';
import { useSession } from '../session';
import type { Comment, Ticket, TicketEvent } from '../types';

const REOPEN: Record<string, { from: string; to: string }> = {
  incident: { from: 'resolved', to: 'in_progress' },
  request: { from: 'fulfilled', to: 'in_fulfilment' },
};

/** `/t/:tenant/portal/tickets/:ref`: a requester's view: details, the public conversation, reopen. */
export function PortalTicket() {
  const { ref = '' } = useParams();
  const { session, path } = useSession();
  const location = useLocation();
  const justCreated = (location.state as { created?: boolean } | null)?.created === true;
  const enc = encodeURIComponent(ref);
  const ticket = useApi<Ticket>(`/tickets/${enc}`);
  const comments = useApi<{ items: Comment[] }>(`/tickets/${enc}/comments`);
  const events = useApi<{ items: TicketEvent[] }>(`/tickets/${enc}/events`);
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<unknown>(null);
  const [decided, setDecided] = useState<string | null>(null);
  useTitle(ticket.data ? `${ticket.data.ref} ${ticket.data.title}` : ref, session.tenant.name);

  if (ticket.error instanceof ApiError && ticket.error.status === 404) {
    return (
      <div className="page narrow-page">
        <EmptyState title="Ticket not found" icon="alert" action={<Link className="btn" to={path('/portal')}>Back to my tickets</Link>}>
          There is no ticket {ref} that you can see.
        </EmptyState>
      </div>
    );
  }
  if (!ticket.data) {
    return <div className="page">{ticket.error ? <ErrorNotice error={ticket.error} onRetry={ticket.reload} /> : <Loading label="Loading ticket…" />}</div>;
  }
  const t = ticket.data;
  const reopen = REOPEN[t.type];
  const canReopen = reopen && t.status === reopen.from && t.allowedTransitions.includes(reopen.to);
  const names: Record<string, string> = { [t.requester.id]: t.requester.displayName };
  if (t.assignee) names[t.assignee.id] = t.assignee.displayName;
  if (t.team) names[t.team.id] = t.team.name;
  const publicComments = (comments.data?.items ?? []).filter((c) => c.visibility === 'public');

  const doReopen = async () => {
    if (!reopen) return;
    setBusy(true);
    setActionError(null);
    try {
      ticket.setData(await api.post<Ticket>(`/tickets/${t.id}/status`, { status: reopen.to }));
      events.reload();
    } catch (err) {
      setActionError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="page">
      <PageHeader
        back={{ to: path('/portal'), label: 'My tickets' }}
        title={<span data-testid="ticket-title-text">{t.title}</span>}
        subtitle={<TicketMeta ticket={t} />}
      />
      {justCreated && (
        <Notice tone="success" testId="created-notice">
          Thanks, your ticket {t.ref} has been raised. We will reply here, so check back for updates.
        </Notice>
      )}
      {(t.status === 'resolved' || t.status === 'fulfilled') && (
        <div className="resolved-banner" data-testid="resolved-banner">
          <div>
            <strong>{t.status === 'resolved' ? 'We think this is fixed.' : 'Your request has been fulfilled.'}</strong>
            <span className="muted"> {canReopen ? 'If it is not, reopen the ticket and tell us what is still wrong.' : ''}</span>
          </div>
          {canReopen && (
            <button type="button" className="btn" onClick={() => void doReopen()} disabled={busy} data-testid="reopen-button">
              {busy && <Spinner small />} Reopen ticket
            </button>
          )}
        </div>
      )}
      {t.status === 'awaiting_approval' && t.approver && t.requester.id === session.user.id && (
        <Notice testId="awaiting-manager">
          Waiting for your manager, <strong>{t.approver.displayName}</strong>, to approve this request. Once they do, the team gets to work on it.
        </Notice>
      )}
      {t.canApprove && (
        <section className="card stack" aria-labelledby="decide-h" data-testid="manager-decision">
          <h2 id="decide-h" className="h3">
            {t.requester.displayName} asks for your approval
          </h2>
          <p className="muted">As their manager, approve or reject this request. Approving sends it to {t.team ? `the ${t.team.name} team` : 'the service desk'}; rejecting closes it. Either way, say why: they see it.</p>
          <ApprovalForm
            ticket={t}
            onDecided={(next, d) => {
              ticket.setData(next);
              setDecided(d);
              events.reload();
            }}
          />
        </section>
      )}
      {decided && <Notice tone="success">You {decided} the request.</Notice>}
      <FormError error={actionError} />

      <div className="ticket-layout">
        <div className="ticket-main">
          <section className="card" aria-labelledby="desc-h">
            <div className="card-head">
              <h2 id="desc-h" className="h3">
                Description
              </h2>
            </div>
            <div className="prose" data-testid="ticket-description-text">
              {t.description ? t.description : <span className="muted">No description given.</span>}
            </div>
          </section>

          <TicketConversation
            title="Conversation"
            ticket={t}
            comments={comments}
            events={events}
            shown={publicComments}
            names={names}
            staff={false}
            empty={<p className="muted">No messages yet.</p>}
            closedNote="This ticket is closed. Raise a new ticket if you need more help."
            onPosted={ticket.reload}
          />
        </div>

        <aside className="ticket-side">
          <section className="card" aria-labelledby="det-h">
            <h2 id="det-h" className="h3">
              Details
            </h2>
            <dl className="details">
              <dt>Status</dt>
              <dd>{statusLabel(t.status)}</dd>
              <dt>Handled by</dt>
              <dd>{t.assignee ? t.assignee.displayName : t.status === 'awaiting_approval' ? 'Waiting for approval' : isOpenStatus(t.status) ? 'Waiting for an agent' : '—'}</dd>
              {t.approver && (
                <>
                  <dt>Approver</dt>
                  <dd>{t.approver.displayName}</dd>
                </>
              )}
              {t.category && (
                <>
                  <dt>Category</dt>
                  <dd>{t.category}</dd>
                </>
              )}
              {t.team && (
                <>
                  <dt>Team</dt>
                  <dd>{t.team.name}</dd>
                </>
              )}
              <dt>Raised</dt>
              <dd title={formatDateTime(t.createdAt)}>
                <RelativeTime date={t.createdAt} />
              </dd>
              <dt>Last update</dt>
              <dd>
                <RelativeTime date={t.updatedAt} />
              </dd>
              {t.resolvedAt && (
                <>
                  <dt>{t.type === 'request' ? 'Fulfilled' : 'Resolved'}</dt>
                  <dd>
                    <RelativeTime date={t.resolvedAt} />
                  </dd>
                </>
              )}
              {t.requester.id !== session.user.id && (
                <>
                  <dt>Requester</dt>
                  <dd>{t.requester.displayName}</dd>
                </>
              )}
            </dl>
          </section>
        </aside>
      </div>
    </div>
  );
}
