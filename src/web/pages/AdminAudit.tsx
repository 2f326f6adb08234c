import { Fragment, useEffect, useState, type FormEvent } from 'react';
import { api, ApiError, fieldError, qs } from '../api';
import { AdminNav } from '../components/AdminNav';
import { Switch } from '../components/AdminParts';
import { PageHeader } from '../components/PageHeader';
import { EmptyState, ErrorNotice, ExportLinks, Field, FormError, Icon, Notice, PagedTable, RelativeTime, SkeletonRows, Spinner, Options } from '../components/ui';
import { formatDate, formatDateTime } from '../format';
import { useApi, useFilterParams, usePaged, useTask, useTitle } from '../hooks';
import { useSession } from '../session';
import type { AuditEntry, AuditSettings, AuditVerification, SyslogTestResult } from '../types';

/** The filters the list and the export share, as URL parameters (the page's address keeps them). */
const FILTERS = ['action', 'outcome', 'actor', 'q', 'reason', 'targetType', 'targetId', 'since', 'until'] as const;
type FilterName = (typeof FILTERS)[number];

const TARGET_TYPES = ['user', 'team', 'connection', 'role_rule', 'domain', 'scim_credential', 'scim_group', 'api_token', 'tenant', 'session', 'sla_policies'];

/** An ISO instant as the value of a datetime-local input (local time, to the minute), and back. */
function toLocalInput(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
function fromLocalInput(value: string): string {
  if (!value) return '';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

/** Tamper evidence: verifies the hash chain on demand (it reads the whole log) and says what it found. */
function ChainStatus() {
  const [result, setResult] = useState<AuditVerification | null>(null);
  const { busy, error, run } = useTask();
  const verify = () => run(async () => setResult(await api.get<AuditVerification>('/audit/verify')));
  const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;
  return (
    <div className="form-actions audit-chain" data-testid="audit-chain">
      {result?.ok ? (
        <span className="small" data-testid="audit-chain-ok">
          <Icon name="check" size={14} /> Chain verified: {plural(result.checked, 'event')}
          {result.lastCheckpoint ? (
            <>
              , last checkpoint at position {result.lastCheckpoint.chainSeq} <RelativeTime date={result.lastCheckpoint.signedAt} />
            </>
          ) : (
            ', no signed checkpoint yet'
          )}
          {result.unsealed ? ` (${plural(result.unsealed, 'newer event')} not sealed yet)` : ''}.
        </span>
      ) : result?.firstBroken ? (
        <span className="small error-text" role="alert" data-testid="audit-chain-broken">
          <Icon name="alert" size={14} /> Chain broken: {result.firstBroken.message}
        </span>
      ) : (
        <span className="muted small">Each event is chained to the one before by its hash, with signed checkpoints: verify that none was altered, removed or inserted.</span>
      )}
      <button type="button" className="btn small" disabled={busy} onClick={() => void verify()} data-testid="audit-chain-verify">
        {busy ? <Spinner small label="Verifying" /> : <Icon name="check" size={14} />} Verify
      </button>
      <ErrorNotice error={error} />
    </div>
  );
}

/** `/t/:tenant/admin/audit`: who did what, newest first; search, export, and where the log goes. */
export function AdminAudit() {
  const { session } = useSession();
  useTitle('Audit log', session.tenant.name);
  const [params, apply] = useFilterParams();
  const current = Object.fromEntries(FILTERS.map((k) => [k, params.get(k) ?? ''])) as Record<FilterName, string>;
  const [draft, setDraft] = useState(current);
  const [open, setOpen] = useState<number | null>(null);
  const actionValid = /^[a-z_.]*$/.test(draft.action.trim());
  const filterKey = FILTERS.map((k) => current[k]).join('\u0000');

  // The inputs follow the address (back, forward, a link with filters).
  useEffect(() => setDraft(current), [filterKey]); // eslint-disable-line react-hooks/exhaustive-deps

  const query = Object.fromEntries(FILTERS.map((k) => [k, current[k] || undefined]));
  const list = usePaged<AuditEntry>(`/audit${qs({ ...query, limit: 50 })}`);
  const active = FILTERS.some((k) => current[k]);

  const set = (k: FilterName, v: string) => setDraft((d) => ({ ...d, [k]: v }));
  const exportHref = (format: 'csv' | 'jsonl') => `/api/v1/audit/export${qs({ format, ...query })}`;

  return (
    <div className="page">
      <PageHeader title="Administration" />
      <AdminNav />
      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault();
          if (!actionValid) return;
          apply({
            action: draft.action.trim(),
            actor: draft.actor.trim(),
            q: draft.q.trim(),
            reason: draft.reason.trim(),
            targetType: draft.targetType,
            targetId: draft.targetId.trim(),
            since: draft.since,
            until: draft.until,
          });
        }}
      >
        <div className="field inline">
          <label htmlFor="audit-q">Search</label>
          <input id="audit-q" type="search" placeholder="actor, action, target, reason" maxLength={200} value={draft.q} onChange={(e) => set('q', e.target.value)} data-testid="audit-q" />
        </div>
        <div className="field inline">
          <label htmlFor="audit-action">Action</label>
          <input
            id="audit-action"
            placeholder="e.g. user.created"
            value={draft.action}
            onChange={(e) => set('action', e.target.value.toLowerCase())}
            aria-invalid={!actionValid || undefined}
            list="audit-actions"
            data-testid="audit-action"
          />
          <datalist id="audit-actions">
            {['signin', 'signout', 'user', 'user.created', 'user.updated', 'user.roles_changed', 'user.sessions_revoked', 'user.password_changed', 'user.totp_enabled', 'team', 'api_token', 'sla.policies_changed', 'tenant.created', 'signin.saml', 'signin.oidc', 'sso', 'sso.connection_created', 'sso.connection_updated', 'sso.connection_tested', 'sso.enforced', 'sso.role_rule_added', 'sso.domain_verified', 'scim', 'audit', 'audit.exported', 'audit.streaming_changed', 'audit.retention_changed'].map((a) => (
              <option key={a} value={a} />
            ))}
          </datalist>
        </div>
        <div className="field inline">
          <label htmlFor="audit-actor">Actor</label>
          <input id="audit-actor" placeholder="email or name" value={draft.actor} onChange={(e) => set('actor', e.target.value)} data-testid="audit-actor" />
        </div>
        <div className="field inline">
          <label htmlFor="audit-outcome">Outcome</label>
          <select id="audit-outcome" value={current.outcome} onChange={(e) => apply({ outcome: e.target.value })} data-testid="audit-outcome">
            <option value="">Any</option>
            <option value="success">Success</option>
            <option value="failure">Failure</option>
          </select>
        </div>
        <div className="field inline">
          <label htmlFor="audit-reason">Reason</label>
          <input id="audit-reason" placeholder="e.g. bad_password" maxLength={200} value={draft.reason} onChange={(e) => set('reason', e.target.value)} data-testid="audit-reason" />
        </div>
        <div className="field inline">
          <label htmlFor="audit-target-type">Target</label>
          <select id="audit-target-type" value={draft.targetType} onChange={(e) => set('targetType', e.target.value)} data-testid="audit-target-type">
            <Options empty="Any kind" options={[...new Set([...TARGET_TYPES, ...(draft.targetType ? [draft.targetType] : [])])].map((tt) => [tt, tt.replace(/_/g, ' ')])} />
          </select>
        </div>
        <div className="field inline">
          <label htmlFor="audit-target-id">Target id</label>
          <input id="audit-target-id" className="mono" placeholder="exact id" maxLength={200} value={draft.targetId} onChange={(e) => set('targetId', e.target.value)} data-testid="audit-target-id" />
        </div>
        <div className="field inline">
          <label htmlFor="audit-since">From</label>
          <input id="audit-since" type="datetime-local" value={draft.since ? toLocalInput(draft.since) : ''} onChange={(e) => set('since', fromLocalInput(e.target.value))} data-testid="audit-since" />
        </div>
        <div className="field inline">
          <label htmlFor="audit-until">Until</label>
          <input id="audit-until" type="datetime-local" value={draft.until ? toLocalInput(draft.until) : ''} onChange={(e) => set('until', fromLocalInput(e.target.value))} data-testid="audit-until" />
        </div>
        <button type="submit" className="btn" disabled={!actionValid}>
          <Icon name="search" size={14} /> Apply
        </button>
        {active && (
          <button type="button" className="btn ghost small" onClick={() => apply(Object.fromEntries(FILTERS.map((k) => [k, ''])))}>
            Clear
          </button>
        )}
      </form>
      {!actionValid && <p className="field-hint error-text">An action is written in lower case letters, dots and underscores, like user.created.</p>}

      <ExportLinks className="audit-export" testId="audit-export" label={active ? 'Export what these filters find, oldest first:' : 'Export the whole log, oldest first:'} href={exportHref} />

      <ChainStatus />

      <PagedTable
        list={list}
        rows={8}
        empty={
          <EmptyState title="No entries" icon="list">
            Nothing in the audit log matches these filters.
          </EmptyState>
        }
        className="audit-table"
        testId="audit-table"
        headers={['When', 'Actor', 'Action', 'Outcome', 'Target', 'IP', <span className="sr-only">Details</span>]}
      >
        {(e) => (
          <Fragment key={e.id}>
            <tr data-testid="audit-row">
              <td className="nowrap small">{formatDateTime(e.occurredAt)}</td>
              <td data-label="Actor" className="small">
                {e.actorLabel}
              </td>
              <td data-label="Action">
                <code className="code">{e.action}</code>
              </td>
              <td data-label="Outcome">
                <span className={`badge tone-${e.outcome === 'success' ? 'green' : 'red'}`}>
                  <span className="badge-dot" aria-hidden="true" />
                  {e.outcome === 'success' ? 'Success' : 'Failure'}
                </span>
                {e.reason && <span className="muted small"> {e.reason.replace(/_/g, ' ')}</span>}
              </td>
              <td data-label="Target" className="small">
                {e.targetType ? (
                  <>
                    <span className="muted">{e.targetType.replace(/_/g, ' ')}</span>{' '}
                    {e.targetLabel ? <span data-testid="audit-target">{e.targetLabel}</span> : <span className="muted mono">{e.targetId?.slice(0, 8)}</span>}
                    {e.targetId && (current.targetType !== e.targetType || current.targetId !== e.targetId) && (
                      <button
                        type="button"
                        className="btn small ghost"
                        title="Show only what happened to this target"
                        onClick={() => apply({ targetType: e.targetType ?? '', targetId: e.targetId ?? '' })}
                        data-testid="audit-only-target"
                      >
                        <Icon name="search" size={12} />
                        <span className="sr-only">Only this target</span>
                      </button>
                    )}
                  </>
                ) : (
                  <span className="muted">—</span>
                )}
              </td>
              <td data-label="IP" className="small mono">
                {e.ip ?? '—'}
              </td>
              <td className="cell-actions">
                {Object.keys(e.details).length > 0 && (
                  <button type="button" className="btn small ghost" aria-expanded={open === e.id} onClick={() => setOpen(open === e.id ? null : e.id)}>
                    {open === e.id ? 'Hide' : 'Details'}
                  </button>
                )}
              </td>
            </tr>
            {open === e.id && (
              <tr className="details-row">
                <td colSpan={7}>
                  <pre className="json">{JSON.stringify(e.details, null, 2)}</pre>
                </td>
              </tr>
            )}
          </Fragment>
        )}
      </PagedTable>
      <StreamingAndRetention />
    </div>
  );
}

