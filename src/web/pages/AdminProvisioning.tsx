import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { api, ApiError, qs } from '../api';
import { AdminNav } from '../components/AdminNav';
import { PageHeader } from '../components/PageHeader';
import { DataTable, Section, SectionEmpty, Switch } from '../components/AdminParts';
import { CopyableValue, CopyButton, Dialog, ErrorNotice, Field, FormError, Icon, Notice, Options, RelativeTime, SkeletonRows, Spinner, FormActions, Table } from '../components/ui';
import { certificateUrgency, formatDate, formatDateTime } from '../format';
import { useApi, usePaged, useTitle } from '../hooks';
import { useSession } from '../session';
import type { Provisioning, ScimActivity, ScimCredential, ScimCredentialKind, ScimCredentialSecret } from '../types';

const DAY_MS = 86_400_000;
const ACTIVITY_PAGE = 50;

/** A secret's lifetime choices, as [days, label]. */
const LIFETIMES: [string, string][] = [
  ['30', '30 days'],
  ['90', '90 days'],
  ['180', '6 months'],
  ['365', '1 year'],
  ['730', '2 years'],
];
const DEFAULT_LIFETIME = '365';

/** Words for the two kinds of credential. */
const KINDS: Record<ScimCredentialKind, { title: string; plural: string; one: string; create: string; placeholder: string }> = {
  token: { title: 'Secret tokens', plural: 'secret tokens', one: 'token', create: 'Generate token', placeholder: 'e.g. Entra ID production' },
  client: { title: 'OAuth clients', plural: 'OAuth clients', one: 'client', create: 'Create client', placeholder: 'e.g. Entra gallery app' },
};

const NUMBER_WORDS = ['no', 'one', 'two', 'three', 'four', 'five'];
const count = (n: number) => NUMBER_WORDS[n] ?? String(n);

/** `/t/:tenant/admin/provisioning`: the SCIM Tenant URL, the credentials an identity provider uses, and what it did. */
export function AdminProvisioning() {
  const { session } = useSession();
  useTitle('Provisioning', session.tenant.name);
  const info = useApi<Provisioning>('/provisioning');
  const p = info.data;

  const put = (c: ScimCredential) =>
    info.setData((prev) => {
      const list = prev?.credentials ?? [];
      const credentials = list.some((x) => x.id === c.id) ? list.map((x) => (x.id === c.id ? c : x)) : [...list, c];
      return { ...prev!, credentials };
    });
  const drop = (id: string) => info.setData((prev) => ({ ...prev!, credentials: (prev?.credentials ?? []).filter((x) => x.id !== id) }));

  return (
    <div className="page">
      <PageHeader title="Administration" />
      <AdminNav />
      <div className="subhead">
        <h2 className="h2">Provisioning</h2>
        <p className="muted">
          Let Microsoft Entra ID or Okta create, update and deactivate people and groups in Keydesk for you (SCIM 2.0). Give your identity provider the Tenant URL and a secret token; everything it does appears under Activity below.
        </p>
      </div>
      <ErrorNotice error={info.error} onRetry={info.reload} />
      {!p ? (
        info.loading && (
          <div className="card">
            <SkeletonRows rows={3} />
          </div>
        )
      ) : (
        <>
          <Endpoints provisioning={p} />
          {(['token', 'client'] as const).map((kind) => (
            <Credentials
              key={kind}
              kind={kind}
              items={p.credentials.filter((c) => c.kind === kind)}
              max={p.maxPerKind}
              tokenEndpoint={p.tokenEndpoint}
              onChanged={put}
              onRemoved={drop}
              onStale={info.reload}
            />
          ))}
        </>
      )}
      {/* Refreshing the activity also refreshes "Last used" and the states above. */}
      <Activity onRefresh={info.reload} />
    </div>
  );
}


/* ---------- Tenant URL and token endpoint ---------- */

