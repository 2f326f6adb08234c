import { useEffect, useState, type FormEvent } from 'react';
import { api, errorMessage } from '../api';
import { AdminNav } from '../components/AdminNav';
import { ConfirmDialog, DataTable, HttpStatus, problemAt, RefreshButton, SecretOnce, Section, SectionEmpty, Switch, useActions } from '../components/AdminParts';
import { PageHeader } from '../components/PageHeader';
import { BreakableUrl, Dialog, ErrorNotice, Field, FormActions, FormError, Icon, RelativeTime, SkeletonRows, Spinner, SubmitButton } from '../components/ui';
import { formatDateTime } from '../format';
import { useApi, useTitle } from '../hooks';
import { useSession } from '../session';
import type { WebhookCreated, WebhookDelivery, WebhookEndpoint, WebhookList, WebhookRotated } from '../types';

/** The subscribable events, in the groups the add dialog shows them in. */
const EVENT_GROUPS: { title: string; prefixes: string[] }[] = [
  { title: 'People and groups', prefixes: ['user.', 'group.'] },
  { title: 'Tickets', prefixes: ['ticket.'] },
  { title: 'Audit', prefixes: ['audit.'] },
  { title: 'Workflows', prefixes: ['workflow.'] },
];

/** What an event means, where a word helps. */
const EVENT_HINTS: Record<string, string> = {
  'user.provisioned': 'a person was added (SCIM, first sign-in or an admin)',
  'user.first_signin': 'a person signed in for the first time',
  'user.deactivated': 'a person was deactivated',
  'user.role_changed': 'a person’s roles changed',
  'audit.event': 'every line of the audit trail, as it is written',
  'workflow.ticket_created': 'a workflow raised a ticket',
  'workflow.manager_notification': 'a workflow asks you to tell a person’s manager',
};

function groupEvents(types: string[]): { title: string; events: string[] }[] {
  const groups = EVENT_GROUPS.map((g) => ({ title: g.title, events: types.filter((t) => g.prefixes.some((p) => t.startsWith(p))) }));
  const other = types.filter((t) => !EVENT_GROUPS.some((g) => g.prefixes.some((p) => t.startsWith(p))));
  return [...groups, { title: 'Other', events: other }].filter((g) => g.events.length > 0);
}

/** A secret on show: a new endpoint's, or a rotated one's (with the time the old one stops signing). */
interface Revealed {
  endpointId: string;
  secret: string;
  previousSecretUntil: string | null;
}

