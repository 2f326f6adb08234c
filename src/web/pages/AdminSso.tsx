import { useEffect, useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { api, ApiError } from '../api';
import { AdminNav } from '../components/AdminNav';
import { DataTable, Section, Switch } from '../components/AdminParts';
import { PageHeader } from '../components/PageHeader';
import { OidcSettingsForm } from '../components/OidcForms';
import { ConnectionSettingsForm, NewConnectionForm, ProblemNotice, providerOf, RpValueList, SpValueList, spSetupFor } from '../components/SsoForms';
import { CopyButton, Dialog, EmptyState, ErrorNotice, Field, FormError, Icon, Notice, RelativeTime, SkeletonRows, Spinner, FormActions, Options } from '../components/ui';
import { certificateUrgency, commonName, formatDate, formatDateTime, groupHex, ROLE_LABELS } from '../format';
import { useApi, useKeyedTask, useTask, useTitle, type Loaded } from '../hooks';
import { useSession } from '../session';
import { RULE_ROLES, type OidcSsoConnection, type RoleRule, type RuleRole, type SamlSsoConnection, type SsoCertificate, type SsoConnection, type SsoDomain, type SsoEnforcement, type GovernanceState, type PendingIdentityChange } from '../types';

/** The path of a same-origin URL (the SP metadata URL is absolute, built from the public URL). */
function pathOf(url: string): string {
  try {
    const u = new URL(url, window.location.origin);
    return u.pathname + u.search;
  } catch {
    return url;
  }
}

/** `/t/:tenant/admin/sso`: identity-provider connections, group rules, domains and enforcement. */
export function AdminSso() {
  const { session, slug, path } = useSession();
  useTitle('Single sign-on', session.tenant.name);
  const connections = useApi<{ items: SsoConnection[]; spBaseUrl: string; rpBaseUrl: string }>('/sso/connections');
  const enforcement = useApi<SsoEnforcement>('/sso/enforcement');
  const [adding, setAdding] = useState(false);
  const [editing, setEditing] = useState<SsoConnection | null>(null);
  const [deleting, setDeleting] = useState<SsoConnection | null>(null);
  const [flash, setFlash] = useState<string | null>(null);
  const items = connections.data?.items ?? [];
  const loaded = connections.data !== undefined && enforcement.data !== undefined;
  // Links such as "Go to enforcement" name a section: go there once the page has its content.
  useEffect(() => {
    if (loaded && window.location.hash) document.getElementById(decodeURIComponent(window.location.hash.slice(1)))?.scrollIntoView({ block: 'start' });
  }, [loaded]);

  const setItems = (f: (items: SsoConnection[]) => SsoConnection[]) => connections.setData((prev) => ({ spBaseUrl: prev?.spBaseUrl ?? '', rpBaseUrl: prev?.rpBaseUrl ?? '', items: f(prev?.items ?? []) }));
  const replace = (c: SsoConnection) => setItems((list) => list.map((x) => (x.id === c.id ? c : x)));
  const saved = (c: SsoConnection) => {
    setEditing(null);
    replace(c);
    setFlash(c.protocol === 'oidc' ? `Settings of “${c.displayName}” saved. If you changed the secret, run a test sign-in to check it.` : `Settings of “${c.displayName}” saved.`);
    enforcement.reload();
  };

  return (
    <div className="page">
      <PageHeader
        title="Administration"
        actions={
          <>
            <Link to={path('/admin/sso/traces')} className="btn" data-testid="sso-traces-link">
              <Icon name="list" size={16} /> Sign-in traces
            </Link>
            <button type="button" className="btn primary" onClick={() => setAdding(true)} data-testid="add-connection">
              <Icon name="plus" size={16} /> Add connection
            </button>
          </>
        }
      />
      <AdminNav />
      <div aria-live="polite">
        {flash && (
          <Notice tone="success" testId="sso-flash">
            {flash}
          </Notice>
        )}
      </div>

      <Section level={2} id="sso-conn" title="Connections" description="The identity providers people sign in with, such as Microsoft Entra ID or Okta.">
        <ErrorNotice error={connections.error} onRetry={connections.reload} />
        {connections.loading && !connections.data ? (
          <div className="card flush">
            <SkeletonRows rows={3} />
          </div>
        ) : items.length === 0 && !connections.error ? (
          <div className="card">
            <EmptyState
              title="No single sign-on yet"
              icon="shield"
              action={
                <button type="button" className="btn primary" onClick={() => setAdding(true)}>
                  <Icon name="plus" size={16} /> Add connection
                </button>
              }
            >
              Connect your identity provider so people sign in with their work account, get accounts on first sign-in, and receive roles from their groups.
            </EmptyState>
          </div>
        ) : (
          <div className="sso-list">
            {items.map((c) => (
              <ConnectionCard key={c.id} connection={c} onSettings={() => setEditing(c)} onDelete={() => setDeleting(c)} onChanged={() => { connections.reload(); enforcement.reload(); }} />
            ))}
          </div>
        )}
      </Section>

      <RoleRules />
      <Domains />
      <Enforcement state={enforcement} />
      <Governance />

      <Dialog open={adding} onClose={() => setAdding(false)} title="Add a connection" wide testId="connection-dialog">
        <NewConnectionForm
          spBaseUrl={connections.data?.spBaseUrl ?? `${window.location.origin}/t/${slug}/saml`}
          rpBaseUrl={connections.data?.rpBaseUrl ?? `${window.location.origin}/t/${slug}/oidc`}
          takenSlugs={items.map((c) => c.slug)}
          onCreated={(c) => {
            setAdding(false);
            setItems((list) => [...list, c].sort((a, b) => a.slug.localeCompare(b.slug)));
            // Other cards may now warn about this one (the same identity provider twice).
            connections.reload();
            setFlash(`“${c.displayName}” is added, in testing. Run a test sign-in below: once it passes, its button goes on the sign-in page.`);
          }}
          onCancel={() => setAdding(false)}
        />
      </Dialog>
      <Dialog open={editing !== null} onClose={() => setEditing(null)} title={editing ? `Settings · ${editing.displayName}` : 'Settings'} wide testId="settings-dialog">
        {editing &&
          (editing.protocol === 'saml' ? (
            <ConnectionSettingsForm connection={editing} onSaved={saved} onCancel={() => setEditing(null)} />
          ) : (
            <OidcSettingsForm connection={editing} onSaved={saved} onCancel={() => setEditing(null)} />
          ))}
      </Dialog>
      <Dialog open={deleting !== null} onClose={() => setDeleting(null)} title="Delete this connection?" testId="delete-connection-dialog">
        {deleting && (
          <DeleteConnection
            connection={deleting}
            onDeleted={() => {
              const gone = deleting;
              setDeleting(null);
              setItems((list) => list.filter((x) => x.id !== gone.id));
              setFlash(`“${gone.displayName}” has been deleted.`);
              enforcement.reload();
            }}
            onCancel={() => setDeleting(null)}
          />
        )}
      </Dialog>
    </div>
  );
}

/* ---------- A connection ---------- */

function ConnectionCard({ connection: c, onSettings, onDelete, onChanged }: { connection: SsoConnection; onSettings: () => void; onDelete: () => void; onChanged: () => void }) {
  const [testing, setTesting] = useState(false);
  const [publishing, setPublishing] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const publish = async () => {
    if (!c.testPassedAt && !window.confirm(`Publish “${c.displayName}” without a passed test? Its button appears on the sign-in page for everyone now; if the identity provider's side is wrong, their sign-ins fail. This is recorded in the audit log.`)) return;
    setPublishing(true);
    setError(null);
    try {
      await api.patch(`/sso/connections/${c.id}`, { published: true });
      onChanged();
    } catch (err) {
      setError(err);
    } finally {
      setPublishing(false);
    }
  };

  const test = async () => {
    setTesting(true);
    setError(null);
    try {
      const { url } = await api.post<{ url: string }>(`/sso/connections/${c.id}/test`);
      window.location.assign(url);
    } catch (err) {
      setError(err);
      setTesting(false);
    }
  };

  // What expires first: a SAML signing certificate, or an OIDC client secret (when the admin recorded its expiry).
  const worst =
    c.protocol === 'saml'
      ? c.idp.certificates.reduce<number | null>((min, cert) => (min === null || cert.daysLeft < min ? cert.daysLeft : min), null)
      : c.oidc.secretExpiresAt
        ? Math.floor((Date.parse(c.oidc.secretExpiresAt) - Date.now()) / 86_400_000)
        : null;
  const urgency = worst === null ? null : certificateUrgency(worst);

  return (
    <article className={c.enabled ? 'card sso-card' : 'card sso-card disabled'} data-testid="sso-connection" data-slug={c.slug} aria-labelledby={`conn-${c.id}`}>
      <header className="sso-card-head">
        <div className="sso-card-title">
          <span className="sso-mark" aria-hidden="true">
            <Icon name="shield" size={20} />
          </span>
          <div className="sso-card-name">
            <h3 id={`conn-${c.id}`} className="h3">
              {c.displayName}
              <span className="chip protocol-chip">{c.protocol.toUpperCase()}</span>
            </h3>
            <div className="sso-card-meta">
              <code className="code">{c.slug}</code>
              <span className={`badge tone-${c.enabled ? 'green' : 'gray'}`} data-testid="connection-enabled" data-enabled={c.enabled}>
                <span className="badge-dot" aria-hidden="true" />
                {c.enabled ? 'Enabled' : 'Disabled'}
              </span>
              {c.live ? (
                <span className="badge tone-green" data-testid="connection-live">
                  <span className="badge-dot" aria-hidden="true" />
                  Live
                </span>
              ) : (
                c.enabled && (
                  <span className="badge tone-amber" data-testid="connection-testing" title="Only your Test sign-in uses it until a test passes or you publish it">
                    <span className="badge-dot" aria-hidden="true" />
                    Testing
                  </span>
                )
              )}
              {c.testPassedAt ? (
                <span className="test-state passed" title={formatDateTime(c.testPassedAt)} data-testid="connection-tested">
                  Tested ✓ {formatDate(c.testPassedAt)}
                </span>
              ) : (
                <span className="test-state pending" data-testid="connection-untested">
                  Not tested yet
                </span>
              )}
              {urgency && (
                <span className={`badge tone-${urgency.tone}`} data-testid="expiry-warning">
                  <Icon name="alert" size={12} /> {c.protocol === 'saml' ? 'Certificate' : 'Client secret'} {urgency.label.toLowerCase()}
                </span>
              )}
            </div>
          </div>
        </div>
        <div className="sso-card-actions">
          <button
            type="button"
            className={c.testPassedAt ? 'btn' : 'btn primary'}
            onClick={() => void test()}
            disabled={testing || !c.enabled}
            title={c.enabled ? 'Sign in at the identity provider and see every check, without changing anything' : 'Enable the connection to test it'}
            data-testid="test-signin"
          >
            {testing ? <Spinner small /> : <Icon name="play" size={14} />} Test sign-in
          </button>
          {!c.publishedAt && (
            <button type="button" className="btn" onClick={() => void publish()} disabled={publishing || !c.enabled} data-testid="connection-publish">
              {publishing && <Spinner small />} {c.testPassedAt ? 'Publish' : 'Publish untested…'}
            </button>
          )}
          <button type="button" className="btn" onClick={onSettings} data-testid="connection-settings-button">
            <Icon name="settings" size={15} /> Settings
          </button>
          <button type="button" className="btn danger-outline" onClick={onDelete} data-testid="connection-delete">
            <Icon name="trash" size={15} /> Delete
          </button>
        </div>
      </header>
      <FormError error={error} testId="test-signin-error" />
      {!c.live && c.enabled && (
        <p className="muted small card-note" data-testid="connection-testing-note">
          Being tested: it has no button on the sign-in page yet and signs no one in but your Test sign-in. A passed test publishes it.
        </p>
      )}
      {c.unansweredTestAt && (
        <Notice tone="warning" testId="unanswered-test">
          The test sign-in started <RelativeTime date={c.unansweredTestAt} /> never came back. The provider probably showed an error on its own page:{' '}
          {c.protocol === 'oidc'
            ? 'a redirect URI that is not registered exactly (AADSTS50011), an unknown client ID (AADSTS700016, Okta invalid_client), or a person not assigned to the app.'
            : 'an Identifier or Reply URL that does not match (AADSTS700016, AADSTS50011), or a person not assigned to the app.'}{' '}
          Check the values above against the provider, then test again.
        </Notice>
      )}
      {c.warnings.map((w) => (
        <Notice key={w} tone="warning">
          {w}
        </Notice>
      ))}
      {c.protocol === 'saml' && c.idp.metadataError && (
        <Notice tone="warning">
          The last metadata refresh failed: {c.idp.metadataError} Keydesk keeps using the last good copy.
        </Notice>
      )}

      {c.protocol === 'saml' ? <SamlPanels c={c} /> : <OidcPanels c={c} />}
    </article>
  );
}

function SamlPanels({ c }: { c: SamlSsoConnection }) {
  const setup = spSetupFor(providerOf(c.idp.entityId));
  return (
    <div className="sso-card-body">
      <section className="sso-panel" aria-label="Values for your identity provider">
        <h4 className="h4">Values for your identity provider</h4>
        <p className="muted small panel-note">Paste these into the identity provider. {setup.where}</p>
        <SpValueList values={c.sp} labels={setup.labels} />
        <a className="btn small" href={pathOf(c.sp.metadataUrl)} download={`keydesk-${c.slug}-metadata.xml`} data-testid="sp-metadata-download">
          <Icon name="download" size={14} /> Download SP metadata
        </a>
      </section>
      <section className="sso-panel idp-panel" aria-label="Identity provider">
        <h4 className="h4">Identity provider</h4>
        <dl className="details idp-details">
          <dt>Entity ID</dt>
          <dd className="mono small" data-testid="idp-entity-id">
            {c.idp.entityId}
          </dd>
          <dt>Sign-in URL</dt>
          <dd className="mono small">{c.idp.ssoUrl}</dd>
          {c.idp.sloUrl && (
            <>
              <dt>Sign-out URL</dt>
              <dd className="mono small">{c.idp.sloUrl}</dd>
            </>
          )}
          {c.idp.metadataUrl && (
            <>
              <dt>Metadata</dt>
              <dd className="small">
                <span className="mono">{c.idp.metadataUrl}</span>
                <br />
                <span className="muted">Refreshed daily{c.idp.metadataFetchedAt && <> · last <RelativeTime date={c.idp.metadataFetchedAt} /></>}</span>
              </dd>
            </>
          )}
        </dl>
        <h4 className="h4 cert-heading">Signing certificate{c.idp.certificates.length === 1 ? '' : 's'}</h4>
        <ul className="cert-list">
          {c.idp.certificates.map((cert) => (
            <CertificateRow key={cert.thumbprintSha256} cert={cert} />
          ))}
        </ul>
      </section>
    </div>
  );
}

function OidcPanels({ c }: { c: OidcSsoConnection }) {
  const o = c.oidc;
  return (
    <div className="sso-card-body">
      <section className="sso-panel" aria-label="Values for your identity provider">
        <h4 className="h4">Values for your identity provider</h4>
        <p className="muted small panel-note">
          Register these with the application. In Entra: App registrations › your app › Authentication › Web › Redirect URIs. In Okta: the app’s Sign-in redirect URIs.
        </p>
        <RpValueList values={o} />
      </section>
      <section className="sso-panel idp-panel" aria-label="Identity provider">
        <h4 className="h4">OpenID provider</h4>
        <dl className="details idp-details">
          <dt>Issuer</dt>
          <dd className="mono small" data-testid="oidc-issuer">
            {o.issuer}
          </dd>
          <dt>Client ID</dt>
          <dd className="mono small" data-testid="oidc-client-id">
            {o.clientId}
          </dd>
          <dt>{o.clientCertificate ? 'Client certificate' : 'Client secret'}</dt>
          <dd className="small">
            {o.clientCertificate ? (
              <span data-testid="oidc-client-certificate">
                <span className="mono">{o.clientCertificate.thumbprintSha1}</span>
                <br />
                <span className="row">
                  <a className="btn small" href={`data:application/x-pem-file;charset=utf-8,${encodeURIComponent(o.clientCertificate.pem)}`} download={`keydesk-${c.slug}.cer`} data-testid="oidc-certificate-download">
                    <Icon name="download" size={14} /> Certificate (.cer)
                  </a>
                  <CopyButton text={JSON.stringify(o.clientCertificate.publicJwk)} label="Copy public JWK" testId="oidc-copy-jwk" />
                </span>
              </span>
            ) : o.hasClientSecret ? (
              'Stored sealed; never shown again'
            ) : (
              'None'
            )}
            {o.secretExpiresAt && (
              <>
                <br />
                <span className="muted">Expires {formatDate(o.secretExpiresAt)}</span>
              </>
            )}
          </dd>
          {o.multiTenant && (
            <>
              <dt>Allowed tenants</dt>
              <dd className="mono small">{o.allowedTenants.join(', ')}</dd>
            </>
          )}
          <dt>Sign-out</dt>
          <dd className="small">{o.provider.endSessionEndpoint ? 'At the provider too (end-session endpoint)' : 'In Keydesk only: the provider offers no end-session endpoint'}</dd>
        </dl>
      </section>
    </div>
  );
}

function CertificateRow({ cert }: { cert: SsoCertificate }) {
  const urgency = certificateUrgency(cert.daysLeft);
  return (
    <li className={urgency ? `cert-row ${urgency.tone}` : 'cert-row'} data-testid="certificate" data-days-left={cert.daysLeft}>
      <Icon name="key" size={16} className="cert-icon" />
      <div className="cert-text">
        <span className="cert-name">{commonName(cert.subject)}</span>
        <span className="mono small thumbprint" title="SHA-1 thumbprint, as Entra shows it">
          <span className="sr-only">SHA-1 thumbprint </span>
          {groupHex(cert.thumbprintSha1)}
        </span>
        <span className="muted small">
          {cert.daysLeft < 0 ? 'Expired' : 'Valid until'} {formatDate(cert.notAfter)}
        </span>
      </div>
      {urgency && (
        <span className={`badge tone-${urgency.tone}`} data-testid="certificate-warning">
          <Icon name="alert" size={12} /> {urgency.label}
        </span>
      )}
    </li>
  );
}

function DeleteConnection({ connection: c, onDeleted, onCancel }: { connection: SsoConnection; onDeleted: () => void; onCancel: () => void }) {
  const { busy, error, run } = useTask();
  const remove = () =>
    run(async () => {
      await api.delete(`/sso/connections/${c.id}`);
      onDeleted();
    });
  return (
    <div className="stack">
      <p>
        People will no longer be able to sign in with <strong>{c.displayName}</strong> (<code className="code">{c.slug}</code>). Their Keydesk accounts and tickets stay.
      </p>
      <p className="muted small">Remove the Keydesk application from your identity provider as well, or its sign-ins will fail.</p>
      <FormError error={error} testId="delete-connection-error" />
      <FormActions onCancel={onCancel}>
        <button type="button" className="btn danger" onClick={() => void remove()} disabled={busy} autoFocus data-testid="confirm-delete">
          {busy ? <Spinner small /> : <Icon name="trash" size={15} />} Delete connection
        </button>
      </FormActions>
    </div>
  );
}

/* ---------- Group → role rules ---------- */

function RoleRules() {
  const rules = useApi<{ items: RoleRule[] }>('/sso/role-rules');
  const [groupRef, setGroupRef] = useState('');
  const [role, setRole] = useState<RuleRole>('agent');
  const [precedence, setPrecedence] = useState('100');
  const { busy, error, setError, run } = useKeyedTask();
  const items = rules.data?.items ?? [];

  const add = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    if (!groupRef.trim()) return setError('Enter the group: its object ID in Entra, or its name in Okta.');
    if (!/^\d+$/.test(precedence.trim()) || Number(precedence) > 100000) return setError('Precedence is a whole number from 0 to 100000.');
    await run('add', async () => {
      const rule = await api.post<RoleRule>('/sso/role-rules', { groupRef: groupRef.trim(), role, precedence: Number(precedence) });
      rules.setData((prev) => ({ items: [...(prev?.items ?? []), rule].sort((a, b) => a.precedence - b.precedence || a.createdAt.localeCompare(b.createdAt)) }));
      setGroupRef('');
    });
  };

  const remove = async (r: RoleRule) => {
    if (!window.confirm(`Remove the rule “${r.groupRef} → ${ROLE_LABELS[r.role]}”? Everyone who has the role only through this rule loses it now.`)) return;
    await run(r.id, async () => {
      await api.delete(`/sso/role-rules/${r.id}`);
      rules.setData((prev) => ({ items: (prev?.items ?? []).filter((x) => x.id !== r.id) }));
    });
  };

  return (
    <Section level={2} id="sso-rules" title="Group → role rules" description="Members of a group get the role at every sign-in and whenever SCIM provisioning changes the group, and lose it when they leave the group. Everyone gets Requester.">
      <div className="card">
        <form className="rule-form" onSubmit={add} noValidate>
          <Field label="Group object ID (Entra) or group name (Okta)">
            {(id) => <input id={id} spellCheck={false} placeholder="e.g. 5f1c0e1a-2b3c-4d5e-8f90-a1b2c3d4e5f6 or IT-Service-Desk" maxLength={256} value={groupRef} onChange={(e) => setGroupRef(e.target.value)} data-testid="rule-group" />}
          </Field>
          <Field label="Role">
            {(id) => (
              <select id={id} value={role} onChange={(e) => setRole(e.target.value as RuleRole)} data-testid="rule-role">
                <Options options={RULE_ROLES.map((r) => [r, ROLE_LABELS[r]])} />
              </select>
            )}
          </Field>
          <Field label="Precedence">
            {(id) => <input id={id} className="precedence-input" type="number" inputMode="numeric" min={0} max={100000} value={precedence} onChange={(e) => setPrecedence(e.target.value)} data-testid="rule-precedence" />}
          </Field>
          <button type="submit" className="btn primary" disabled={busy !== null} data-testid="rule-submit">
            {busy === 'add' ? <Spinner small /> : <Icon name="plus" size={16} />} Add rule
          </button>
        </form>
        <p className="field-hint rule-hint">When several rules give the same role, the one with the lowest precedence is credited for it.</p>
        <FormError error={error} testId="rule-error" />
        <ErrorNotice error={rules.error} onRetry={rules.reload} />
        {rules.loading && !rules.data ? (
          <SkeletonRows rows={2} />
        ) : items.length === 0 ? (
          <p className="muted small empty-line">No rules yet: roles come only from what administrators grant on the People page.</p>
        ) : (
          <DataTable className="rules-table" testId="rules-table" headers={['Group', 'Role', 'Precedence', 'Added', <span className="sr-only">Actions</span>]}>
            {items.map((r) => (
              <tr key={r.id} data-testid="rule-row" data-group={r.groupRef} data-role={r.role}>
                <td className="mono small wrap cell-group">{r.groupRef}</td>
                <td data-label="Role">
                  <span className={`chip role-${r.role}`}>{ROLE_LABELS[r.role]}</span>
                </td>
                <td data-label="Precedence" className="small">
                  <span className="mobile-label">Precedence </span>
                  {r.precedence}
                </td>
                <td data-label="Added" className="muted small nowrap">
                  <RelativeTime date={r.createdAt} />
                </td>
                <td className="cell-actions">
                  <button type="button" className="btn small ghost danger-text" onClick={() => void remove(r)} disabled={busy !== null} data-testid="rule-delete" aria-label={`Remove the rule for ${r.groupRef}`}>
                    {busy === r.id ? <Spinner small /> : <Icon name="trash" size={14} />} Remove
                  </button>
                </td>
              </tr>
            ))}
          </DataTable>
        )}
      </div>
    </Section>
  );
}