function Endpoints({ provisioning: p }: { provisioning: Provisioning }) {
  return (
    <Section
      id="prov-url"
      title="Connect your identity provider"
      description={
        <>
          Paste the Tenant URL into Entra: Enterprise applications › your app › Provisioning › Admin Credentials › <strong>Tenant URL</strong>. In Okta it is the <strong>SCIM connector base URL</strong>. It never changes, also not when you renew or replace tokens.
        </>
      }
    >
      <div className="card">
        <dl className="sp-values prov-values">
          <CopyableValue term="Tenant URL" value={p.tenantUrl} testId="tenant-url" copyTestId="copy-tenant-url" copyTitle="Copy the Tenant URL" />
          <CopyableValue
            term={
              <>
                Token endpoint <span className="muted">(only for OAuth clients)</span>
              </>
            }
            value={p.tokenEndpoint}
            testId="token-endpoint"
            copyTestId="copy-token-endpoint"
            copyTitle="Copy the token endpoint"
          />
        </dl>
        <p className="muted small">
          With a secret token, the identity provider sends it on every request; in Okta choose the authentication mode <strong>HTTP Header</strong> and paste the token there. With an OAuth client, it trades the client ID and secret at the token endpoint for an access token that lasts an hour.
        </p>
      </div>
    </Section>
  );
}

/* ---------- Secret tokens and OAuth clients ---------- */

interface Revealed {
  credential: ScimCredential;
  secret: string;
  renewed: boolean;
}

function Credentials({
  kind,
  items,
  max,
  tokenEndpoint,
  onChanged,
  onRemoved,
  onStale,
}: {
  kind: ScimCredentialKind;
  items: ScimCredential[];
  max: number;
  tokenEndpoint: string;
  onChanged: (c: ScimCredential) => void;
  onRemoved: (id: string) => void;
  onStale: () => void;
}) {
  const words = KINDS[kind];
  const fullHintId = useId();
  const [name, setName] = useState('');
  const [days, setDays] = useState(DEFAULT_LIFETIME);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [revealed, setRevealed] = useState<Revealed | null>(null);
  const [renewing, setRenewing] = useState<ScimCredential | null>(null);
  const [removing, setRemoving] = useState<ScimCredential | null>(null);
  const [flash, setFlash] = useState<string | null>(null);
  const full = items.length >= max;

  const create = async (e: FormEvent) => {
    e.preventDefault();
    if (full || busy) return;
    setBusy('create');
    setError(null);
    setFlash(null);
    try {
      const res = await api.post<ScimCredentialSecret>('/provisioning/credentials', { kind, ...(name.trim() ? { name: name.trim() } : {}), expiresInDays: Number(days) });
      onChanged(res.credential);
      setRevealed({ ...res, renewed: false });
      setName('');
    } catch (err) {
      // Someone else generated one meanwhile: the list as it is now says so, in the limit hint.
      if (err instanceof ApiError && err.code === 'credential_limit') onStale();
      else setError(err);
    } finally {
      setBusy(null);
    }
  };

  const setActive = async (c: ScimCredential, active: boolean) => {
    setBusy(c.id);
    setError(null);
    setFlash(null);
    try {
      onChanged(await api.patch<ScimCredential>(`/provisioning/credentials/${c.id}`, { active }));
    } catch (err) {
      setError(err);
      if (err instanceof ApiError && err.status === 404) onStale();
    } finally {
      setBusy(null);
    }
  };

  return (
    <Section
      id={`prov-${kind}`}
      title={words.title}
      description={
        kind === 'token' ? (
          <>
            What Entra calls the <strong>Secret Token</strong> (Provisioning › Admin Credentials). You can have at most {count(max)}, so you can rotate without downtime: generate the second, paste it into the identity provider, then remove the first.
          </>
        ) : (
          <>Only if your identity provider asks for a client ID and client secret (OAuth 2.0 client credentials) instead of a token. At most {count(max)}, to rotate without downtime.</>
        )
      }
      testId={`${kind}-section`}
    >
      <div className="card">
        <form className="inline-create prov-create" onSubmit={create} noValidate>
          <Field label={<>Name <span className="muted">(optional)</span></>}>
            {(id) => <input id={id} maxLength={100} placeholder={words.placeholder} value={name} disabled={full} onChange={(e) => setName(e.target.value)} data-testid={`${kind}-name`} />}
          </Field>
          <Field label="Valid for">
            {(id) => (
              <select id={id} value={days} disabled={full} onChange={(e) => setDays(e.target.value)} data-testid={`${kind}-lifetime`}>
                <Options options={LIFETIMES} />
              </select>
            )}
          </Field>
          <button type="submit" className="btn primary" disabled={full || busy !== null} aria-describedby={full ? fullHintId : undefined} data-testid={`${kind}-create`}>
            {busy === 'create' ? <Spinner small /> : <Icon name={kind === 'token' ? 'key' : 'plus'} size={16} />} {words.create}
          </button>
          {full && (
            <p id={fullHintId} className="field-hint prov-full" data-testid={`${kind}-limit`}>
              <Icon name="info" size={14} /> There are already {count(items.length)} {words.plural}, the most a workspace can have. Remove one, or renew it to get a new secret.
            </p>
          )}
          <FormError error={error} testId={`${kind}-error`} />
        </form>

        <div aria-live="polite">
          {flash && (
            <Notice tone="success" testId={`${kind}-flash`}>
              {flash}
            </Notice>
          )}
        </div>
        {revealed && <SecretReveal kind={kind} revealed={revealed} tokenEndpoint={tokenEndpoint} onDismiss={() => setRevealed(null)} />}

        {items.length === 0 ? (
          <div className="prov-empty">
            <SectionEmpty title={kind === 'token' ? 'No secret tokens yet' : 'No OAuth clients'} icon="key">
              {kind === 'token'
                ? 'Generate one, then paste it into your identity provider together with the Tenant URL and press Test Connection.'
                : 'Most setups need none: a secret token is enough for Entra and Okta.'}
            </SectionEmpty>
          </div>
        ) : (
          <DataTable className="cred-table" testId={`${kind}-table`} headers={['Name', ...(kind === 'client' ? ['Client ID'] : []), 'State', 'Created', 'Last used', 'Expires', <span className="sr-only">Actions</span>]}>
            {items.map((c) => (
              <CredentialRow
                key={c.id}
                credential={c}
                busy={busy}
                onActive={(active) => void setActive(c, active)}
                onRenew={() => setRenewing(c)}
                onRemove={() => setRemoving(c)}
              />
            ))}
          </DataTable>
        )}
      </div>

      <Dialog open={renewing !== null} onClose={() => setRenewing(null)} title={kind === 'token' ? 'Renew the secret token?' : 'Renew the client secret?'} testId={`${kind}-renew-dialog`}>
        {renewing && (
          <RenewCredential
            credential={renewing}
            onRenewed={(res) => {
              setRenewing(null);
              setFlash(null);
              onChanged(res.credential);
              setRevealed({ ...res, renewed: true });
            }}
            onCancel={() => setRenewing(null)}
            onStale={onStale}
          />
        )}
      </Dialog>
      <Dialog open={removing !== null} onClose={() => setRemoving(null)} title={`Remove this ${words.one}?`} testId={`${kind}-remove-dialog`}>
        {removing && (
          <RemoveCredential
            credential={removing}
            onRemoved={() => {
              const gone = removing;
              setRemoving(null);
              onRemoved(gone.id);
              if (revealed?.credential.id === gone.id) setRevealed(null);
              setFlash(`“${gone.name}” (…${gone.hint}) has been removed.`);
            }}
            onCancel={() => setRemoving(null)}
            onStale={onStale}
          />
        )}
      </Dialog>
    </Section>
  );
}