/* ---------- Streaming and retention ---------- */

function StreamingAndRetention() {
  const state = useApi<AuditSettings>('/audit/settings');
  const s = state.data;
  return (
    <section className="sso-section audit-settings" aria-labelledby="audit-streaming-h" data-testid="audit-settings">
      <div className="section-head">
        <div>
          <h2 id="audit-streaming-h" className="h2">
            Streaming and retention
          </h2>
          <p className="muted">Send every event to your SIEM as it happens (Splunk, Microsoft Sentinel, Elastic, QRadar…), and decide how long Keydesk keeps the log.</p>
        </div>
      </div>
      <ErrorNotice error={state.error} onRetry={state.reload} />
      {!s ? (
        state.loading && (
          <div className="card">
            <SkeletonRows rows={3} />
          </div>
        )
      ) : (
        <div className="stack-lg">
          <SyslogCard settings={s} onSaved={state.setData} onRefresh={state.reload} />
          <RetentionCard settings={s} onSaved={state.setData} />
        </div>
      )}
    </section>
  );
}

const SYSLOG_FIELDS = ['syslog.host', 'syslog.port', 'syslog.servername', 'syslog.caCertificate'];

function SyslogCard({ settings, onSaved, onRefresh }: { settings: AuditSettings; onSaved: (s: AuditSettings) => void; onRefresh: () => void }) {
  const sys = settings.syslog;
  const [host, setHost] = useState(sys.host ?? '');
  const [port, setPort] = useState(String(sys.port));
  const [servername, setServername] = useState(sys.servername ?? '');
  const [ca, setCa] = useState(sys.caCertificate ?? '');
  const [busy, setBusy] = useState<'save' | 'toggle' | 'test' | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  const [test, setTest] = useState<SyslogTestResult | null>(null);

  const dirty = host.trim() !== (sys.host ?? '') || port !== String(sys.port) || servername.trim() !== (sys.servername ?? '') || ca.trim() !== (sys.caCertificate ?? '').trim();
  const portValid = /^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535;

  const patch = async (body: Record<string, unknown>, what: 'save' | 'toggle') => {
    setBusy(what);
    setError(null);
    setSaved(false);
    try {
      const next = await api.patch<AuditSettings>('/audit/settings', { syslog: body });
      onSaved(next);
      setHost(next.syslog.host ?? '');
      setPort(String(next.syslog.port));
      setServername(next.syslog.servername ?? '');
      setCa(next.syslog.caCertificate ?? '');
      if (what === 'save') setSaved(true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  };

  const save = (e: FormEvent) => {
    e.preventDefault();
    if (!host.trim() || !portValid || busy) return;
    void patch({ host: host.trim(), port: Number(port), servername: servername.trim() || null, caCertificate: ca.trim() || null }, 'save');
  };

  const sendTest = async () => {
    setBusy('test');
    setError(null);
    setTest(null);
    try {
      setTest(await api.post<SyslogTestResult>('/audit/settings/syslog/test'));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  };

  const failing = sys.lastErrorAt !== null && (sys.lastDeliveredAt === null || new Date(sys.lastErrorAt) > new Date(sys.lastDeliveredAt));

  return (
    <div className={sys.enabled ? 'card enforce-card on' : 'card'} data-testid="syslog-card">
      <h3 className="h3">Syslog to a SIEM</h3>
      <p className="muted small">
        RFC 5424 messages over TLS (RFC 5425), in order, each event at least once. Keydesk connects to your collector, checks its certificate, and never sends in clear text.
      </p>
      <form className="stack" onSubmit={save} noValidate aria-busy={busy === 'save'}>
        <div className="grid-2">
          <Field label="Host" hint="The collector's DNS name or IP address" error={fieldError(error, 'syslog.host', 'Host')}>
            {(id, d) => <input id={id} aria-describedby={d} maxLength={253} placeholder="siem.example.com" value={host} onChange={(e) => setHost(e.target.value)} data-testid="syslog-host" />}
          </Field>
          <Field label="Port" hint="6514 is the port for syslog over TLS" error={!portValid ? 'Port is a number from 1 to 65535.' : fieldError(error, 'syslog.port', 'Port')}>
            {(id, d) => <input id={id} aria-describedby={d} inputMode="numeric" value={port} onChange={(e) => setPort(e.target.value.trim())} data-testid="syslog-port" />}
          </Field>
        </div>
        <Field
          label={
            <>
              TLS server name <span className="muted">(optional)</span>
            </>
          }
          hint="The name in the collector's certificate, when you connect by IP address or another name"
          error={fieldError(error, 'syslog.servername', 'TLS server name')}
        >
          {(id, d) => <input id={id} aria-describedby={d} maxLength={253} placeholder="the host" value={servername} onChange={(e) => setServername(e.target.value)} data-testid="syslog-servername" />}
        </Field>
        <Field
          label={
            <>
              CA certificate <span className="muted">(optional)</span>
            </>
          }
          hint="Paste the PEM certificate of your private CA if the collector's certificate is not from a public one. Never a private key."
          error={fieldError(error, 'syslog.caCertificate', 'CA certificate')}
        >
          {(id, d) => (
            <textarea id={id} aria-describedby={d} className="mono" rows={4} placeholder="-----BEGIN CERTIFICATE-----" value={ca} onChange={(e) => setCa(e.target.value)} data-testid="syslog-ca" />
          )}
        </Field>
        {sys.caCertificates.length > 0 && (
          <ul className="muted small" data-testid="syslog-ca-list">
            {sys.caCertificates.map((c) => (
              <li key={c.sha256}>
                Trusting {c.subject}, until {formatDate(c.notAfter)}
              </li>
            ))}
          </ul>
        )}
        <div className="form-actions">
          <button type="submit" className="btn primary" disabled={!dirty || !host.trim() || !portValid || busy !== null} data-testid="syslog-save">
            {busy === 'save' && <Spinner small />} Save
          </button>
          <button type="button" className="btn" disabled={!sys.host || dirty || busy !== null} onClick={() => void sendTest()} title={dirty ? 'Save first' : undefined} data-testid="syslog-test">
            {busy === 'test' ? <Spinner small /> : <Icon name="play" size={14} />} Send test message
          </button>
          {saved && !dirty && <SavedNote />}
        </div>
      </form>

      <div aria-live="polite">
        {test && (
          <Notice tone={test.ok ? 'success' : 'warning'} testId="syslog-test-result">
            {test.message}
          </Notice>
        )}
      </div>
      {/* A field's own error is said under the field; anything else here. */}
      <FormError error={error instanceof ApiError && error.errors.some((f) => SYSLOG_FIELDS.includes(f.field)) ? null : error} testId="syslog-error" />

      <Switch
        className="audit-stream-toggle"
        checked={sys.enabled}
        disabled={!sys.host || dirty || busy !== null}
        dimmed={!sys.host}
        busy={busy === 'toggle'}
        onChange={(on) => void patch({ enabled: on }, 'toggle')}
        label="Stream the audit log"
        hint={
          !sys.host
            ? 'Save a host first.'
            : sys.enabled
              ? `On: every event goes to ${sys.host}:${sys.port}, a few seconds after it happens.`
              : sys.lastDeliveredId === null
                ? 'Off. Turned on, it starts with the newest events; export the log for what came before.'
                : 'Off. Turned on again, it carries on where it stopped.'
        }
        hintId="syslog-state"
        hintTestId="syslog-state"
        testId="syslog-toggle"
      />

      {(sys.lastDeliveredId !== null || sys.lastError) && (
        <dl className="sp-values audit-stream-state" data-testid="syslog-status">
          <div className="sp-value">
            <dt>Last delivered</dt>
            <dd>
              {sys.lastDeliveredAt ? (
                <span>
                  event #{sys.lastDeliveredId}, <RelativeTime date={sys.lastDeliveredAt} />
                </span>
              ) : (
                <span className="muted">nothing yet{sys.lastDeliveredId !== null ? ` (starting after event #${sys.lastDeliveredId})` : ''}</span>
              )}
              {sys.enabled && (
                <span className="muted small" data-testid="syslog-pending">
                  {' '}
                  · {sys.pending === 0 ? 'up to date' : `${sys.pending > 10000 ? 'over 10,000' : sys.pending} waiting`}
                </span>
              )}
              <button type="button" className="btn small ghost" onClick={onRefresh}>
                Refresh
              </button>
            </dd>
          </div>
          {sys.lastError && (
            <div className="sp-value">
              <dt>Last error</dt>
              <dd>
                <span className={failing ? 'error-text' : 'muted'} data-testid="syslog-last-error">
                  {sys.lastError} <span className="small">({formatDateTime(sys.lastErrorAt)})</span>
                </span>
              </dd>
            </div>
          )}
        </dl>
      )}
    </div>
  );
}

function RetentionCard({ settings, onSaved }: { settings: AuditSettings; onSaved: (s: AuditSettings) => void }) {
  const [forever, setForever] = useState(settings.retentionDays === null);
  const [days, setDays] = useState(String(settings.retentionDays ?? 365));
  const { busy, error, run } = useTask();
  const [saved, setSaved] = useState(false);
  const n = Number(days);
  const valid = forever || (/^\d+$/.test(days) && n >= 30 && n <= 36500);
  const value = forever ? null : n;
  const dirty = value !== settings.retentionDays;

  const save = async (e: FormEvent) => {
    e.preventDefault();
    if (!valid || !dirty || busy) return;
    setSaved(false);
    await run(async () => {
      onSaved(await api.patch<AuditSettings>('/audit/settings', { retentionDays: value }));
      setSaved(true);
    });
  };

  return (
    <div className="card" data-testid="retention-card">
      <h3 className="h3">Retention</h3>
      <form className="stack" onSubmit={save} noValidate>
        <div className="checks" role="radiogroup" aria-label="How long events are kept">
          <label className="check">
            <input type="radio" name="retention" checked={forever} onChange={() => setForever(true)} data-testid="retention-forever" />
            <span>
              <strong>Keep every event</strong>
              <span className="muted small">Nothing is ever deleted from the log.</span>
            </span>
          </label>
          <label className="check">
            <input type="radio" name="retention" checked={!forever} onChange={() => setForever(false)} data-testid="retention-limited" />
            <span>
              <strong>Delete events after a number of days</strong>
              <span className="muted small">Events not yet delivered to a SIEM that is turned on are kept until they are.</span>
            </span>
          </label>
        </div>
        {!forever && (
          <Field label="Days kept" hint="At least 30 days" error={valid ? fieldError(error, 'retentionDays', 'Days kept') : 'Days kept is a whole number from 30 to 36500.'}>
            {(id, d) => (
              <input id={id} aria-describedby={d} className="retention-days" inputMode="numeric" value={days} onChange={(e) => setDays(e.target.value.trim())} aria-invalid={!valid || undefined} data-testid="retention-days" />
            )}
          </Field>
        )}
        <p className="muted small">Every change of this setting, and every deletion it makes, is recorded in this log.</p>
        <FormError error={error} testId="retention-error" />
        <div className="form-actions">
          <button type="submit" className="btn primary" disabled={!valid || !dirty || busy} data-testid="retention-save">
            {busy && <Spinner small />} Save
          </button>
          {saved && !dirty && <SavedNote />}
        </div>
      </form>
    </div>
  );
}

/** Said beside a settings form's Save button once what it saved is what the form shows. */
function SavedNote() {
  return (
    <span className="muted small" role="status">
      <Icon name="check" size={14} /> Saved
    </span>
  );
}
