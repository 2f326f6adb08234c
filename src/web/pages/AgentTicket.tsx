import { useMemo, useState, type FormEvent } from 'react';
import { api, qs } from '../api';
import { ApprovalForm } from '../components/ApprovalForm';
import { TicketChecklist } from '../components/Checklist';
import { PageHeader } from '../components/PageHeader';
import { SlaClocks } from '../components/Sla';
import { TicketConversation } from '../components/TicketConversation';
import { SideCard, TicketDescription, TicketNotLoaded, ticketNotFound, useTicketPage } from '../components/TicketPage';
import { Avatar, Dialog, Field, FormError, Icon, Loading, Notice, RelativeTime, Spinner, StatusBadge, FormActions, Options, TicketMeta } from '../components/ui';
import { formatDateTime, LEVELS, statusLabel } from '../format';
import { useApi } from '../hooks';
import { useSession } from '../session';
import type { Approval, Page, Team, Ticket, User } from '../types';

const DONE = new Set(['resolved', 'fulfilled', 'closed', 'approved']);
/** Reaching these asks how (the server requires the note too). */
const NEEDS_RESOLUTION = new Set(['resolved', 'fulfilled']);

/** `/t/:tenant/agent/tickets/:ref`: everything an agent needs to work one ticket. */
export function AgentTicket() {
  const { session, path, canWork } = useSession();
  const { ref, enc, ticket, comments, events, justCreated, decided, onDecided } = useTicketPage();
  // Changes take approvals; so does a request its requester's manager was asked to approve.
  const takesApprovals = ticket.data?.type === 'change' || !!ticket.data?.approver;
  const approvals = useApi<{ items: Approval[] }>(takesApprovals ? `/tickets/${enc}/approvals` : null);
  const people = useApi<Page<User>>(`/users${qs({ role: 'agent', status: 'active', limit: 200 })}`);
  const teams = useApi<{ items: Team[] }>('/teams');
  const [busy, setBusy] = useState<string | null>(null);
  const [resolving, setResolving] = useState<string | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);

  const names = useMemo(() => {
    const m: Record<string, string> = {};
    const tk = ticket.data;
    if (tk) {
      m[tk.requester.id] = tk.requester.displayName;
      if (tk.assignee) m[tk.assignee.id] = tk.assignee.displayName;
      if (tk.team) m[tk.team.id] = tk.team.name;
    }
    for (const u of people.data?.items ?? []) m[u.id] = u.displayName;
    for (const t of teams.data?.items ?? []) m[t.id] = t.name;
    return m;
  }, [people.data, teams.data, ticket.data]);
  const agents = people.data?.items ?? [];

  if (!ticket.data || ticketNotFound(ticket)) {
    return (
      <TicketNotLoaded ticket={ticket} back={{ to: path('/agent'), label: 'Back to the workspace' }}>
        There is no ticket {ref} in this workspace.
      </TicketNotLoaded>
    );
  }

  const t = ticket.data;
  const workable = canWork(t) && t.status !== 'closed';
  /** Runs an action; its error shows under the actions, or is rethrown to the dialog that asked (`inDialog`). */
  const run = async (key: string, fn: () => Promise<Ticket>, inDialog = false) => {
    setBusy(key);
    setActionError(null);
    try {
      ticket.setData(await fn());
      events.reload();
    } catch (err) {
      if (inDialog) throw err;
      setActionError(err);
    } finally {
      setBusy(null);
    }
  };
  const patch = (key: string, body: Record<string, unknown>) => run(key, () => api.patch<Ticket>(`/tickets/${t.id}`, body));
  const move = (status: string, note: { resolution?: string; reply?: string } = {}, inDialog = false) =>
    run(
      `status-${status}`,
      async () => {
        const next = await api.post<Ticket>(`/tickets/${t.id}/status`, { status, ...note });
        if (note.resolution) comments.reload();
        return next;
      },
      inDialog,
    );

  // Keep the current assignee in the list even if they are no longer an agent.
  const assigneeOptions = t.assignee && !agents.some((a) => a.id === t.assignee!.id) ? [...agents, { ...t.assignee } as User] : agents;

  return (
    <div className="page wide-page">
      <PageHeader
        back={{ to: path('/agent'), label: 'Workspace' }}
        title={<span data-testid="ticket-title-text">{t.title}</span>}
        subtitle={<TicketMeta ticket={t} priority />}
      />
      {justCreated && <Notice tone="success">{t.ref} has been created.</Notice>}
      {decided && (
        <Notice tone="success">
          The {t.type === 'request' ? 'request' : 'change'} has been {decided}.
        </Notice>
      )}
      {t.type === 'request' && t.status === 'awaiting_approval' && t.approver && !t.canApprove && (
        <Notice testId="awaiting-manager">
          Waiting for <strong>{t.approver.displayName}</strong>, the requester’s manager, to approve it. The desk cannot fulfil it before then; its service-level clock is paused.
        </Notice>
      )}

      {(t.allowedTransitions.length > 0 || t.canApprove) && (
        <div className="action-bar" data-testid="transitions">
          {t.allowedTransitions.length > 0 && <span className="label">Move to</span>}
          {t.allowedTransitions.map((s) => (
            <button
              key={s}
              type="button"
              className={DONE.has(s) ? 'btn success' : 'btn'}
              disabled={busy !== null}
              onClick={() => (NEEDS_RESOLUTION.has(s) ? setResolving(s) : void move(s))}
              data-testid={`transition-${s}`}
            >
              {busy === `status-${s}` ? <Spinner small /> : null}
              {statusLabel(s)}
            </button>
          ))}
          {t.canApprove && (
            <div className="action-approval">
              <span className="label">Decision</span>
              <ApprovalForm
                ticket={t}
                onDecided={(next, d) => {
                  onDecided(next, d);
                  approvals.reload();
                }}
              />
            </div>
          )}
        </div>
      )}
      <FormError error={actionError} testId="action-error" />
      <Dialog open={resolving !== null} onClose={() => setResolving(null)} title={resolving === 'fulfilled' ? 'Fulfil the request' : 'Resolve the incident'} testId="resolve-dialog">
        {resolving && (
          <ResolveForm
            status={resolving}
            onSubmit={async (note) => {
              // The dialog stays open (with what was typed) until the server has taken it.
              await move(resolving, note, true);
              setResolving(null);
            }}
            onCancel={() => setResolving(null)}
          />
        )}
      </Dialog>
      {t.resolution && (
        <Notice tone="success" testId="ticket-resolution">
          <strong>{t.type === 'request' ? 'Fulfilled' : 'Resolved'}:</strong> {t.resolution}
        </Notice>
      )}

      <div className="ticket-layout">
        <div className="ticket-main">
          <TicketDescription
            ticket={t}
            byline={
              <span className="muted small">
                {t.requester.displayName} · <RelativeTime date={t.createdAt} />
              </span>
            }
          />

          <TicketChecklist ticketId={t.id} canTick={workable} onChanged={events.reload} />

          <TicketConversation
            title="Conversation and activity"
            ticket={t}
            comments={comments}
            events={events}
            names={names}
            staff
            empty={<p className="muted">No activity yet.</p>}
            closedNote="This ticket is closed and takes no more comments."
            onPosted={ticket.reload}
          />
        </div>

        <aside className="ticket-side">
          <section className="card" aria-labelledby="asg-h">
            <div className="card-head">
              <h2 id="asg-h" className="h3">
                Assignment
              </h2>
              {workable && t.assignee?.id !== session.user.id && (
                <button type="button" className="btn small" disabled={busy !== null} onClick={() => void patch('assign-me', { assigneeId: session.user.id })} data-testid="assign-to-me">
                  {busy === 'assign-me' ? <Spinner small /> : <Icon name="user" size={14} />} Assign to me
                </button>
              )}
            </div>
            <div className="stack">
              <div className="field">
                <label htmlFor="assignee">Assignee</label>
                <select
                  id="assignee"
                  value={t.assignee?.id ?? ''}
                  disabled={!workable || busy !== null || people.loading}
                  onChange={(e) => void patch('assignee', { assigneeId: e.target.value || null })}
                  data-testid="assignee-select"
                >
                  <Options empty="Unassigned" options={assigneeOptions.map((u) => [u.id, u.id === session.user.id ? `${u.displayName} (me)` : u.displayName])} />
                </select>
              </div>
              <div className="field">
                <label htmlFor="team">Team</label>
                <select
                  id="team"
                  value={t.team?.id ?? ''}
                  disabled={!workable || busy !== null || teams.loading}
                  onChange={(e) => void patch('team', { teamId: e.target.value || null })}
                  data-testid="team-select"
                >
                  <Options empty="No team" options={(teams.data?.items ?? []).map((tm) => [tm.id, tm.name])} />
                </select>
              </div>
            </div>
          </section>

          <SideCard id="sla-h" title="Service level">
            <SlaClocks ticket={t} />
          </SideCard>

          <SideCard id="det-h" title="Details">
            <div className="grid-2 tight">
              <div className="field">
                <label htmlFor="impact">Impact</label>
                <select id="impact" value={t.impact} disabled={!workable || busy !== null} onChange={(e) => void patch('impact', { impact: Number(e.target.value) })}>
                  <Options options={LEVELS.map((l) => [l.value, l.label])} />
                </select>
              </div>
              <div className="field">
                <label htmlFor="urgency">Urgency</label>
                <select id="urgency" value={t.urgency} disabled={!workable || busy !== null} onChange={(e) => void patch('urgency', { urgency: Number(e.target.value) })}>
                  <Options options={LEVELS.map((l) => [l.value, l.label])} />
                </select>
              </div>
            </div>
            <dl className="details">
              <dt>Requester</dt>
              <dd>
                <span className="person">
                  <Avatar name={t.requester.displayName} size={22} />
                  <span>
                    {t.requester.displayName}
                    <br />
                    <a href={`mailto:${t.requester.email}`} className="small">
                      {t.requester.email}
                    </a>
                  </span>
                </span>
              </dd>
              <dt>Category</dt>
              <dd>{t.category ?? <span className="muted">None</span>}</dd>
              {t.approver && (
                <>
                  <dt>Approver</dt>
                  <dd data-testid="ticket-approver">{t.approver.displayName} <span className="muted small">(the requester’s manager)</span></dd>
                </>
              )}
              <dt>Created</dt>
              <dd>{formatDateTime(t.createdAt)}</dd>
              <dt>Updated</dt>
              <dd>
                <RelativeTime date={t.updatedAt} />
              </dd>
              {t.resolvedAt && (
                <>
                  <dt>Resolved</dt>
                  <dd>{formatDateTime(t.resolvedAt)}</dd>
                </>
              )}
              {t.closedAt && (
                <>
                  <dt>Closed</dt>
                  <dd>{formatDateTime(t.closedAt)}</dd>
                </>
              )}
            </dl>
          </SideCard>

          {takesApprovals && (
            <SideCard id="appr-h" title="Approvals">
              {approvals.loading ? (
                <Loading />
              ) : (approvals.data?.items.length ?? 0) === 0 ? (
                <p className="muted small">
                  {t.status !== 'awaiting_approval'
                    ? 'No decisions yet.'
                    : t.type === 'request' && t.approver
                      ? `Waiting for ${t.approver.displayName}, the requester’s manager, to decide.`
                      : 'Waiting for a change manager to decide.'}
                </p>
              ) : (
                <ul className="approvals-list">
                  {approvals.data!.items.map((a) => (
                    <li key={a.id}>
                      <StatusBadge status={a.decision} testId="approval-decision" />
                      <span>
                        <strong>{a.approver.displayName}</strong> <span className="muted small">· <RelativeTime date={a.decidedAt} /></span>
                        <br />
                        <span className="small">{a.comment}</span>
                      </span>
                    </li>
                  ))}
                </ul>
              )}
            </SideCard>
          )}
        </aside>
      </div>
    </div>
  );
}