function StateBadge({ state }: { state: ScimCredential['state'] }) {
  const look = { active: { tone: 'green', label: 'Active' }, inactive: { tone: 'gray', label: 'Inactive' }, expired: { tone: 'red', label: 'Expired' } }[state];
  return (
    <span className={`badge tone-${look.tone}`} data-testid="credential-state" data-state={state}>
      <span className="badge-dot" aria-hidden="true" />
      {look.label}
    </span>
  );
}

/** The expiry date, as a warning when it is 30 days away or less. */
function Expiry({ credential: c }: { credential: ScimCredential }) {
  if (!c.expiresAt) return <span className="muted">Never</span>;
  const daysLeft = Math.floor((new Date(c.expiresAt).getTime() - Date.now()) / DAY_MS);
  const urgency = c.state === 'expired' ? { tone: 'red' as const, label: 'Expired' } : certificateUrgency(daysLeft);
  if (!urgency) {
    return (
      <span title={formatDateTime(c.expiresAt)} data-testid="credential-expiry">
        {formatDate(c.expiresAt)}
      </span>
    );
  }
  return (
    <span className="prov-expiry" data-testid="credential-expiry" data-urgency={urgency.tone}>
      <span className={`badge tone-${urgency.tone}`}>
        <Icon name="alert" size={12} /> {urgency.label}
      </span>
      <span className="muted small" title={formatDateTime(c.expiresAt)}>
        {formatDate(c.expiresAt)}
      </span>
    </span>
  );
}

