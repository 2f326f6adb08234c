import type { ReactNode } from 'react';
import type { Loaded } from '../hooks';
import { useSession } from '../session';
import type { Comment, Ticket, TicketEvent } from '../types';
import { Composer } from './Composer';
import { Timeline } from './Timeline';
import { ErrorNotice, Loading } from './ui';

/**
 * A ticket's conversation card, as agents and requesters see it: the timeline of `shown` comments
 * (all of them unless the reader may see only some) and the ticket's events, then the composer. A
 * posted comment joins the list at once, and the ticket loads again (its status may have moved).
 */
export function TicketConversation({
  title,
  ticket: t,
  comments,
  events,
  shown = comments.data?.items ?? [],
  names,
  staff,
  empty,
  closedNote,
  onPosted,
}: {
  title: string;
  ticket: Ticket;
  comments: Loaded<{ items: Comment[] }>;
  events: Loaded<{ items: TicketEvent[] }>;
  shown?: Comment[];
  names: Record<string, string>;
  staff: boolean;
  empty: ReactNode;
  closedNote: string;
  onPosted: () => void;
}) {
  const { session } = useSession();
  return (
    <section className="card" aria-labelledby="conv-h">
      <div className="card-head">
        <h2 id="conv-h" className="h3">
          {title}
        </h2>
      </div>
      {comments.loading || events.loading ? (
        <Loading />
      ) : (
        <>
          <ErrorNotice error={comments.error ?? events.error} />
          <Timeline comments={shown} events={events.data?.items ?? []} names={names} viewerId={session.user.id} empty={empty} />
        </>
      )}
      <Composer
        ticketId={t.id}
        staff={staff}
        disabled={t.status === 'closed' ? closedNote : null}
        onPosted={(c) => {
          comments.setData((prev) => ({ items: [...(prev?.items ?? []), c] }));
          onPosted();
        }}
      />
    </section>
  );
}
