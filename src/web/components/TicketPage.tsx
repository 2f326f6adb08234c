import { useState, type ReactNode } from 'react';
import { Link, useLocation, useParams } from 'react-router';
import { ApiError } from '../api';
import { useApi, useTitle, type Loaded } from '../hooks';
import { useSession } from '../session';
import type { Comment, Ticket, TicketEvent } from '../types';
import { EmptyState, ErrorNotice, Loading } from './ui';

/**
 * What the agent's and the requester's ticket pages both load for the `:ref` in the address: the
 * ticket, its comments and its events; `justCreated` when the page that created it sent us here.
 * `onDecided` takes an approval decision made on the page, which `decided` then names for its notice.
 */
export function useTicketPage() {
  const { ref = '' } = useParams();
  const { session } = useSession();
  const location = useLocation();
  const justCreated = (location.state as { created?: boolean } | null)?.created === true;
  const enc = encodeURIComponent(ref);
  const ticket = useApi<Ticket>(`/tickets/${enc}`);
  const comments = useApi<{ items: Comment[] }>(`/tickets/${enc}/comments`);
  const events = useApi<{ items: TicketEvent[] }>(`/tickets/${enc}/events`);
  const [decided, setDecided] = useState<'approved' | 'rejected' | null>(null);
  useTitle(ticket.data ? `${ticket.data.ref} ${ticket.data.title}` : ref, session.tenant.name);
  const onDecided = (next: Ticket, decision: 'approved' | 'rejected') => {
    ticket.setData(next);
    setDecided(decision);
    events.reload();
  };
  return { ref, enc, ticket, comments, events, justCreated, decided, onDecided };
}

/** A 404 for the ticket: the page says it is not there, even over a ticket it showed before (a reload that found it gone). */
export function ticketNotFound(ticket: Loaded<Ticket>): boolean {
  return ticket.error instanceof ApiError && ticket.error.status === 404;
}

/** A ticket page while it has no ticket to show: not found (`children` say where, `back` leads away), its load error, or loading. */
export function TicketNotLoaded({ ticket, back, children }: { ticket: Loaded<Ticket>; back: { to: string; label: string }; children: ReactNode }) {
  if (ticketNotFound(ticket)) {
    return (
      <div className="page narrow-page">
        <EmptyState
          title="Ticket not found"
          icon="alert"
          action={
            <Link className="btn" to={back.to}>
              {back.label}
            </Link>
          }
        >
          {children}
        </EmptyState>
      </div>
    );
  }
  return <div className="page">{ticket.error ? <ErrorNotice error={ticket.error} onRetry={ticket.reload} /> : <Loading label="Loading ticket…" />}</div>;
}

/** The ticket's description card; `byline` goes beside its heading. */
export function TicketDescription({ ticket: t, byline, testId }: { ticket: Ticket; byline?: ReactNode; testId?: string }) {
  return (
    <section className="card" aria-labelledby="desc-h">
      <div className="card-head">
        <h2 id="desc-h" className="h3">
          Description
        </h2>
        {byline}
      </div>
      <div className="prose" data-testid={testId}>
        {t.description ? t.description : <span className="muted">No description given.</span>}
      </div>
    </section>
  );
}

/** A card in a ticket page's side column, headed by `title` (`id` names the heading). */
export function SideCard({ id, title, children }: { id: string; title: ReactNode; children: ReactNode }) {
  return (
    <section className="card" aria-labelledby={id}>
      <h2 id={id} className="h3">
        {title}
      </h2>
      {children}
    </section>
  );
}