function CredentialRow({
  credential: c,
  busy,
  onActive,
  onRenew,
  onRemove,
}: {
  credential: ScimCredential;
  busy: string | null;
  onActive: (active: boolean) => void;
  onRenew: () => void;
  onRemove: () => void;
}) {
  const nameId = `cred-${c.id}`;
  const soon = c.state === 'expired' || (c.expiresAt !== null && new Date(c.expiresAt).getTime() - Date.now() <= 30 * DAY_MS);
  return (
    <tr className={soon ? 'expiring' : undefined} data-testid="credential-row" data-id={c.id} data-name={c.name} data-state={c.state}>
      <td className="cell-cred">
        <strong id={nameId} className="cred-name">
          {c.name}
        </strong>
        <span className="mono muted small cred-hint" title="The last four characters of the secret, to tell which one your identity provider holds" data-testid="credential-hint">
          <span className="sr-only">Secret ending in </span>…{c.hint}
        </span>
      </td>
      {c.kind === 'client' && (
        <td data-label="Client ID" className="cell-client">
          <span className="client-id">
            <code className="mono small nowrap" data-testid="credential-client-id">
              {c.clientId}
            </code>
            <CopyButton text={c.clientId ?? ''} label="Copy" title="Copy the client ID" testId="copy-client-id" />
          </span>
        </td>
      )}
      <td data-label="State">
        <StateBadge state={c.state} />
      </td>
      <td data-label="Created" className="small cell-created">
        <span className="mobile-label">Created </span>
        <RelativeTime date={c.createdAt} /> <span className="muted">by {c.createdBy}</span>
        {c.renewedAt && (
          <span className="muted block-line">
            renewed <RelativeTime date={c.renewedAt} />
          </span>
        )}
      </td>
      <td data-label="Last used" className="small nowrap" data-testid="credential-last-used">
        <span className="mobile-label">Last used </span>
        {c.lastUsedAt ? <RelativeTime date={c.lastUsedAt} /> : <span className="muted">Never</span>}
      </td>
      <td data-label="Expires" className="small nowrap">
        <span className="mobile-label">Expires </span>
        <Expiry credential={c} />
      </td>
      <td className="cell-actions">
        <div className="row-actions">
          {c.state !== 'expired' && (
            <button type="button" className="btn small" onClick={() => onActive(c.state !== 'active')} disabled={busy !== null} aria-describedby={nameId} data-testid="credential-toggle">
              {busy === c.id ? <Spinner small /> : <Icon name={c.state === 'active' ? 'pause' : 'play'} size={13} />} {c.state === 'active' ? 'Set inactive' : 'Set active'}
            </button>
          )}
          <button type="button" className={c.state === 'expired' ? 'btn small primary' : 'btn small'} onClick={onRenew} disabled={busy !== null} aria-describedby={nameId} data-testid="credential-renew">
            <Icon name="key" size={13} /> Renew
          </button>
          <button type="button" className="btn small ghost danger-text" onClick={onRemove} disabled={busy !== null} aria-describedby={nameId} data-testid="credential-remove">
            <Icon name="trash" size={13} /> Remove
          </button>
        </div>
      </td>
    </tr>
  );
}

/** The secret, shown once after generating or renewing, with what to paste where. */
function SecretReveal({ kind, revealed: r, tokenEndpoint, onDismiss }: { kind: ScimCredentialKind; revealed: Revealed; tokenEndpoint: string; onDismiss: () => void }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => ref.current?.focus(), [r]);
  const what = kind === 'token' ? 'secret token' : 'client secret';
  return (
    <div ref={ref} className="token-created prov-reveal" role="status" tabIndex={-1} aria-labelledby={`reveal-${kind}-h`} data-testid={`${kind}-reveal`}>
      <p id={`reveal-${kind}-h`}>
        <strong>
          {r.renewed ? `New ${what} for “${r.credential.name}”.` : `“${r.credential.name}” is ready.`} Copy the {what} now: it will not be shown again.
        </strong>{' '}
        {r.renewed && <>The old one has stopped working. </>}
        {kind === 'token'
          ? 'Paste it into Entra › Provisioning › Admin Credentials › Secret Token (in Okta: the HTTP header token), then press Test Connection.'
          : 'Give your identity provider the client ID, this secret and the token endpoint.'}
      </p>
      <dl className="sp-values prov-values">
        {kind === 'client' && <CopyableValue term="Client ID" value={r.credential.clientId ?? ''} testId="revealed-client-id" copyTitle="Copy the client ID" />}
        <CopyableValue term={kind === 'token' ? 'Secret token' : 'Client secret'} value={r.secret} testId="revealed-secret" copyTestId="copy-secret" copyTitle={`Copy the ${what}`} />
        {kind === 'client' && <CopyableValue term="Token endpoint" value={tokenEndpoint} copyTitle="Copy the token endpoint" />}
      </dl>
      <button type="button" className="btn small" onClick={onDismiss} data-testid={`${kind}-reveal-dismiss`}>
        <Icon name="check" size={14} /> I have copied it
      </button>
    </div>
  );
}