/* ---------- Domains ---------- */

function Domains() {
  const domains = useApi<{ items: SsoDomain[] }>('/sso/domains');
  const [domain, setDomain] = useState('');
  const { busy, error, setError, run } = useKeyedTask();
  const [rowError, setRowError] = useState<{ domain: string; error: unknown } | null>(null);
  const [justAdded, setJustAdded] = useState<string | null>(null);
  const [verified, setVerified] = useState<string | null>(null);
  const items = domains.data?.items ?? [];

  const put = (d: SsoDomain) => domains.setData((prev) => ({ items: [...(prev?.items ?? []).filter((x) => x.domain !== d.domain), d].sort((a, b) => a.domain.localeCompare(b.domain)) }));

  const add = async (e: FormEvent) => {
    e.preventDefault();
    const value = domain.trim().toLowerCase().replace(/^.*@/, '').replace(/\.$/, '');
    // One message at a time: a new action replaces what the last one said.
    setRowError(null);
    setError(null);
    if (!value) return setError('Enter the domain of your work email addresses, such as contoso.com.');
    await run('add', async () => {
      const d = await api.post<SsoDomain>('/sso/domains', { domain: value });
      put(d);
      setDomain('');
      setJustAdded(d.domain);
    });
  };

  // A row's action says what went wrong on that row.
  const onRow = (key: string, d: SsoDomain, fn: () => Promise<void>) => {
    setRowError(null);
    return run(`${key}:${d.domain}`, () => fn().catch((err: unknown) => setRowError({ domain: d.domain, error: err })));
  };

  const verify = (d: SsoDomain) =>
    onRow('verify', d, async () => {
      put(await api.post<SsoDomain>(`/sso/domains/${encodeURIComponent(d.domain)}/verify`));
      setVerified(d.domain);
      if (justAdded === d.domain) setJustAdded(null);
    });

  const remove = async (d: SsoDomain) => {
    if (!window.confirm(`Remove ${d.domain}? People with ${d.domain} addresses will have to find this workspace by its name.`)) return;
    await onRow('delete', d, async () => {
      await api.delete(`/sso/domains/${encodeURIComponent(d.domain)}`);
      domains.setData((prev) => ({ items: (prev?.items ?? []).filter((x) => x.domain !== d.domain) }));
    });
  };

  return (
    <Section level={2} id="sso-domains" title="Domains" description="People who type a work email with a verified domain on the sign-in page are sent straight to this workspace's sign-in.">
      <div className="card">
        <form className="inline-create domain-form" onSubmit={add} noValidate>
          <Field label="Email domain">
            {(id) => (
              <input
                id={id}
                autoCapitalize="none"
                spellCheck={false}
                placeholder="contoso.com"
                maxLength={253}
                value={domain}
                onChange={(e) => setDomain(e.target.value)}
                data-testid="domain-input"
              />
            )}
          </Field>
          <button type="submit" className="btn primary" disabled={busy !== null} data-testid="domain-submit">
            {busy === 'add' ? <Spinner small /> : <Icon name="plus" size={16} />} Add domain
          </button>
          <FormError error={error} testId="domain-error" />
        </form>
        <ErrorNotice error={domains.error} onRetry={domains.reload} />
        {domains.loading && !domains.data ? (
          <SkeletonRows rows={2} />
        ) : items.length === 0 ? (
          <p className="muted small empty-line">No domains yet.</p>
        ) : (
          <ul className="domain-list">
            {items.map((d) => (
              <li key={d.domain} className={d.verified ? 'domain-row verified' : 'domain-row'} data-testid="domain-row" data-domain={d.domain} data-verified={d.verified}>
                <div className="domain-line">
                  <span className="domain-name">
                    <Icon name="globe" size={16} />
                    <strong>{d.domain}</strong>
                  </span>
                  {d.verified ? (
                    <span className="badge tone-green" title={d.verifiedAt ? `Verified ${formatDateTime(d.verifiedAt)}` : undefined}>
                      <Icon name="check" size={12} /> Verified
                    </span>
                  ) : (
                    <span className="badge tone-amber">
                      <span className="badge-dot" aria-hidden="true" />
                      Waiting for DNS
                    </span>
                  )}
                  <span className="spacer" />
                  {!d.verified && (
                    <button type="button" className="btn small primary" onClick={() => void verify(d)} disabled={busy !== null} data-testid="domain-verify">
                      {busy === `verify:${d.domain}` ? <Spinner small /> : <Icon name="check" size={14} />} Verify
                    </button>
                  )}
                  <button type="button" className="btn small ghost danger-text" onClick={() => void remove(d)} disabled={busy !== null} data-testid="domain-delete" aria-label={`Remove ${d.domain}`}>
                    {busy === `delete:${d.domain}` ? <Spinner small /> : <Icon name="trash" size={14} />} Remove
                  </button>
                </div>
                {!d.verified && (
                  <div className={justAdded === d.domain ? 'txt-record highlight' : 'txt-record'} data-testid="txt-record">
                    <p className="small">
                      <strong>Add this TXT record at your DNS provider, then press Verify.</strong>
                    </p>
                    <dl className="txt-fields">
                      <div>
                        <dt>Name</dt>
                        <dd>
                          <code className="mono wrap" data-testid="txt-name">
                            {d.txtRecordName}
                          </code>
                          <CopyButton text={d.txtRecordName} testId="copy-txt-name" />
                        </dd>
                      </div>
                      <div>
                        <dt>Value</dt>
                        <dd>
                          <code className="mono wrap" data-testid="txt-value">
                            {d.txtRecordValue}
                          </code>
                          <CopyButton text={d.txtRecordValue} testId="copy-txt-value" />
                        </dd>
                      </div>
                    </dl>
                  </div>
                )}
                {verified === d.domain && d.verified && <p className="small success-text">Verified: sign-ins with @{d.domain} addresses now come here.</p>}
                {rowError?.domain === d.domain && <ProblemNotice error={rowError.error} title="Not verified yet" tone="warning" fields={false} testId="domain-row-error" />}
              </li>
            ))}
          </ul>
        )}
      </div>
    </Section>
  );
}

