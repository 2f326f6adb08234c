import { api } from '../api';
import { ApprovalForm } from '../components/ApprovalForm';
import { PageHeader } from '../components/PageHeader';
import { TicketConversation } from '../components/TicketConversation';
import { SideCard, TicketDescription, TicketNotLoaded, ticketNotFound, useTicketPage } from '../components/TicketPage';
import { FormError, Notice, RelativeTime, Spinner, TicketMeta } from '../components/ui';
import { formatDateTime, isOpenStatus, statusLabel } from '../format';
import { useTask } from '../hooks';
import { useSession } from '../session';
import type { Ticket } from '../types';

const REOPEN: Record<string, { from: string; to: string }> = {
  incident: { from: 'resolved', to: 'in_progress' },
  request: { from: 'fulfilled', to: 'in_fulfilment' },
};

/** `/t/:tenant/portal/tickets/:ref`: a requester's view: details, the public conversation, reopen. */
export function PortalTicket() {
  const { session, path } = useSession();
  const { ref, ticket, comments, events, justCreated, decided, onDecided } = useTicketPage();
  const reopening = useTask();

  if (!ticket.data || ticketNotFound(ticket)) {
    return (
      <TicketNotLoaded ticket={ticket} back={{ to: path('/portal'), label: 'Back to my tickets' }}>
        There is no ticket {ref} that you can see.
      </TicketNotLoaded>
    );
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
    await reopening.run(async () => {
      ticket.setData(await api.post<Ticket>(`/tickets/${t.id}/status`, { status: reopen.to }));
      events.reload();
    });
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
            <button type="button" className="btn" onClick={() => void doReopen()} disabled={reopening.busy} data-testid="reopen-button">
              {reopening.busy && <Spinner small />} Reopen ticket
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
          <ApprovalForm ticket={t} onDecided={onDecided} />
        </section>
      )}
      {decided && <Notice tone="success">You {decided} the request.</Notice>}
      <FormError error={reopening.error} />

      <div className="ticket-layout">
        <div className="ticket-main">
          <TicketDescription ticket={t} testId="ticket-description-text" />

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
          <SideCard id="det-h" title="Details">
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
          </SideCard>
        </aside>
      </div>
    </div>
  );
}