function RenewCredential({ credential: c, onRenewed, onCancel, onStale }: { credential: ScimCredential; onRenewed: (r: ScimCredentialSecret) => void; onCancel: () => void; onStale: () => void }) {
  const [days, setDays] = useState(DEFAULT_LIFETIME);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const renew = async () => {
    setBusy(true);
    setError(null);
    try {
      onRenewed(await api.post<ScimCredentialSecret>(`/provisioning/credentials/${c.id}/renew`, { expiresInDays: Number(days) }));
    } catch (err) {
      setError(err);
      setBusy(false);
      if (err instanceof ApiError && err.status === 404) onStale();
    }
  };
  return (
    <div className="stack">
      <p>
        <strong>{c.name}</strong> (secret ending in <code className="code">{c.hint}</code>) gets a new secret. <strong>The current secret stops working at once</strong>: provisioning fails until you paste the new one into your identity provider.
      </p>
      <p className="muted small">To switch without a gap, generate a second one instead, paste it in, then remove this one.</p>
      <Field label="New secret valid for">
        {(id) => (
          <select id={id} value={days} onChange={(e) => setDays(e.target.value)} data-testid="renew-lifetime">
            <Options options={LIFETIMES} />
          </select>
        )}
      </Field>
      <FormError error={error} testId="renew-error" />
      <FormActions onCancel={onCancel}>
        <button type="button" className="btn primary" onClick={() => void renew()} disabled={busy} autoFocus data-testid="confirm-renew">
          {busy ? <Spinner small /> : <Icon name="key" size={15} />} Renew secret
        </button>
      </FormActions>
    </div>
  );
}

function RemoveCredential({ credential: c, onRemoved, onCancel, onStale }: { credential: ScimCredential; onRemoved: () => void; onCancel: () => void; onStale: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const remove = async () => {
    setBusy(true);
    setError(null);
    try {
      await api.delete(`/provisioning/credentials/${c.id}`);
      onRemoved();
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        // Already gone.
        onStale();
        onRemoved();
        return;
      }
      setError(err);
      setBusy(false);
    }
  };
  return (
    <div className="stack">
      <p>
        An identity provider still using <strong>{c.name}</strong> (secret ending in <code className="code">{c.hint}</code>) can no longer provision: its requests are refused from now on. People and groups already in Keydesk stay.
      </p>
      <FormError error={error} testId="remove-error" />
      <FormActions onCancel={onCancel}>
        <button type="button" className="btn danger" onClick={() => void remove()} disabled={busy} autoFocus data-testid="confirm-remove">
          {busy ? <Spinner small /> : <Icon name="trash" size={15} />} Remove
        </button>
      </FormActions>
    </div>
  );
}

/* ---------- Activity ---------- */

const REASONS: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No content',
  400: 'Bad request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  409: 'Conflict',
  412: 'Changed meanwhile',
  413: 'Too large',
  415: 'Wrong content type',
  429: 'Too many requests',
  500: 'Server error',
  503: 'Unavailable',
};

const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** The request path without the Tenant URL in front, decoded so that filters read as written. */
function shortPath(path: string): string {
  const rest = path.replace(/^\/t\/[^/]+\/scim\/v2/, '').replace(/^\/t\/[^/]+(?=\/oauth\/)/, '') || '/';
  try {
    return decodeURIComponent(rest.replace(/\+/g, ' '));
  } catch {
    return rest;
  }
}

function shortId(id: string): string {
  return id.length > 14 ? `${id.slice(0, 8)}…${id.slice(-4)}` : id;
}

