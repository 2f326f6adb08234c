import { useState, type FormEvent } from 'react';
import { api, fieldError, hasVisibleText, qs } from '../api';
import { priorityLabel } from '../format';
import { useApi } from '../hooks';
import { useSession } from '../session';
import type { Page, RequestCategory, Team, Ticket, TicketType, User } from '../types';
import { Field, FormActions, FormError, Icon, Options, Spinner, type IconName } from './ui';

const KINDS: { type: TicketType; title: string; text: string; icon: IconName }[] = [
  { type: 'incident', title: 'Something is broken', text: 'Report a problem with a device, an app or a service.', icon: 'wrench' },
  { type: 'request', title: 'I need something', text: 'Ask for access, software, equipment or information.', icon: 'box' },
  { type: 'change', title: 'Plan a change', text: 'Propose a change to a service; it goes through approval.', icon: 'layers' },
];

const URGENCY: Record<TicketType, { value: number; label: string }[]> = {
  incident: [
    { value: 1, label: 'High: I cannot work' },
    { value: 2, label: 'Medium: my work is slowed down' },
    { value: 3, label: 'Low: it is annoying, but I can work' },
  ],
  request: [
    { value: 1, label: 'High: needed today' },
    { value: 2, label: 'Medium: needed this week' },
    { value: 3, label: 'Low: no rush' },
  ],
  change: [
    { value: 1, label: 'High: must happen soon' },
    { value: 2, label: 'Medium' },
    { value: 3, label: 'Low: can be scheduled' },
  ],
};

const TITLE_HINTS: Record<TicketType, string> = {
  incident: 'For example: "Laptop does not connect to the office Wi-Fi"',
  request: 'For example: "New monitor for my desk"',
  change: 'For example: "Upgrade the core switch firmware on Saturday"',
};

const IMPACT = [
  { value: 1, label: 'High: many people or a critical service' },
  { value: 2, label: 'Medium: a team or a department' },
  { value: 3, label: 'Low: one person' },
];

/**
 * Raising a ticket: requesters choose incident or request (a request in one of the tenant's request
 * categories, which may need their manager's approval first); staff also changes, impact and assignment.
 */