/* ---------- Enforcement ---------- */

/** The accounts that keep a password while single sign-on is enforced. */
function BreakGlassList({ accounts, testId }: { accounts: SsoEnforcement['breakGlass']; testId: string }) {
  return (
    <ul className="break-glass-list" data-testid={testId}>
      {accounts.map((b) => (
        <li key={b.id}>
          <Icon name="lock" size={14} />
          <strong>{b.displayName}</strong>
          <span className="muted small">{b.email}</span>
        </li>
      ))}
    </ul>
  );
}

function Enforcement({ state }: { state: Loaded<SsoEnforcement> }) {
  const { path } = useSession();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [confirming, setConfirming] = useState(false);
  const e = state.data;

  const toggle = async (enforced: boolean) => {
    setBusy(true);
    setError(null);
    // The switch moves at once; it moves back if the server refuses.
    state.setData((prev) => ({ ...prev!, enforced }));
    try {
      state.setData(await api.put<SsoEnforcement>('/sso/enforcement', { enforced }));
    } catch (err) {
      state.setData((prev) => ({ ...prev!, enforced: !enforced }));
      // A refusal because something changed meanwhile (409) is explained by the reloaded state's
      // reason, shown once next to the switch; anything else shows here.
      if (err instanceof ApiError && err.status === 409) state.reload();
      else setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Section level={2} id="sso-enforce" title="Enforce single sign-on" description="When enforced, passwords stop working for everyone except the break-glass accounts.">
      <div className={e?.enforced ? 'card enforce-card on' : 'card enforce-card'}>
        <ErrorNotice error={state.error} onRetry={state.reload} />
        {!e ? (
          state.loading && <SkeletonRows rows={2} />
        ) : (
          <>
            <Switch
              checked={e.enforced}
              disabled={busy || (!e.canEnforce && !e.enforced)}
              dimmed={!e.canEnforce && !e.enforced}
              busy={busy}
              // Turning it on is confirmed first, naming who keeps a password; turning it off is not.
              onChange={(on) => {
                if (!on) return void toggle(false);
                // The dialog names who keeps a password: from the state as it is now, not as it was.
                state.reload();
                setConfirming(true);
              }}
              label="Require single sign-on"
              hint={e.enforced ? 'On: people sign in with your identity provider only.' : 'Off: people may also sign in with a password.'}
              hintId="enforce-state"
              hintTestId="enforce-state"
              testId="enforce-toggle"
            />
            {!e.canEnforce && e.reason && (
              <Notice tone="warning" testId="enforce-reason">
                {e.reason}
              </Notice>
            )}
            <FormError error={error} testId="enforce-error" />
            <Dialog open={confirming} onClose={() => setConfirming(false)} title="Require single sign-on?" testId="enforce-confirm-dialog">
              <div className="stack">
                <p>Passwords stop working at once for everyone except these break-glass accounts:</p>
                <BreakGlassList accounts={e.breakGlass} testId="enforce-confirm-accounts" />
                {e.passwordSessions > 0 && (
                  <p data-testid="enforce-confirm-sessions">
                    {e.passwordSessions === 1 ? 'One session' : `${e.passwordSessions} sessions`} signed in with a password (not break-glass) will end now; those people sign in again with the identity provider.
                  </p>
                )}
                <p className="muted small">Everyone else signs in with your identity provider. Make sure its connection is live and tested, and that you know a break-glass password.</p>
                <FormActions onCancel={() => setConfirming(false)}>
                  <button
                    type="button"
                    className="btn primary"
                    onClick={() => {
                      setConfirming(false);
                      void toggle(true);
                    }}
                    data-testid="enforce-confirm"
                  >
                    Require single sign-on
                  </button>
                </FormActions>
              </div>
            </Dialog>
            <div className="break-glass">
              <h3 className="h4">Break-glass accounts</h3>
              <p className="muted small">
                Only these accounts may still use a password while single sign-on is enforced: keep them for when the identity provider is down. <Link to={path('/admin/users')}>Change them on the People page</Link>.
              </p>
              {e.breakGlass.length === 0 ? (
                <p className="small muted" data-testid="break-glass-none">
                  None yet.
                </p>
              ) : (
                <BreakGlassList accounts={e.breakGlass} testId="break-glass-list" />
              )}
            </div>
          </>
        )}
      </div>
    </Section>
  );
}

const CHANGE_STATUS: Record<PendingIdentityChange['status'], string> = {
  pending: 'Waiting for approval',
  approved: 'Approved, being applied',
  applied: 'Applied',
  rejected: 'Rejected',
  failed: 'Could not be applied',
};

/** Four eyes: whether identity changes wait for a change manager, and the changes waiting. */
function Governance() {
  const { path } = useSession();
  const state = useApi<GovernanceState>('/governance');
  const { busy, error, run } = useTask();
  const g = state.data;

  const act = async (fn: () => Promise<unknown>) => {
    await run(async () => void (await fn()));
    state.reload();
  };

  return (
    <Section level={2} id="sso-governance" anchor="governance" title="Governance" description="With four eyes on, changes to connections, group rules and enforcement become change tickets, and take effect only when a change manager other than the admin who asked approves them. Break-glass accounts still act at once, and it is audited.">
      <div className="card">
        <ErrorNotice error={state.error} onRetry={state.reload} />
        {!g ? (
          state.loading && <SkeletonRows rows={2} />
        ) : (
          <>
            <Switch
              checked={g.enabled}
              disabled={busy}
              dimmed={false}
              busy={busy}
              onChange={(on) => void act(() => api.put('/governance', { enabled: on }))}
              label="Four eyes on identity configuration"
              hint={g.enabled ? 'On: changes wait for a change manager’s approval on a change ticket. Turning this off is itself such a change.' : 'Off: admins’ changes take effect at once.'}
              hintId="governance-state"
              testId="governance-switch"
            />
            <FormError error={error} testId="governance-error" />
            {g.enabled && g.actorBreakGlass && (
              <Notice tone="warning" testId="governance-break-glass">
                You are signed in with a break-glass account: your own changes take effect at once, without approval, and each is audited as a bypass.
              </Notice>
            )}
            {g.changes.length > 0 && (
              <ul className="plain-list" data-testid="governance-changes">
                {g.changes.map((c) => (
                  <li key={c.id} className="governance-change">
                    <div>
                      <strong>{c.summary}</strong>
                      <div className="muted small">
                        {CHANGE_STATUS[c.status]} · asked by {c.requestedBy.displayName} <RelativeTime date={c.createdAt} /> ·{' '}
                        <Link to={path(`/agent/tickets/${c.ticket.ref}`)}>{c.ticket.ref}</Link>
                        {c.error && <> · {c.error}</>}
                      </div>
                    </div>
                    {c.status === 'pending' && (
                      <button type="button" className="btn small" disabled={busy} onClick={() => void act(() => api.post(`/governance/changes/${c.id}/withdraw`))}>
                        Withdraw
                      </button>
                    )}
                  </li>
                ))}
              </ul>
            )}
          </>
        )}
      </div>
    </Section>
  );
}