function formatMs(ms: number): string {
  return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
}

function Activity({ onRefresh }: { onRefresh: () => void }) {
  const [failures, setFailures] = useState(false);
  const list = usePaged<ScimActivity>(`/provisioning/activity${qs({ limit: ACTIVITY_PAGE, failures: failures || undefined })}`);
  const { items, error, loading, loadingMore } = list;
  // Until the first page has arrived there is nothing to show but a skeleton.
  const loaded = !loading || items.length > 0;

  return (
    <Section id="prov-activity" title="Activity" description="Every request from your identity provider, newest first, kept for 30 days. A failed one shows the reason it was given." testId="activity-section">
      <div className="card">
        <div className="prov-toolbar">
          <Switch checked={failures} onChange={setFailures} label="Failures only" testId="activity-failures" />
          <span className="spacer" />
          <button
            type="button"
            className="btn small"
            onClick={() => {
              list.reload();
              onRefresh();
            }}
            disabled={loading}
            data-testid="activity-refresh"
          >
            {loading && loaded ? <Spinner small label="Refreshing" /> : <Icon name="clock" size={14} />} Refresh
          </button>
        </div>
        <ErrorNotice error={error} onRetry={list.reload} testId="activity-error" />
        {!loaded ? (
          loading && <SkeletonRows rows={4} />
        ) : items.length === 0 ? (
          <div className="prov-empty" aria-busy={loading}>
            {failures ? (
              <SectionEmpty title="No failed requests" icon="check-circle">
                Nothing your identity provider sent in the last 30 days has failed.
              </SectionEmpty>
            ) : (
              <SectionEmpty title="No provisioning requests yet" icon="list">
                Requests appear here once Entra or Okta starts provisioning: each person and group it creates, updates or removes. Entra runs a cycle about every 40 minutes; its “Provision on demand” button tries one person right away.
              </SectionEmpty>
            )}
          </div>
        ) : (
          <div className="table-frame" aria-busy={loading}>
            <Table className="activity-table" testId="activity-table" headers={['Time', 'Operation', 'Resource', 'Result', 'Duration', 'Error']}>
              {items.map((a) => (
                <ActivityRow key={a.id} activity={a} />
              ))}
            </Table>
          </div>
        )}
        {list.hasMore && items.length > 0 && (
          <div className="load-more">
            <button type="button" className="btn" onClick={list.loadMore} disabled={loadingMore || loading} data-testid="activity-load-more">
              {loadingMore && <Spinner small />} Load more
            </button>
          </div>
        )}
      </div>
    </Section>
  );
}

function ActivityRow({ activity: a }: { activity: ScimActivity }) {
  const ok = a.status < 400;
  const tone = a.status < 300 ? 'green' : ok ? 'gray' : 'red';
  const path = shortPath(a.path);
  return (
    <tr data-testid="activity-row" data-status={a.status} data-operation={a.operation} className={ok ? undefined : 'failed'}>
      <td className="small nowrap cell-time">
        <time dateTime={a.at}>{timeFormat.format(new Date(a.at))}</time>
      </td>
      <td className="cell-operation">
        <strong data-testid="activity-operation">{a.operation}</strong>
        <span className="mono muted small wrap activity-path" title={a.path}>
          {a.method} {path}
        </span>
        {a.credentialName && <span className="muted small activity-by">with {a.credentialName}</span>}
      </td>
      <td data-label="Resource" className="small">
        {a.resourceType ? (
          <>
            {a.resourceType}
            {a.resourceId && (
              <>
                {' '}
                <span className="mono muted" title={a.resourceId}>
                  {shortId(a.resourceId)}
                </span>
              </>
            )}
          </>
        ) : (
          <span className="muted">—</span>
        )}
      </td>
      <td data-label="Result">
        <span className={`badge tone-${tone}`} data-testid="activity-status">
          {a.status}
          {REASONS[a.status] && <span className="status-reason"> {REASONS[a.status]}</span>}
        </span>
      </td>
      <td data-label="Duration" className="small nowrap muted">
        {formatMs(a.durationMs)}
      </td>
      <td data-label="Error" className="small cell-error">
        {a.error ? (
          <span className="error-text" data-testid="activity-error-text">
            {a.error}
          </span>
        ) : (
          <span className="muted">—</span>
        )}
      </td>
    </tr>
  );
}
