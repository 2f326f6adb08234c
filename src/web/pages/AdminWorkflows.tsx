import { useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { api, ApiError, errorMessage, qs } from '../api';
import { AdminNav } from '../components/AdminNav';
import { ConfirmDialog, DataTable, problemAt, RefreshButton, Section, SectionEmpty, Switch, useActions } from '../components/AdminParts';
import { PageHeader } from '../components/PageHeader';
import { Dialog, ErrorNotice, Field, FormActions, FormError, Icon, Options, RelativeTime, SkeletonRows, Spinner, SubmitButton } from '../components/ui';
import { useApi, useTitle } from '../hooks';
import { useSession } from '../session';
import { WORKFLOW_TRIGGERS, type NewWorkflowRule, type Team, type WebhookList, type WorkflowAction, type WorkflowConditions, type WorkflowList, type WorkflowRule, type WorkflowRun, type WorkflowTemplate, type WorkflowTrigger } from '../types';

/** Each trigger in words, as "When …". */
const TRIGGERS: Record<WorkflowTrigger, string> = {
  'user.provisioned': 'a person is provisioned',
  'user.first_signin': 'a person signs in for the first time',
  'group.member_added': 'a person is added to a group',
  'group.member_removed': 'a person is removed from a group',
  'user.role_changed': 'a person’s roles change',
  'user.deactivated': 'a person is deactivated',
  'user.deleted': 'a person is deleted',
};

const triggerText = (t: string) => (t in TRIGGERS ? TRIGGERS[t as WorkflowTrigger] : t);

const SOURCES: Record<NonNullable<WorkflowConditions['source']>, string> = { scim: 'SCIM (the directory)', jit: 'just in time, at a first sign-in', local: 'made by an administrator' };

/** The conditions of a rule in words ("department is Sales, group is VPN users"), or "everyone". */
function conditionsText(c: WorkflowConditions): string {
  const parts = [
    c.group && `group is ${c.group}`,
    c.department && `department is ${c.department}`,
    c.connection && `signs in through ${c.connection}`,
    c.source && `account came from ${SOURCES[c.source]}`,
  ].filter(Boolean);
  return parts.length ? parts.join(', ') : 'Everyone';
}

/** An action in words, with the team's and endpoint's names. */
function actionText(a: WorkflowAction, teams: Map<string, string>, endpoints: Map<string, string>): string {
  if (a.type === 'ticket') {
    const team = a.teamId ? (teams.get(a.teamId) ?? 'a removed team') : 'the unassigned queue';
    const list = a.checklist.length ? `, checklist of ${a.checklist.length}` : '';
    return `Ticket “${a.title}” in ${team}${list}`;
  }
  if (a.type === 'notify_manager') return 'Notify the manager';
  return `Call ${endpoints.get(a.endpointId) ?? 'a removed webhook endpoint'}`;
}

/** `/t/:tenant/admin/workflows`: identity events that raise service-desk work by themselves. */
export function AdminWorkflows() {
  const { session } = useSession();
  useTitle('Workflows', session.tenant.name);
  const wf = useApi<WorkflowList>('/workflows');
  const teamList = useApi<{ items: Team[] }>('/teams');
  const hooks = useApi<WebhookList>('/webhooks');
  const runs = useApi<{ items: WorkflowRun[] }>(`/workflows/runs${qs({ limit: 50 })}`);
  const [adding, setAdding] = useState(false);
  const teams = teamList.data?.items ?? [];
  const endpoints = hooks.data?.items ?? [];
  const teamNames = new Map(teams.map((t) => [t.id, t.name]));
  const endpointNames = new Map(endpoints.map((e) => [e.id, e.url]));
  const rules = wf.data?.items ?? [];

  const put = (r: WorkflowRule) =>
    wf.setData((prev) => {
      const items = prev?.items ?? [];
      return { templates: prev?.templates ?? [], items: items.some((x) => x.id === r.id) ? items.map((x) => (x.id === r.id ? r : x)) : [...items, r] };
    });
  const drop = (id: string) => wf.setData((prev) => ({ templates: prev?.templates ?? [], items: (prev?.items ?? []).filter((x) => x.id !== id) }));

  return (
    <div className="page">
      <PageHeader title="Administration" />
      <AdminNav />
      <div className="subhead">
        <h2 className="h2">Workflows</h2>
        <p className="muted">
          Let changes in your directory raise the service-desk work they mean: a ticket with a checklist when someone joins, another when they leave, a note for their manager. Each rule acts once per event; what it did shows under Recent runs.
        </p>
      </div>
      <ErrorNotice error={wf.error} onRetry={wf.reload} />

      <Section id="wf-templates" title="Ready-made workflows" description="Turn one on and choose the team whose queue its tickets land in." testId="templates-section">
        {!wf.data ? (
          wf.loading && (
            <div className="card">
              <SkeletonRows rows={3} />
            </div>
          )
        ) : (
          <div className="template-grid">
            {wf.data.templates.map((t) => (
              <TemplateCard key={t.template} template={t} rule={rules.find((r) => r.template === t.template) ?? null} teams={teams} onChanged={put} />
            ))}
          </div>
        )}
      </Section>

      <Section
        id="wf-rules"
        title="Rules"
        description="Every workflow of this workspace, the ready-made ones included. A rule that is off does nothing."
        testId="rules-section"
        actions={
          <button type="button" className="btn primary" onClick={() => setAdding(true)} disabled={!wf.data} data-testid="add-rule">
            <Icon name="plus" size={16} /> Add a rule
          </button>
        }
      >
        <div className="card">
          {!wf.data ? (
            wf.loading && <SkeletonRows rows={2} />
          ) : rules.length === 0 ? (
            <SectionEmpty title="No workflows yet" icon="layers">
              Turn on Onboarding or Offboarding above, or add a rule of your own.
            </SectionEmpty>
          ) : (
            <DataTable headers={['Name', 'When', 'Only if', 'Then', 'On', <span className="sr-only">Actions</span>]} caption="Workflow rules" className="rules-table" testId="rules-table">
              {rules.map((r) => (
                <RuleRow key={r.id} rule={r} actionsText={r.actions.map((a) => actionText(a, teamNames, endpointNames))} onChanged={put} onRemoved={() => drop(r.id)} />
              ))}
            </DataTable>
          )}
        </div>
      </Section>

      <Section
        id="wf-runs"
        title="Recent runs"
        description="What the workflows did lately, newest first: the ticket raised, or the condition that was not met."
        testId="runs-section"
        actions={<RefreshButton onClick={runs.reload} loading={runs.loading} testId="runs-refresh" />}
      >
        <div className="card">
          <ErrorNotice error={runs.error} onRetry={runs.reload} testId="runs-error" />
          {!runs.data ? (
            runs.loading && <SkeletonRows rows={2} />
          ) : runs.data.items.length === 0 ? (
            <SectionEmpty title="Nothing has run yet" icon="clock">
              Runs appear here once a person is provisioned, deactivated or otherwise changed while a workflow is on.
            </SectionEmpty>
          ) : (
            <RunsTable runs={runs.data.items} />
          )}
        </div>
      </Section>

      <Dialog open={adding} onClose={() => setAdding(false)} title="Add a workflow rule" wide testId="add-rule-dialog">
        {adding && (
          <RuleForm
            teams={teams}
            endpoints={endpoints.map((e) => ({ id: e.id, url: e.url }))}
            onAdded={(r) => {
              setAdding(false);
              put(r);
            }}
            onCancel={() => setAdding(false)}
          />
        )}
      </Dialog>
    </div>
  );
}

/* ---------- Templates ---------- */

function TemplateCard({ template: t, rule, teams, onChanged }: { template: WorkflowTemplate; rule: WorkflowRule | null; teams: Team[]; onChanged: (r: WorkflowRule) => void }) {
  const shown = rule?.actions ?? t.actions;
  const ticket = shown.find((a): a is Extract<WorkflowAction, { type: 'ticket' }> => a.type === 'ticket');
  const notifies = shown.some((a) => a.type === 'notify_manager');
  const currentTeam = ticket?.teamId ?? '';
  const [team, setTeam] = useState(currentTeam);
  const actions = useActions();
  const on = rule?.enabled === true;
  const teamSelectId = `tpl-team-${t.template}`;

  const enable = () =>
    actions.run('enable', async () => {
      if (!rule) {
        onChanged(await api.post<WorkflowRule>(`/workflows/templates/${t.template}/enable`, team ? { team } : {}));
        return;
      }
      // Already set up: turn it on with the team chosen here (none: the unassigned queue); its own checklist stays.
      const routed = rule.actions.map((a) => (a.type === 'ticket' ? { ...a, teamId: team || null } : a));
      onChanged(await api.patch<WorkflowRule>(`/workflows/${rule.id}`, { enabled: true, actions: routed }));
    });

  const label = !rule ? 'Enable' : !on ? 'Turn on' : 'Save team';
  return (
    <section className={on ? 'card template-card on' : 'card template-card'} aria-labelledby={`tpl-${t.template}-h`} data-testid={`template-${t.template}`} data-enabled={on}>
      <div className="card-head">
        <h4 id={`tpl-${t.template}-h`} className="h3">
          {t.name}
        </h4>
        <span className={`badge tone-${on ? 'green' : 'gray'}`} data-testid="template-state">
          <span className="badge-dot" aria-hidden="true" />
          {on ? 'On' : rule ? 'Off' : 'Not turned on'}
        </span>
      </div>
      <p className="muted small">When {triggerText(t.trigger)}:</p>
      <ul className="template-does">
        {ticket && (
          <li>
            <Icon name="note" size={14} /> A service request “<strong>{ticket.title}</strong>” with a checklist:
            <ol className="template-checklist" data-testid="template-checklist">
              {ticket.checklist.map((c) => (
                <li key={c}>{c}</li>
              ))}
            </ol>
          </li>
        )}
        {notifies && (
          <li>
            <Icon name="message" size={14} /> The person’s manager (from the directory) is notified, as a <code className="code">workflow.manager_notification</code> webhook message.
          </li>
        )}
      </ul>
      <div className="template-enable">
        <div className="field">
          <label htmlFor={teamSelectId}>Team queue</label>
          <select id={teamSelectId} value={team} onChange={(e) => setTeam(e.target.value)} disabled={actions.busy !== null} data-testid="template-team">
            <Options empty="No team (the unassigned queue)" options={teams.map((tm) => [tm.id, tm.name])} />
          </select>
        </div>
        <button type="button" className="btn primary" onClick={() => void enable()} disabled={actions.busy !== null || (on && team === currentTeam)} data-testid="template-enable">
          {actions.busy === 'enable' ? <Spinner small /> : <Icon name={on ? 'check' : 'play'} size={15} />} {label}
        </button>
      </div>
      <FormError error={actions.errorOf('enable')} testId="template-error" />
    </section>
  );
}

/* ---------- Rules ---------- */

function RuleRow({ rule: r, actionsText, onChanged, onRemoved }: { rule: WorkflowRule; actionsText: string[]; onChanged: (r: WorkflowRule) => void; onRemoved: () => void }) {
  const actions = useActions();
  const [removing, setRemoving] = useState(false);
  const nameId = `rule-${r.id}`;
  return (
    <tr data-testid="rule-row" data-id={r.id} data-name={r.name} data-enabled={r.enabled}>
      <td>
        <strong id={nameId}>{r.name}</strong>
        {r.template && <span className="chip subtle template-chip">ready-made</span>}
      </td>
      <td data-label="When" className="small">
        {triggerText(r.trigger)}
        <span className="mono muted block-line">{r.trigger}</span>
      </td>
      <td data-label="Only if" className="small" data-testid="rule-conditions">
        {conditionsText(r.conditions)}
      </td>
      <td data-label="Then" className="small" data-testid="rule-actions">
        <ul className="plain-list">
          {actionsText.map((a, i) => (
            <li key={i}>{a}</li>
          ))}
        </ul>
      </td>
      <td data-label="On">
        <Switch
          checked={r.enabled}
          disabled={actions.busy !== null}
          label={<span className="sr-only">{r.name} is on</span>}
          onChange={(enabled) => void actions.run('toggle', async () => onChanged(await api.patch<WorkflowRule>(`/workflows/${r.id}`, { enabled })))}
          testId="rule-enabled"
        />
        {actions.errorOf('toggle') !== undefined && (
          <span className="error-text small block-line" role="alert" data-testid="rule-error">
            {errorMessage(actions.errorOf('toggle'))}
          </span>
        )}
      </td>
      <td className="cell-actions">
        <button type="button" className="btn small ghost danger-text" onClick={() => setRemoving(true)} aria-describedby={nameId} data-testid="rule-delete">
          <Icon name="trash" size={13} /> Delete
        </button>
        <ConfirmDialog
          open={removing}
          title="Delete this workflow?"
          confirmLabel="Delete"
          icon="trash"
          danger
          onClose={() => setRemoving(false)}
          onConfirm={async () => {
            try {
              await api.delete(`/workflows/${r.id}`);
            } catch (err) {
              if (!(err instanceof ApiError && err.status === 404)) throw err;
            }
            onRemoved();
          }}
          testId="rule-delete-dialog"
        >
          <p>
            <strong>{r.name}</strong> stops acting on new events. Tickets it raised stay, and so do its past runs.
            {r.template && ' You can turn the ready-made workflow on again later; it starts from its original checklist.'}
          </p>
        </ConfirmDialog>
      </td>
    </tr>
  );
}

/* ---------- A custom rule ---------- */

const SPLIT_LINES = /\r?\n/;

function RuleForm({ teams, endpoints, onAdded, onCancel }: { teams: Team[]; endpoints: { id: string; url: string }[]; onAdded: (r: WorkflowRule) => void; onCancel: () => void }) {
  const [name, setName] = useState('');
  const [trigger, setTrigger] = useState<WorkflowTrigger>('user.provisioned');
  const [conditions, setConditions] = useState<{ group: string; department: string; connection: string; source: '' | NonNullable<WorkflowConditions['source']> }>({ group: '', department: '', connection: '', source: '' });
  const [withTicket, setWithTicket] = useState(true);
  const [ticket, setTicket] = useState({ title: '', description: '', teamId: '', checklist: '' });
  const [notify, setNotify] = useState(false);
  const [endpointId, setEndpointId] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  // The actions in the order they are sent, to tell which one a refusal ("actions.1.…") is about.
  const order: WorkflowAction['type'][] = [...(withTicket ? (['ticket'] as const) : []), ...(notify ? (['notify_manager'] as const) : []), ...(endpointId ? (['webhook'] as const) : [])];
  const actionProblem = (type: WorkflowAction['type']) => {
    if (!(error instanceof ApiError)) return undefined;
    const m = /^actions[./](\d+)/.exec(error.errors[0]?.field ?? '');
    return m && order[Number(m[1])] === type ? error.message : undefined;
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (busy) return;
    setError(null);
    if (!name.trim()) return setError('Give the rule a name.');
    if (!order.length) return setError('Choose at least one thing the rule does.');
    if (withTicket && !ticket.title.trim()) return setError('Give the ticket a title.');
    if (conditions.connection.trim() && !/^[A-Za-z0-9_-]+$/.test(conditions.connection.trim())) {
      return setError('The sign-in connection is its short name: letters, digits, - and _ only (such as entra).');
    }
    const cond: WorkflowConditions = {};
    if (conditions.group.trim()) cond.group = conditions.group.trim();
    if (conditions.department.trim()) cond.department = conditions.department.trim();
    if (conditions.connection.trim()) cond.connection = conditions.connection.trim();
    if (conditions.source) cond.source = conditions.source;
    const actions: WorkflowAction[] = [];
    if (withTicket) {
      actions.push({
        type: 'ticket',
        title: ticket.title.trim(),
        description: ticket.description.trim(),
        teamId: ticket.teamId || null,
        checklist: ticket.checklist.split(SPLIT_LINES).map((l) => l.trim()).filter(Boolean),
      });
    }
    if (notify) actions.push({ type: 'notify_manager' });
    if (endpointId) actions.push({ type: 'webhook', endpointId });
    const body: NewWorkflowRule = { name: name.trim(), trigger, conditions: cond, actions };
    setBusy(true);
    try {
      onAdded(await api.post<WorkflowRule>('/workflows', body));
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  const nameError = problemAt(error, 'name');
  const conditionError = (k: keyof WorkflowConditions) => problemAt(error, `conditions.${k}`);
  // A refusal about the conditions as a whole (an unknown one) shows under the group of fields.
  const conditionsError = problemAt(error, 'conditions') && !(['group', 'department', 'connection', 'source'] as const).some((k) => conditionError(k)) ? problemAt(error, 'conditions') : undefined;
  const ticketError = actionProblem('ticket');
  const webhookError = actionProblem('webhook');
  const shownElsewhere = nameError || problemAt(error, 'conditions') || ticketError || webhookError;
  const setCond = (k: keyof typeof conditions, v: string) => setConditions((c) => ({ ...c, [k]: v }));
  const setTk = (k: keyof typeof ticket, v: string) => setTicket((t) => ({ ...t, [k]: v }));

  return (
    <form className="stack rule-form-wf" onSubmit={submit} noValidate aria-busy={busy} data-testid="rule-form">
      <div className="grid-2">
        <Field label="Name" error={nameError}>
          {(id, d) => <input id={id} aria-describedby={d} autoFocus maxLength={100} placeholder="e.g. Sales laptops" value={name} onChange={(e) => setName(e.target.value)} data-testid="rule-name" />}
        </Field>
        <Field label="When">
          {(id) => (
            <select id={id} value={trigger} onChange={(e) => setTrigger(e.target.value as WorkflowTrigger)} data-testid="rule-trigger">
              <Options options={WORKFLOW_TRIGGERS.map((t) => [t, triggerText(t)])} />
            </select>
          )}
        </Field>
      </div>

      <fieldset className="form-group">
        <legend>Only if <span className="muted">(leave empty for everyone)</span></legend>
        <div className="grid-2">
          <Field label="Group" hint="Display name or external id, any case. For group triggers: the group of the event." error={conditionError('group')}>
            {(id, d) => <input id={id} aria-describedby={d} maxLength={256} value={conditions.group} onChange={(e) => setCond('group', e.target.value)} data-testid="cond-group" />}
          </Field>
          <Field label="Department" hint="As the directory sends it (SCIM enterprise department)." error={conditionError('department')}>
            {(id, d) => <input id={id} aria-describedby={d} maxLength={256} value={conditions.department} onChange={(e) => setCond('department', e.target.value)} data-testid="cond-department" />}
          </Field>
          <Field label="Sign-in connection" hint="Its short name, such as entra." error={conditionError('connection')}>
            {(id, d) => <input id={id} aria-describedby={d} maxLength={64} value={conditions.connection} onChange={(e) => setCond('connection', e.target.value)} data-testid="cond-connection" />}
          </Field>
          <Field label="Account source" error={conditionError('source')}>
            {(id) => (
              <select id={id} value={conditions.source} onChange={(e) => setCond('source', e.target.value)} data-testid="cond-source">
                <Options empty="Any" options={(Object.keys(SOURCES) as (keyof typeof SOURCES)[]).map((s) => [s, SOURCES[s]])} />
              </select>
            )}
          </Field>
        </div>
        {conditionsError && <p className="field-hint error-text">{conditionsError}</p>}
      </fieldset>

      <fieldset className="form-group">
        <legend>Then</legend>
        <label className="check">
          <input type="checkbox" checked={withTicket} onChange={(e) => setWithTicket(e.target.checked)} data-testid="action-ticket" />
          <span>
            <strong>Raise a ticket</strong>
            <span className="muted small">A service request for the person, with a checklist agents tick off.</span>
          </span>
        </label>
        {withTicket && (
          <div className="stack nested-fields">
            <div className="grid-2">
              <Field label="Title" hint="{{name}}, {{email}} and {{department}} stand for the person.">
                {(id, d) => <input id={id} aria-describedby={d} maxLength={200} placeholder="Sales kit for {{name}}" value={ticket.title} onChange={(e) => setTk('title', e.target.value)} data-testid="ticket-title" />}
              </Field>
              <Field label="Team queue">
                {(id) => (
                  <select id={id} value={ticket.teamId} onChange={(e) => setTk('teamId', e.target.value)} data-testid="ticket-team">
                    <Options empty="No team (the unassigned queue)" options={teams.map((t) => [t.id, t.name])} />
                  </select>
                )}
              </Field>
            </div>
            <Field label={<>Description <span className="muted">(optional)</span></>}>
              {(id) => <textarea id={id} rows={2} maxLength={5000} value={ticket.description} onChange={(e) => setTk('description', e.target.value)} data-testid="ticket-description" />}
            </Field>
            <Field label="Checklist" hint="One task a line, in order." error={ticketError}>
              {(id, d) => <textarea id={id} aria-describedby={d} rows={4} value={ticket.checklist} placeholder={'Order a CRM licence\nAdd to the sales channel'} onChange={(e) => setTk('checklist', e.target.value)} data-testid="ticket-checklist" />}
            </Field>
          </div>
        )}
        <label className="check">
          <input type="checkbox" checked={notify} onChange={(e) => setNotify(e.target.checked)} data-testid="action-notify" />
          <span>
            <strong>Notify the manager</strong>
            <span className="muted small">
              Sent as a <code className="code">workflow.manager_notification</code> webhook message to the endpoints that subscribe to it, and noted on the ticket.
            </span>
          </span>
        </label>
        <Field label="Call a webhook endpoint" hint={endpoints.length ? 'It gets the event, the person and the ticket, signed like every webhook message.' : 'Add an endpoint on the Webhooks page first.'} error={webhookError}>
          {(id, d) => (
            <select id={id} aria-describedby={d} value={endpointId} onChange={(e) => setEndpointId(e.target.value)} disabled={!endpoints.length} data-testid="action-webhook">
              <Options empty="None" options={endpoints.map((e) => [e.id, e.url])} />
            </select>
          )}
        </Field>
      </fieldset>

      <FormError error={shownElsewhere ? null : error} testId="rule-error" />
      <FormActions onCancel={onCancel}>
        <SubmitButton busy={busy} icon="plus" iconSize={15} testId="rule-submit">
          Add rule
        </SubmitButton>
      </FormActions>
    </form>
  );
}

/* ---------- Runs ---------- */

function RunsTable({ runs }: { runs: WorkflowRun[] }) {
  const { path } = useSession();
  return (
    <DataTable headers={['Time', 'Person', 'Workflow', 'Event', 'Outcome', 'Ticket']} caption="Recent workflow runs" className="activity-table runs-table" testId="runs-table">
      {runs.map((r) => (
        <tr key={`${r.ruleId}-${r.eventId}`} data-testid="run-row" data-outcome={r.outcome} data-person={r.person ?? ''}>
          <td className="small nowrap cell-time">
            <RelativeTime date={r.createdAt} />
          </td>
          <td data-label="Person" className="small" data-testid="run-person">
            {r.person ?? <span className="muted">—</span>}
          </td>
          <td data-label="Workflow" className="small" data-testid="run-rule">
            {r.ruleName}
          </td>
          <td data-label="Event" className="small">
            <code className="mono">{r.eventType}</code>
          </td>
          <td data-label="Outcome" className="small cell-error">
            <span className={`badge tone-${r.outcome === 'done' ? 'green' : 'gray'}`} data-testid="run-outcome">
              {r.outcome === 'done' ? 'Done' : 'Skipped'}
            </span>
            {r.note && (
              <span className="muted block-line" data-testid="run-note">
                {r.note}
              </span>
            )}
          </td>
          <td data-label="Ticket" className="small nowrap">
            {r.ticket ? (
              <Link to={path(`/agent/tickets/${r.ticket.ref}`)} className="mono" data-testid="run-ticket">
                {r.ticket.ref}
              </Link>
            ) : (
              <span className="muted">—</span>
            )}
          </td>
        </tr>
      ))}
    </DataTable>
  );
}