/** `/t/:tenant/admin/webhooks`: where Keydesk sends events, signed per Standard Webhooks, and how each delivery went. */
export function AdminWebhooks() {
  const { session } = useSession();
  useTitle('Webhooks', session.tenant.name);
  const list = useApi<WebhookList>('/webhooks');
  const [adding, setAdding] = useState(false);
  const [revealed, setRevealed] = useState<Revealed | null>(null);
  const endpoints = list.data?.items ?? [];

  const put = (e: WebhookEndpoint) =>
    list.setData((prev) => {
      const items = prev?.items ?? [];
      return { eventTypes: prev?.eventTypes ?? [], items: items.some((x) => x.id === e.id) ? items.map((x) => (x.id === e.id ? e : x)) : [...items, e] };
    });
  const drop = (id: string) => list.setData((prev) => ({ eventTypes: prev?.eventTypes ?? [], items: (prev?.items ?? []).filter((x) => x.id !== id) }));

  return (
    <div className="page">
      <PageHeader title="Administration" />
      <AdminNav />
      <div className="subhead">
        <h2 className="h2">Webhooks</h2>
        <p className="muted">
          Keydesk posts events (people provisioned, tickets raised, audit lines, workflow notes) to your endpoints as they happen. Each message is signed per{' '}
          <a href="https://www.standardwebhooks.com/" target="_blank" rel="noreferrer">
            Standard Webhooks
          </a>
          ; a failed delivery is tried up to 15 times over about ten hours, and every attempt shows in the endpoint’s delivery log.
        </p>
      </div>
      <ErrorNotice error={list.error} onRetry={list.reload} />
      <Section
        id="wh-endpoints"
        title="Endpoints"
        testId="webhook-section"
        actions={
          <button type="button" className="btn primary" onClick={() => setAdding(true)} disabled={!list.data} data-testid="add-endpoint">
            <Icon name="plus" size={16} /> Add endpoint
          </button>
        }
      >
        {!list.data ? (
          list.loading && (
            <div className="card">
              <SkeletonRows rows={3} />
            </div>
          )
        ) : endpoints.length === 0 ? (
          <div className="card">
            <SectionEmpty title="No endpoints yet" icon="link">
              Add the URL of a service that should hear about Keydesk’s events: an HR system, a chat bot, your SIEM.
            </SectionEmpty>
          </div>
        ) : (
          <div className="webhook-list" data-testid="webhook-list">
            {endpoints.map((e) => (
              <EndpointCard
                key={e.id}
                endpoint={e}
                revealed={revealed?.endpointId === e.id ? revealed : null}
                onChanged={put}
                onRemoved={() => {
                  drop(e.id);
                  if (revealed?.endpointId === e.id) setRevealed(null);
                }}
                onRotated={(r) => setRevealed({ endpointId: e.id, ...r })}
                onDismissSecret={() => setRevealed(null)}
                onStale={list.reload}
              />
            ))}
          </div>
        )}
      </Section>
      <Dialog open={adding} onClose={() => setAdding(false)} title="Add a webhook endpoint" wide testId="add-endpoint-dialog">
        {adding && list.data && (
          <AddEndpointForm
            eventTypes={list.data.eventTypes}
            onAdded={(res) => {
              setAdding(false);
              put(res.endpoint);
              setRevealed({ endpointId: res.endpoint.id, secret: res.secret, previousSecretUntil: null });
            }}
            onCancel={() => setAdding(false)}
          />
        )}
      </Dialog>
    </div>
  );
}

/* ---------- Adding an endpoint ---------- */

