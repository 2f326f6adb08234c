import type { ReactNode } from 'react';
import { priorityLabel, statusLabel } from '../format';
import type { Comment, TicketEvent } from '../types';
import { Avatar, Icon, RelativeTime, type IconName } from './ui';

type Item = { at: string; key: string; comment?: Comment; event?: TicketEvent };

/**
 * The conversation and the activity history of a ticket, in time order. Comment events are
 * skipped: the comment itself shows. Work notes (internal) look different on purpose.
 */
export function Timeline({
  comments,
  events,
  names = {},
  viewerId,
  empty,
}: {
  comments: Comment[];
  events: TicketEvent[];
  /** user and team ids → names, to describe assignment events. */
  names?: Record<string, string>;
  viewerId: string;
  empty?: ReactNode;
}) {
  // Where the desk sees why a ticket went back to the queue, that line says it all: the assignment
  // changes recorded with it are not repeated (the requester, who sees no note, sees them).
  const explained = events.some((e) => e.kind === 'returned_to_queue');
  const shown = (e: TicketEvent) => e.kind !== 'comment' && e.kind !== 'work_note' && !(explained && e.data.cause === 'returned_to_queue');
  const items: Item[] = [
    ...comments.map((c) => ({ at: c.createdAt, key: `c-${c.id}`, comment: c })),
    ...events.filter(shown).map((e) => ({ at: e.createdAt, key: `e-${e.id}`, event: e })),
  ].sort((a, b) => a.at.localeCompare(b.at) || a.key.localeCompare(b.key));

  if (!items.length) return <>{empty ?? null}</>;

  return (
    <ol className="timeline" data-testid="timeline">
      {items.map((item) =>
        item.comment ? (
          <CommentItem key={item.key} comment={item.comment} mine={item.comment.author.id === viewerId} />
        ) : (
          <EventItem key={item.key} event={item.event!} names={names} />
        ),
      )}
    </ol>
  );
}

function CommentItem({ comment, mine }: { comment: Comment; mine: boolean }) {
  const internal = comment.visibility === 'internal';
  return (
    <li className={internal ? 'tl-comment internal' : 'tl-comment'} data-testid="comment" data-visibility={comment.visibility}>
      <Avatar name={comment.author.displayName} size={32} />
      <div className="tl-bubble">
        <div className="tl-meta">
          <strong>{mine ? `${comment.author.displayName} (you)` : comment.author.displayName}</strong>
          {internal && (
            <span className="note-tag">
              <Icon name="lock" size={12} /> Work note · staff only
            </span>
          )}
          <span className="muted">
            <RelativeTime date={comment.createdAt} />
          </span>
        </div>
        <div className="tl-body" data-testid="comment-body">
          {comment.body}
        </div>
      </div>
    </li>
  );
}

const humanizeKind = (kind: string) => kind.replace(/_/g, ' ');

function StaffOnly() {
  return (
    <span className="note-tag">
      <Icon name="lock" size={12} /> Staff only
    </span>
  );
}

function EventItem({ event, names }: { event: TicketEvent; names: Record<string, string> }) {
  const who = event.actor?.displayName ?? 'Keydesk';
  const d = event.data;
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  // Events carry the name as it was (toName); older events fall back to what the page knows.
  const nameOf = (id: unknown, given: unknown, fallback: string) =>
    typeof id === 'string' ? (typeof given === 'string' ? given : (names[id] ?? fallback)) : null;
  let icon: IconName = 'info';
  let text: ReactNode;
  switch (event.kind) {
    case 'created':
      icon = 'plus';
      text = <>raised the ticket</>;
      break;
    case 'status_changed':
      icon = 'layers';
      text = (
        <>
          changed the status from <strong>{statusLabel(str(d.from))}</strong> to <strong>{statusLabel(str(d.to))}</strong>
        </>
      );
      break;
    case 'assigned': {
      icon = 'user';
      const to = nameOf(d.to, d.toName, 'an agent');
      if (!to) text = <>unassigned the ticket</>;
      else if (d.to === event.actor?.id) text = <>took the ticket</>;
      else text = (
        <>
          assigned the ticket to <strong>{to}</strong>
        </>
      );
      break;
    }
    case 'team_changed': {
      icon = 'users';
      const to = nameOf(d.to, d.toName, '');
      text = to ? (
        <>
          moved the ticket to the <strong>{to}</strong> team
        </>
      ) : to === '' ? (
        <>moved the ticket to another team</>
      ) : (
        <>removed the team</>
      );
      break;
    }
    case 'priority_changed':
      icon = 'flame';
      text = (
        <>
          changed the priority from <strong>{priorityLabel(Number(d.from))}</strong> to <strong>{priorityLabel(Number(d.to))}</strong>
        </>
      );
      break;
    case 'edited': {
      icon = 'note';
      const fields = Array.isArray(d.fields) ? (d.fields as string[]).join(' and ') : 'details';
      text = <>edited the {fields}</>;
      break;
    }
    case 'approval':
      icon = d.decision === 'approved' ? 'check' : 'x';
      text = (
        <>
          {d.decision === 'approved' ? 'approved' : 'rejected'} the {d.ticketType === 'request' ? 'request' : 'change'}
          {str(d.comment) ? <>: “{str(d.comment)}”</> : null}
        </>
      );
      break;
    case 'approval_requested':
      icon = 'user';
      text = (
        <>
          asked <strong>{nameOf(d.approverId, d.approverName, 'the manager')}</strong>, the requester’s manager, to approve the request
        </>
      );
      break;
    // The system's notes to the desk (staff only): why a ticket lost its assignee, why a request
    // skipped its approval. Older or unknown shapes fall back to the note the server wrote.
    case 'returned_to_queue': {
      icon = 'users';
      const team = str(d.teamName);
      const by = d.by === 'scim' ? 'SCIM' : d.by === 'admin' ? 'an administrator' : '';
      text = (
        <>
          {team ? (
            <>
              returned the ticket to the <strong>{team}</strong> queue
            </>
          ) : (
            <>returned the ticket to the unassigned queue</>
          )}
          {str(d.fromName) && str(d.reason) && by ? `: ${str(d.fromName)} was ${str(d.reason)} by ${by}` : ''} <StaffOnly />
        </>
      );
      break;
    }
    case 'approval_skipped':
      icon = 'info';
      text = (
        <>
          sent the request to the team without manager approval{str(d.reason) ? `: ${str(d.reason)}` : ''} <StaffOnly />
        </>
      );
      break;
    case 'task_done':
    case 'task_reopened':
      icon = 'check';
      text = (
        <>
          {event.kind === 'task_done' ? 'ticked off' : 'reopened'} the task “{str(d.task)}” <StaffOnly />
        </>
      );
      break;
    case 'manager_notified':
      icon = 'info';
      text = str(d.email) ? <>notified the manager, {str(d.manager)} &lt;{str(d.email)}&gt;</> : <>notified no manager: {str(d.reason)}</>;
      break;
    case 'governed_change_failed':
      icon = 'info';
      text = <>could not apply the approved change: {str(d.error)}</>;
      break;
    default:
      text = <>{humanizeKind(event.kind)}</>;
  }
  return (
    <li className="tl-event" data-testid="event" data-kind={event.kind}>
      <span className="tl-event-icon" aria-hidden="true">
        <Icon name={icon} size={13} />
      </span>
      <span className="tl-event-text">
        <strong>{who}</strong> {text}
        <span className="muted">
          {' · '}
          <RelativeTime date={event.createdAt} />
        </span>
      </span>
    </li>
  );
}