export function TicketForm({ staff, initialType = 'incident', onCreated, onCancel }: { staff: boolean; initialType?: TicketType; onCreated: (t: Ticket) => void; onCancel?: () => void }) {
  const { session, has } = useSession();
  const canChange = has('agent') || has('change_manager') || has('admin');
  const canAssign = has('agent') || has('admin');
  const kinds = KINDS.filter((k) => k.type !== 'change' || (staff && canChange));
  const [type, setType] = useState<TicketType>(kinds.some((k) => k.type === initialType) ? initialType : 'incident');
  const [title, setTitle] = useState('');
  const [description, setDescription] = useState('');
  const [urgency, setUrgency] = useState(3);
  const [impact, setImpact] = useState(3);
  const [category, setCategory] = useState('');
  const [categoryId, setCategoryId] = useState('');
  const [requesterId, setRequesterId] = useState('');
  const [teamId, setTeamId] = useState('');
  const [assigneeId, setAssigneeId] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [titleError, setTitleError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const people = useApi<Page<User>>(staff && canAssign ? `/users${qs({ status: 'active', limit: 200 })}` : null);
  const teams = useApi<{ items: Team[] }>(staff && canAssign ? '/teams' : null);
  const agents = (people.data?.items ?? []).filter((u) => u.roles.includes('agent'));
  const categories = useApi<{ items: RequestCategory[] }>('/request-categories');
  const offered = type === 'request' ? (categories.data?.items ?? []) : [];
  const chosen = offered.find((c) => c.id === categoryId);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (busy) return;
    setError(null);
    setTitleError(undefined);
    if (!hasVisibleText(title)) {
      setTitleError('Give the ticket a short title.');
      return;
    }
    setBusy(true);
    try {
      const body: Record<string, unknown> = { type, title: title.trim(), description, urgency };
      if (chosen) body.categoryId = chosen.id;
      if (staff) {
        body.impact = impact;
        if (!chosen && category.trim()) body.category = category.trim();
        if (canAssign && requesterId) body.requesterId = requesterId;
        if (canAssign && teamId) body.teamId = teamId;
        if (canAssign && assigneeId) body.assigneeId = assigneeId;
      }
      onCreated(await api.post<Ticket>('/tickets', body));
    } catch (err) {
      // A fault in the title goes under the title; anything else above the button. Never both.
      const onTitle = fieldError(err, 'title', 'The title');
      if (onTitle) setTitleError(onTitle);
      else setError(err);
      setBusy(false);
    }
  };

  return (
    <form className="stack-lg" onSubmit={submit} noValidate data-testid="ticket-form">
      <fieldset className="kind-picker">
        <legend className="label">{staff ? 'What kind of ticket?' : 'What do you need help with?'}</legend>
        <div className={`kind-grid cols-${kinds.length}`}>
          {kinds.map((k) => (
            <label key={k.type} className={type === k.type ? 'kind-card selected' : 'kind-card'} data-testid={`kind-${k.type}`}>
              <input type="radio" name="type" value={k.type} checked={type === k.type} onChange={() => setType(k.type)} className="sr-only-input" />
              <span className={`kind-icon kind-${k.type}`} aria-hidden="true">
                <Icon name={k.icon} size={20} />
              </span>
              <span className="kind-text">
                <strong>{k.title}</strong>
                <span className="muted">{k.text}</span>
              </span>
            </label>
          ))}
        </div>
      </fieldset>

      {offered.length > 0 && (
        <Field
          label="What do you need?"
          hint={
            chosen ? (
              <>
                {chosen.description && <span>{chosen.description} </span>}
                {chosen.requiresManagerApproval && (
                  <span data-testid="category-approval-hint">
                    <Icon name="user" size={13} /> {staff ? 'The requester’s manager approves this first.' : 'Your manager approves this first; then the team gets to work.'}
                  </span>
                )}
              </>
            ) : (
              'Choosing a category sends your request straight to the right team.'
            )
          }
        >
          {(id, d) => (
            <select id={id} aria-describedby={d} value={categoryId} onChange={(e) => setCategoryId(e.target.value)} data-testid="ticket-category">
              <option value="">Something else</option>
              {offered.map((c) => (
                <option key={c.id} value={c.id}>
                  {c.name}
                  {c.requiresManagerApproval ? ' (manager approval)' : ''}
                </option>
              ))}
            </select>
          )}
        </Field>
      )}

      <Field label="Title" hint={titleError ? undefined : TITLE_HINTS[type]} error={titleError}>
        {(id, d) => (
          <input
            id={id}
            aria-describedby={d}
            aria-invalid={titleError ? true : undefined}
            maxLength={200}
            value={title}
            onChange={(e) => {
              setTitle(e.target.value);
              setTitleError(undefined);
            }}
            data-testid="ticket-title"
          />
        )}
      </Field>

      <Field label="Description" hint={type === 'change' ? 'What changes, why, the plan, the risk and how to back out.' : type === 'request' ? 'What you need, for whom, and any details that help us get it right.' : 'What happened, what you expected, and anything you have already tried.'}>
        {(id, d) => <textarea id={id} aria-describedby={d} rows={6} maxLength={20000} value={description} onChange={(e) => setDescription(e.target.value)} data-testid="ticket-description" />}
      </Field>

      <div className={staff ? 'grid-2' : ''}>
        <Field label={type === 'request' ? 'When do you need it?' : 'How urgent is it?'}>
          {(id) => (
            <select id={id} value={urgency} onChange={(e) => setUrgency(Number(e.target.value))} data-testid="ticket-urgency">
              <Options options={URGENCY[type].map((u) => [u.value, u.label])} />
            </select>
          )}
        </Field>
        {staff && (
          <Field label="Impact" hint={`Priority: ${priorityLabel(impact + urgency - 1)}`}>
            {(id, d) => (
              <select id={id} aria-describedby={d} value={impact} onChange={(e) => setImpact(Number(e.target.value))} data-testid="ticket-impact">
                <Options options={IMPACT.map((u) => [u.value, u.label])} />
              </select>
            )}
          </Field>
        )}
      </div>

      {staff && (
        <div className="grid-2">
          {!chosen && (
            <Field label="Category" hint="Optional, e.g. Network, Hardware, Access">
              {(id, d) => <input id={id} aria-describedby={d} maxLength={100} value={category} onChange={(e) => setCategory(e.target.value)} />}
            </Field>
          )}
          {canAssign && (
            <Field label="Requester">
              {(id) => (
                <select id={id} value={requesterId} onChange={(e) => setRequesterId(e.target.value)} disabled={people.loading}>
                  <option value="">Me ({session.user.displayName})</option>
                  {(people.data?.items ?? [])
                    .filter((u) => u.id !== session.user.id)
                    .map((u) => (
                      <option key={u.id} value={u.id}>
                        {u.displayName} · {u.email}
                      </option>
                    ))}
                </select>
              )}
            </Field>
          )}
          {canAssign && (
            <Field label="Team">
              {(id) => (
                <select id={id} value={teamId} onChange={(e) => setTeamId(e.target.value)} disabled={teams.loading}>
                  <Options empty="No team" options={(teams.data?.items ?? []).map((t) => [t.id, t.name])} />
                </select>
              )}
            </Field>
          )}
          {canAssign && (
            <Field label="Assignee">
              {(id) => (
                <select id={id} value={assigneeId} onChange={(e) => setAssigneeId(e.target.value)} disabled={people.loading}>
                  <Options empty="Unassigned" options={agents.map((u) => [u.id, u.id === session.user.id ? `${u.displayName} (me)` : u.displayName])} />
                </select>
              )}
            </Field>
          )}
        </div>
      )}

      <FormError error={error} testId="ticket-form-error" />
      <FormActions onCancel={onCancel}>
        <button type="submit" className="btn primary" disabled={busy} data-testid="ticket-submit">
          {busy && <Spinner small label="Submitting" />}
          {type === 'change' ? 'Create change' : staff ? 'Create ticket' : 'Submit'}
        </button>
      </FormActions>
    </form>
  );
}