function AddEndpointForm({ eventTypes, onAdded, onCancel }: { eventTypes: string[]; onAdded: (r: WebhookCreated) => void; onCancel: () => void }) {
  const [url, setUrl] = useState('');
  const [description, setDescription] = useState('');
  const [all, setAll] = useState(false);
  const [chosen, setChosen] = useState<Set<string>>(new Set());
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const groups = groupEvents(eventTypes);

  const toggle = (events: string[], on: boolean) =>
    setChosen((prev) => {
      const next = new Set(prev);
      for (const e of events) (on ? next.add(e) : next.delete(e));
      return next;
    });

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (busy) return;
    setError(null);
    if (!url.trim()) return setError('Enter the URL Keydesk should post to.');
    if (!all && chosen.size === 0) return setError('Choose at least one event, or “All events”.');
    setBusy(true);
    try {
      const events = all ? ['*'] : eventTypes.filter((t) => chosen.has(t));
      onAdded(await api.post<WebhookCreated>('/webhooks', { url: url.trim(), events, ...(description.trim() ? { description: description.trim() } : {}) }));
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  const urlError = problemAt(error, 'url');
  const eventsError = problemAt(error, 'events');
  const descriptionError = problemAt(error, 'description');
  return (
    <form className="stack" onSubmit={submit} noValidate aria-busy={busy} data-testid="add-endpoint-form">
      <Field label="Endpoint URL" hint="Where Keydesk posts each message (https, reachable from Keydesk). Redirects are not followed." error={urlError}>
        {(id, d) => (
          <input id={id} type="url" inputMode="url" autoFocus aria-describedby={d} aria-invalid={urlError ? true : undefined} placeholder="https://hooks.example.com/keydesk" maxLength={2000} value={url} onChange={(e) => setUrl(e.target.value)} data-testid="endpoint-url" />
        )}
      </Field>
      <Field label={<>Description <span className="muted">(optional)</span></>} error={descriptionError}>
        {(id, d) => <input id={id} aria-describedby={d} maxLength={200} placeholder="e.g. HR system" value={description} onChange={(e) => setDescription(e.target.value)} data-testid="endpoint-description" />}
      </Field>
      <fieldset className="event-picker" aria-describedby={eventsError ? 'events-error' : undefined}>
        <legend>Events</legend>
        <label className="check">
          <input type="checkbox" checked={all} onChange={(e) => setAll(e.target.checked)} data-testid="events-all" />
          <span>
            <strong>All events</strong>
            <span className="muted small">Everything listed below, and event types added in later versions of Keydesk.</span>
          </span>
        </label>
        <div className="event-groups" aria-disabled={all}>
          {groups.map((g) => {
            const on = g.events.filter((e) => chosen.has(e)).length;
            return (
              <fieldset key={g.title} className="event-group" disabled={all}>
                <legend>
                  <label className="event-group-toggle">
                    <input
                      type="checkbox"
                      checked={on === g.events.length}
                      ref={(el) => {
                        if (el) el.indeterminate = on > 0 && on < g.events.length;
                      }}
                      onChange={(e) => toggle(g.events, e.target.checked)}
                      data-testid={`event-group-${g.title.toLowerCase().replace(/\W+/g, '-')}`}
                    />
                    {g.title}
                  </label>
                </legend>
                <ul className="event-list">
                  {g.events.map((ev) => (
                    <li key={ev}>
                      <label>
                        <input type="checkbox" checked={all || chosen.has(ev)} onChange={(e) => toggle([ev], e.target.checked)} data-testid="event-option" data-event={ev} />
                        <code className="mono small">{ev}</code>
                        {EVENT_HINTS[ev] && <span className="muted small"> {EVENT_HINTS[ev]}</span>}
                      </label>
                    </li>
                  ))}
                </ul>
              </fieldset>
            );
          })}
        </div>
        {eventsError && (
          <p id="events-error" className="field-hint error-text">
            {eventsError}
          </p>
        )}
      </fieldset>
      <FormError error={urlError || eventsError || descriptionError ? null : error} testId="add-endpoint-error" />
      <FormActions onCancel={onCancel}>
        <SubmitButton busy={busy} icon="plus" iconSize={15} testId="add-endpoint-submit">
          Add endpoint
        </SubmitButton>
      </FormActions>
    </form>
  );
}

/* ---------- One endpoint ---------- */

function EndpointCard({
  endpoint: e,
  revealed,
  onChanged,
  onRemoved,
  onRotated,
  onDismissSecret,
  onStale,
}: {
  endpoint: WebhookEndpoint;
  revealed: Revealed | null;
  onChanged: (e: WebhookEndpoint) => void;
  onRemoved: () => void;
  onRotated: (r: WebhookRotated) => void;
  onDismissSecret: () => void;
  onStale: () => void;
}) {
  const actions = useActions();
  const [showLog, setShowLog] = useState(false);
  /** A message the log is waiting to see (another attempt of it), after a test or a redelivery. */
  const [watch, setWatch] = useState<{ messageId: string; seen: number } | null>(null);
  /** The watched message's attempt did not show up while the log looked for it. */
  const [stalled, setStalled] = useState<string | null>(null);
  const [confirm, setConfirm] = useState<'rotate' | 'delete' | null>(null);
  const titleId = `wh-${e.id}`;
  const logId = `wh-log-${e.id}`;

  const setEnabled = (enabled: boolean) =>
    actions.run('toggle', async () => {
      onChanged(await api.patch<WebhookEndpoint>(`/webhooks/${e.id}`, { enabled }));
      // A message for an endpoint that is off is not sent: stop waiting for it.
      if (!enabled) setWatch(null);
    });
  const sendTest = () =>
    actions.run('test', async () => {
      const { messageId } = await api.post<{ messageId: string }>(`/webhooks/${e.id}/test`, {});
      setShowLog(true);
      setStalled(null);
      setWatch({ messageId, seen: 0 });
    });

  return (
    <section className={e.enabled ? 'card webhook-card' : 'card webhook-card disabled'} aria-labelledby={titleId} data-testid="webhook-endpoint" data-id={e.id} data-enabled={e.enabled}>
      <div className="webhook-head">
        <div className="webhook-title">
          <h4 id={titleId} className="h3 mono wrap" data-testid="webhook-url">
            <BreakableUrl url={e.url} />
          </h4>
          {e.description && <p className="muted small">{e.description}</p>}
        </div>
        <Switch
          checked={e.enabled}
          onChange={(on) => void setEnabled(on)}
          disabled={actions.busy !== null}
          label={e.enabled ? 'On' : 'Off'}
          hint={e.enabled ? 'Messages are sent' : (e.disabledReason ?? 'Nothing is sent')}
          testId="webhook-enabled"
        />
      </div>
      <FormError error={actions.errorOf('toggle')} testId="toggle-error" />
      <dl className="webhook-facts">
        <div>
          <dt>Events</dt>
          <dd className="chips" data-testid="webhook-events">
            {e.events.includes('*') ? (
              <span className="chip">All events</span>
            ) : (
              e.events.map((ev) => (
                <span key={ev} className="chip mono small">
                  {ev}
                </span>
              ))
            )}
          </dd>
        </div>
        <div>
          <dt>Last delivery</dt>
          <dd data-testid="webhook-last-delivery">
            {e.lastDelivery ? (
              <>
                <HttpStatus status={e.lastDelivery.statusCode} testId="last-delivery-status" /> <RelativeTime date={e.lastDelivery.at} />
              </>
            ) : (
              <span className="muted">Nothing sent yet</span>
            )}
          </dd>
        </div>
        {e.previousSecretUntil && (
          <div>
            <dt>Previous secret</dt>
            <dd className="small" data-testid="previous-secret-until">
              also signs until {formatDateTime(e.previousSecretUntil)}
            </dd>
          </div>
        )}
      </dl>

      {revealed && (
        <SecretOnce
          heading={revealed.previousSecretUntil ? 'New signing secret. Store it now: it is not shown again.' : 'Endpoint added. Store its signing secret now: it is not shown again.'}
          label="Signing secret"
          secret={revealed.secret}
          onDismiss={onDismissSecret}
          testId="webhook-secret"
        >
          <p className="small">
            {revealed.previousSecretUntil && (
              <>
                The old secret keeps signing too until <strong data-testid="old-secret-until">{formatDateTime(revealed.previousSecretUntil)}</strong>: each message carries both signatures until then, so your receiver can switch without missing one.{' '}
              </>
            )}
            Verify each message per Standard Webhooks: the <code className="code">webhook-signature</code> header is an HMAC-SHA256 of the <code className="code">webhook-id</code>, <code className="code">webhook-timestamp</code> and body, keyed with this secret (the{' '}
            <code className="code">standardwebhooks</code> libraries do it in one call).
          </p>
        </SecretOnce>
      )}

      <div className="row-actions webhook-actions" aria-label={`Actions for ${e.url}`} role="group">
        <button type="button" className="btn small" onClick={() => void sendTest()} disabled={actions.busy !== null || !e.enabled} title={e.enabled ? undefined : 'Turn the endpoint on to send a test message'} data-testid="send-test">
          {actions.busy === 'test' ? <Spinner small /> : <Icon name="play" size={13} />} Send test message
        </button>
        <button type="button" className="btn small" aria-expanded={showLog} aria-controls={logId} onClick={() => setShowLog((s) => !s)} data-testid="toggle-log">
          <Icon name="list" size={13} /> {showLog ? 'Hide delivery log' : 'Delivery log'}
        </button>
        <button
          type="button"
          className="btn small"
          onClick={() => setConfirm('rotate')}
          disabled={actions.busy !== null || e.previousSecretUntil !== null}
          title={e.previousSecretUntil ? `The previous secret signs until ${formatDateTime(e.previousSecretUntil)}; rotate again after that` : undefined}
          data-testid="rotate-secret"
        >
          <Icon name="key" size={13} /> Rotate secret
        </button>
        <button type="button" className="btn small ghost danger-text" onClick={() => setConfirm('delete')} disabled={actions.busy !== null} data-testid="delete-endpoint">
          <Icon name="trash" size={13} /> Delete
        </button>
      </div>
      <FormError error={actions.errorOf('test')} testId="test-error" />
      <div aria-live="polite">
        {showLog && watch && (
          <p className="muted small" data-testid="log-waiting">
            Message {watch.messageId} is queued; its attempt appears below in a moment.
          </p>
        )}
        {showLog && !watch && stalled && (
          <p className="muted small" data-testid="log-stalled">
            Message {stalled} has not been tried yet: it is waiting in the queue (see Background jobs). Press Refresh to look again.
          </p>
        )}
      </div>
      {showLog && (
        <div id={logId}>
          <DeliveryLog
            endpointId={e.id}
            watch={watch}
            onWatch={(w) => {
              setStalled(null);
              setWatch(w);
            }}
            onSettled={(arrived) => {
              setStalled(arrived || !watch ? null : watch.messageId);
              setWatch(null);
              onStale();
            }}
            onRefresh={() => {
              setStalled(null);
              onStale();
            }}
          />
        </div>
      )}

      <ConfirmDialog
        open={confirm === 'rotate'}
        title="Rotate the signing secret?"
        confirmLabel="Rotate secret"
        icon="key"
        onClose={() => setConfirm(null)}
        onConfirm={async () => {
          const r = await api.post<WebhookRotated>(`/webhooks/${e.id}/rotate-secret`, {});
          onRotated(r);
          onStale();
        }}
        testId="rotate-dialog"
      >
        <p>
          <strong className="mono wrap">{e.url}</strong> gets a new signing secret, shown once. For 24 hours the current secret keeps signing as well (each message carries both signatures), so you can update the receiver without losing a message.
        </p>
      </ConfirmDialog>
      <ConfirmDialog
        open={confirm === 'delete'}
        title="Delete this endpoint?"
        confirmLabel="Delete endpoint"
        icon="trash"
        danger
        onClose={() => setConfirm(null)}
        onConfirm={async () => {
          await api.delete(`/webhooks/${e.id}`);
          onRemoved();
        }}
        testId="delete-dialog"
      >
        <p>
          Keydesk stops posting to <strong className="mono wrap">{e.url}</strong> at once; messages waiting to be retried are dropped, and so is its delivery log. Workflow rules that call it send nothing from then on.
        </p>
      </ConfirmDialog>
    </section>
  );
}

/* ---------- Delivery log ---------- */

const POLL_MS = 1000;
const POLL_TRIES = 20;

function DeliveryLog({
  endpointId,
  watch,
  onWatch,
  onSettled,
  onRefresh,
}: {
  endpointId: string;
  watch: { messageId: string; seen: number } | null;
  onWatch: (w: { messageId: string; seen: number }) => void;
  /** The wait is over: the attempt was logged (true), or the log stopped looking (false). */
  onSettled: (arrived: boolean) => void;
  onRefresh: () => void;
}) {
  const log = useApi<{ items: WebhookDelivery[] }>(`/webhooks/${endpointId}/deliveries?limit=50`);
  const actions = useActions();
  const items = log.data?.items ?? [];
  const [tries, setTries] = useState(0);

  // After a test or a redelivery, look again every second until its new attempt is logged.
  const attemptsOfWatched = watch ? items.filter((d) => d.messageId === watch.messageId).length : 0;
  const arrived = watch !== null && log.data !== undefined && attemptsOfWatched > watch.seen;
  useEffect(() => {
    if (!watch) {
      setTries(0);
      return;
    }
    if (arrived || tries >= POLL_TRIES) {
      onSettled(arrived);
      return;
    }
    if (log.loading) return;
    const timer = setTimeout(() => {
      setTries((n) => n + 1);
      log.reload();
    }, POLL_MS);
    return () => clearTimeout(timer);
    // onSettled and log.reload are left out on purpose: a new function each render would restart the wait.
  }, [watch, arrived, tries, log.loading]);

  /** The newest attempt of each message carries its Redeliver button. */
  const newest = new Set<string>();
  const firstOf = new Set<string>();
  for (const d of items) {
    if (!newest.has(d.messageId)) {
      newest.add(d.messageId);
      firstOf.add(d.id);
    }
  }

  const redeliver = (d: WebhookDelivery) =>
    actions.run(d.id, async () => {
      await api.post(`/webhooks/${endpointId}/deliveries/${encodeURIComponent(d.messageId)}/redeliver`, {});
      onWatch({ messageId: d.messageId, seen: items.filter((x) => x.messageId === d.messageId).length });
    });

  return (
    <div className="delivery-log" data-testid="delivery-log">
      <div className="prov-toolbar">
        <h5 className="h4">Delivery log</h5>
        <span className="muted small">Every attempt, newest first (the last 50).</span>
        <span className="spacer" />
        <RefreshButton
          onClick={() => {
            log.reload();
            onRefresh();
          }}
          loading={log.loading}
          testId="log-refresh"
        />
      </div>
      <ErrorNotice error={log.error} onRetry={log.reload} testId="log-error" />
      {!log.data ? (
        log.loading && <SkeletonRows rows={2} />
      ) : items.length === 0 ? (
        <p className="muted small empty-line">Nothing sent to this endpoint yet. Send a test message to see how the receiver answers.</p>
      ) : (
        <DataTable headers={['Time', 'Event', 'Attempt', 'Status', 'Duration', 'Error', <span className="sr-only">Actions</span>]} caption="Delivery attempts" className="activity-table delivery-table" testId="delivery-table">
          {items.map((d) => (
            <tr key={d.id} className={d.succeeded ? undefined : 'failed'} data-testid="delivery-row" data-message-id={d.messageId} data-event={d.eventType} data-succeeded={d.succeeded}>
              <td className="small nowrap cell-time">
                <time dateTime={d.createdAt} title={formatDateTime(d.createdAt)}>
                  {formatDateTime(d.createdAt)}
                </time>
              </td>
              <td className="cell-operation">
                <code className="mono small" data-testid="delivery-event">
                  {d.eventType}
                </code>
                <span className="mono muted small activity-path" title="webhook-id">
                  {d.messageId}
                </span>
              </td>
              <td data-label="Attempt" className="small" data-testid="delivery-attempt">
                <span className="mobile-label">Attempt </span>
                {d.attempt}
              </td>
              <td data-label="Status">
                <HttpStatus status={d.statusCode} testId="delivery-status" />
              </td>
              <td data-label="Duration" className="small nowrap muted">
                {d.durationMs === null ? '—' : `${d.durationMs} ms`}
              </td>
              <td data-label="Error" className="small cell-error">
                {d.error ? <span className="error-text" data-testid="delivery-error">{d.error}</span> : <span className="muted">—</span>}
              </td>
              <td className="cell-actions">
                {firstOf.has(d.id) && (
                  <>
                    <button type="button" className="btn small" onClick={() => void redeliver(d)} disabled={actions.busy !== null} aria-label={`Redeliver ${d.eventType} message ${d.messageId}`} data-testid="redeliver">
                      {actions.busy === d.id ? <Spinner small /> : <Icon name="upload" size={13} />} Redeliver
                    </button>
                    {actions.errorOf(d.id) !== undefined && (
                      <span className="error-text small block-line" role="alert" data-testid="redeliver-error">
                        {errorMessage(actions.errorOf(d.id))}
                      </span>
                    )}
                  </>
                )}
              </td>
            </tr>
          ))}
        </DataTable>
      )}
    </div>
  );
}