/** How it was resolved, and what the requester is told (the note itself unless something else is written). */
function ResolveForm({ status, onSubmit, onCancel }: { status: string; onSubmit: (note: { resolution: string; reply?: string }) => Promise<void>; onCancel: () => void }) {
  const [resolution, setResolution] = useState('');
  const [reply, setReply] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (busy) return;
    setError(null);
    if (!resolution.trim()) return setError('Say how it was resolved: the note stays on the ticket and the requester sees it.');
    setBusy(true);
    try {
      await onSubmit({ resolution: resolution.trim(), ...(reply.trim() ? { reply: reply.trim() } : {}) });
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <form className="stack" onSubmit={submit} noValidate aria-busy={busy}>
      <Field label="Resolution note" hint="What was done. Kept on the ticket, where the requester sees it, for the next person with the same problem.">
        {(id, d) => <textarea id={id} aria-describedby={d} autoFocus rows={4} maxLength={5000} value={resolution} onChange={(e) => setResolution(e.target.value)} data-testid="resolution-note" />}
      </Field>
      <Field label={<>Reply to the requester <span className="muted">(optional)</span></>} hint="Sent as a public reply with the notification. Leave empty to send the resolution note.">
        {(id, d) => <textarea id={id} aria-describedby={d} rows={3} maxLength={20000} placeholder={resolution || 'The resolution note'} value={reply} onChange={(e) => setReply(e.target.value)} data-testid="resolution-reply" />}
      </Field>
      <FormError error={error} testId="resolve-error" />
      <FormActions onCancel={onCancel}>
        <button type="submit" className="btn success" disabled={busy} data-testid="resolve-submit">
          {busy && <Spinner small />} {status === 'fulfilled' ? 'Fulfil' : 'Resolve'}
        </button>
      </FormActions>
    </form>
  );
}
