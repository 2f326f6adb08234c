import { useRef, useState, type FormEvent } from 'react';
import { ApiError } from '../api';
import type { OidcSsoConnection, SsoConnection } from '../types';
import { CopyButton, Field } from './ui';
import { Check, freeSlug, NewConnectionFooter, OptionChecks, RpValueList, SettingsFooter, SetupStep, SLUG, useConnectionSettings, useCreateConnection, type Options, type Provider } from './SsoForms';

const TENANT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Where each provider keeps what an OpenID Connect connection needs, in its own words. */
const OIDC_PROVIDERS: Record<Provider, { slug: string; button: string; where: string; issuerPlaceholder: string; issuerHint: string; clientIdHint: string; secretHint: string; expiryHint: string }> = {
  entra: {
    slug: 'entra',
    button: 'Microsoft',
    where:
      'In the Entra admin center: App registrations › New registration (accounts in this organizational directory only), Redirect URI: Web, the first value below. Then Certificates & secrets › New client secret, and Token configuration › Add groups claim (Group ID) and Add optional claim › ID › email. The Overview page shows the Application (client) ID and the Directory (tenant) ID.',
    issuerPlaceholder: 'https://login.microsoftonline.com/<Directory (tenant) ID>/v2.0',
    issuerHint: 'https://login.microsoftonline.com/ followed by the Directory (tenant) ID and /v2.0. For people of several Entra tenants: …/organizations/v2.0, with the tenant IDs allowed below.',
    clientIdHint: 'The Application (client) ID on the app’s Overview page.',
    secretHint: 'Certificates & secrets › the secret’s Value (not its Secret ID). Keydesk keeps it sealed and never shows it again.',
    expiryHint: 'Entra secrets last at most 24 months (the Expires column): Keydesk reminds you 30, 14 and 7 days before.',
  },
  okta: {
    slug: 'okta',
    button: 'Okta',
    where:
      'In the Okta Admin Console: Applications › Create App Integration › OIDC - OpenID Connect › Web Application. Sign-in redirect URI: the first value below; assign the people or groups. For groups in the token: Sign On tab › OpenID Connect ID Token › Groups claim filter “groups”, Matches regex “.*”.',
    issuerPlaceholder: 'https://your-org.okta.com',
    issuerHint: 'Your Okta org URL, or a custom authorization server’s issuer (…/oauth2/default).',
    clientIdHint: 'General › Client Credentials › Client ID.',
    secretHint: 'General › Client Credentials › Client secret. Keydesk keeps it sealed and never shows it again.',
    expiryHint: 'If your organisation rotates secrets on a schedule, the date of the next rotation: Keydesk reminds you 30, 14 and 7 days before.',
  },
  other: {
    slug: 'oidc',
    button: '',
    where: 'Register Keydesk as a confidential web client (authorization code flow) with the redirect URI below.',
    issuerPlaceholder: 'https://',
    issuerHint: 'The issuer URL: Keydesk reads its /.well-known/openid-configuration.',
    clientIdHint: 'The client ID the provider gave Keydesk.',
    secretHint: 'The client secret. Keydesk keeps it sealed and never shows it again.',
    expiryHint: 'When the secret stops working, if it does: Keydesk reminds you 30, 14 and 7 days before.',
  },
};

const isMultiTenantIssuer = (issuer: string) => /\/(organizations|common)\//.test(issuer);

/** Tenant ids typed one per line or comma-separated: the valid ones, or the first that is not. */
function parseTenants(text: string): { tenants: string[] } | { bad: string } {
  const tenants = text.split(/[\s,;]+/).map((t) => t.trim()).filter(Boolean);
  const bad = tenants.find((t) => !TENANT_ID.test(t));
  return bad !== undefined ? { bad } : { tenants };
}

/**
 * Add an OpenID Connect connection in the order an admin works: Keydesk's redirect URI first, to
 * register at the provider; then the provider's issuer, client ID and secret.
 */
export function NewOidcConnectionForm({
  provider,
  rpBaseUrl,
  takenSlugs,
  onCreated,
  onCancel,
}: {
  provider: Provider;
  rpBaseUrl: string;
  takenSlugs: string[];
  onCreated: (c: SsoConnection) => void;
  onCancel: () => void;
}) {
  const preset = OIDC_PROVIDERS[provider];
  const [slug, setSlug] = useState(() => freeSlug(preset.slug, takenSlugs));
  const [issuer, setIssuer] = useState('');
  const [clientId, setClientId] = useState('');
  const [credential, setCredential] = useState<'secret' | 'key'>('secret');
  const [clientSecret, setClientSecret] = useState('');
  const [expires, setExpires] = useState('');
  const [tenants, setTenants] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [options, setOptions] = useState<Options>({ allowIdpInitiated: false, jit: true, waitingRoom: false });
  const { busy, error, setError, create } = useCreateConnection(onCreated);
  const slugInput = useRef<HTMLInputElement>(null);
  const slugValid = SLUG.test(slug);
  const base = `${rpBaseUrl}/${slug}`;
  const values = { redirectUri: `${base}/callback`, backchannelLogoutUri: `${base}/backchannel-logout`, postLogoutRedirectUri: rpBaseUrl.replace(/\/oidc$/, '/login?signedOut=1') };
  const multi = isMultiTenantIssuer(issuer);
  const buttonLabel = displayName.trim() || preset.button;
  // A fault the server ties to one of these fields is said under it, and only there.
  const FIELDS = ['issuer', 'clientId', 'clientSecret', 'allowedTenants'];
  const fieldError = (field: string) => (error instanceof ApiError && error.errors.some((e) => e.field === field) ? error.message : undefined);
  const onField = error instanceof ApiError && error.errors.some((e) => FIELDS.includes(e.field ?? ''));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (busy) return;
    setError(null);
    if (!slugValid) return slugInput.current?.focus();
    if (!/^https?:\/\//i.test(issuer.trim())) return setError('Enter the issuer URL, starting with https://.');
    if (!clientId.trim()) return setError('Enter the client ID.');
    if (credential === 'secret' && !clientSecret) return setError('Enter the client secret, or let Keydesk make a key and certificate.');
    const parsed = parseTenants(tenants);
    if ('bad' in parsed) return setError(`“${parsed.bad}” is not a tenant ID: Entra shows it as a GUID under Overview › Directory (tenant) ID.`);
    if (multi && !parsed.tenants.length) return setError('A multi-tenant issuer lets any Entra tenant in: list the tenant IDs allowed to sign in.');
    await create({
      protocol: 'oidc',
      slug,
      issuer: issuer.trim(),
      clientId: clientId.trim(),
      ...(credential === 'secret' ? { clientSecret } : { clientAuth: 'private_key_jwt' }),
      ...(credential === 'secret' && expires ? { secretExpiresAt: new Date(`${expires}T00:00:00Z`).toISOString() } : {}),
      ...(parsed.tenants.length ? { allowedTenants: parsed.tenants } : {}),
      ...(buttonLabel ? { displayName: buttonLabel } : {}),
      jit: options.jit,
      waitingRoom: options.waitingRoom,
    });
  };

  return (
    <form className="stack-lg" onSubmit={submit} noValidate aria-busy={busy} data-testid="new-oidc-form">
      <SetupStep id="rp-step-h" n={1} title="Register Keydesk at the provider">
        <p className="muted small section-note">{preset.where}</p>
        {slugValid ? (
          <>
            <RpValueList values={values} />
            <div className="row">
              <CopyButton
                text={`Redirect URI: ${values.redirectUri}\nBack-channel logout URI: ${values.backchannelLogoutUri}\nPost-logout redirect URI: ${values.postLogoutRedirectUri}`}
                label="Copy all"
                className="btn small"
                testId="copy-all-rp-values"
              />
            </div>
          </>
        ) : (
          <p className="muted small">The values appear as soon as the short name below is valid.</p>
        )}
        <Field label="Short name" hint="The last part of these addresses. It cannot be changed once the connection exists." error={!slugValid ? 'A short name has 1–40 lowercase letters, digits or inner hyphens.' : undefined}>
          {(id, d) => (
            <input id={id} ref={slugInput} className="slug-input" aria-describedby={d} spellCheck={false} maxLength={40} value={slug} onChange={(e) => setSlug(e.target.value.toLowerCase().replace(/\s+/g, '-'))} data-testid="oidc-slug" />
          )}
        </Field>
      </SetupStep>

      <SetupStep id="op-step-h" n={2} title="Give Keydesk the provider’s side">
        <Field label="Issuer URL" hint={preset.issuerHint} error={fieldError('issuer')}>
          {(id, d) => <input id={id} type="url" aria-describedby={d} spellCheck={false} placeholder={preset.issuerPlaceholder} value={issuer} onChange={(e) => setIssuer(e.target.value)} data-testid="oidc-issuer-input" />}
        </Field>
        <Field label="Client ID" hint={preset.clientIdHint} error={fieldError('clientId')}>
          {(id, d) => <input id={id} aria-describedby={d} spellCheck={false} autoComplete="off" value={clientId} onChange={(e) => setClientId(e.target.value)} data-testid="oidc-client-id-input" />}
        </Field>
        <div className="segmented" role="radiogroup" aria-label="How Keydesk proves itself to the provider">
          <button type="button" role="radio" aria-checked={credential === 'secret'} className={credential === 'secret' ? 'seg active' : 'seg'} onClick={() => setCredential('secret')} data-testid="oidc-credential-secret">
            Client secret
          </button>
          <button type="button" role="radio" aria-checked={credential === 'key'} className={credential === 'key' ? 'seg active' : 'seg'} onClick={() => setCredential('key')} data-testid="oidc-credential-key">
            Certificate (Keydesk makes the key)
          </button>
        </div>
        {credential === 'secret' ? (
          <div className="grid-2">
            <Field label="Client secret" hint={preset.secretHint} error={fieldError('clientSecret')}>
              {(id, d) => <input id={id} type="password" aria-describedby={d} autoComplete="new-password" value={clientSecret} onChange={(e) => setClientSecret(e.target.value)} data-testid="oidc-client-secret-input" />}
            </Field>
            <Field label={<>The secret expires on <span className="muted">(optional)</span></>} hint={preset.expiryHint}>
              {(id, d) => <input id={id} type="date" aria-describedby={d} value={expires} onChange={(e) => setExpires(e.target.value)} data-testid="oidc-secret-expires-input" />}
            </Field>
          </div>
        ) : (
          <p className="muted small" data-testid="oidc-key-note">
            Keydesk generates a key that never leaves it, and shows its certificate once the connection is added: upload it at the provider (Entra: Certificates &amp; secrets › Certificates › Upload certificate; Okta: Client authentication › Public key / Private key). It is valid two years; Keydesk reminds you before it ends.
          </p>
        )}
        {(multi || tenants) && (
          <Field label="Allowed Entra tenants" hint="Directory (tenant) IDs, one per line: only people of these tenants sign in." error={fieldError('allowedTenants')}>
            {(id, d) => <textarea id={id} aria-describedby={d} rows={3} className="mono" spellCheck={false} value={tenants} onChange={(e) => setTenants(e.target.value)} data-testid="oidc-tenants-input" />}
          </Field>
        )}
      </SetupStep>

      <details className="setup-options">
        <summary>
          Button label and options{' '}
          <span className="muted small">
            · “Sign in with {buttonLabel || 'Single sign-on'}” · {options.jit ? 'accounts on first sign-in' : 'existing accounts only'}
          </span>
        </summary>
        <div className="stack">
          <Field label={<>Button label <span className="muted">(optional)</span></>}>
            {(id) => <input id={id} placeholder={preset.button || 'Single sign-on'} maxLength={100} value={displayName} onChange={(e) => setDisplayName(e.target.value)} data-testid="oidc-display-name" />}
          </Field>
          <OptionChecks value={options} onChange={setOptions} protocol="oidc" />
        </div>
      </details>

      <NewConnectionFooter error={onField ? null : error} title="The provider’s details were not accepted" testId="oidc-connection" busy={busy} onCancel={onCancel} />
    </form>
  );
}

/** An OpenID Connect connection's settings: label, state, options, a new secret, allowed tenants. */
export function OidcSettingsForm({ connection: c, onSaved, onCancel }: { connection: OidcSsoConnection; onSaved: (c: SsoConnection) => void; onCancel: () => void }) {
  const { displayName, setDisplayName, enabled, setEnabled, options, setOptions, skew, setSkew, error, setError, busy, collect, save } = useConnectionSettings(c, onSaved, onCancel);
  const [secret, setSecret] = useState('');
  const [expires, setExpires] = useState(c.oidc.secretExpiresAt?.slice(0, 10) ?? '');
  const [tenants, setTenants] = useState(c.oidc.allowedTenants.join('\n'));
  const [issuer, setIssuer] = useState(c.oidc.issuer);
  const [clientId, setClientId] = useState(c.oidc.clientId);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (busy) return;
    const patch = collect();
    if (typeof patch === 'string') return setError(patch);
    if (issuer.trim() !== c.oidc.issuer) {
      if (!c.oidc.clientCertificate && !secret) return setError('Another issuer needs the client secret registered there: enter it under New client secret.');
      patch.issuer = issuer.trim();
    }
    if (clientId.trim() !== c.oidc.clientId) patch.clientId = clientId.trim();
    if (secret) patch.clientSecret = secret;
    const expiresIso = expires ? new Date(`${expires}T00:00:00Z`).toISOString() : null;
    if (!c.oidc.clientCertificate && (secret || expiresIso?.slice(0, 10) !== c.oidc.secretExpiresAt?.slice(0, 10))) patch.secretExpiresAt = expiresIso;
    const parsed = parseTenants(tenants);
    if ('bad' in parsed) return setError(`“${parsed.bad}” is not a tenant ID (a GUID).`);
    if (parsed.tenants.join(',').toLowerCase() !== c.oidc.allowedTenants.join(',')) patch.allowedTenants = parsed.tenants;
    await save(patch);
  };

  return (
    <form className="stack-lg" onSubmit={submit} noValidate aria-busy={busy} data-testid="oidc-settings">
      <div className="grid-2">
        <Field label="Button label" hint={<>“Sign in with {displayName.trim() || c.displayName}”</>}>
          {(id, d) => <input id={id} aria-describedby={d} maxLength={100} value={displayName} onChange={(e) => setDisplayName(e.target.value)} data-testid="oidc-settings-display-name" />}
        </Field>
        <Field label="Clock skew allowed" hint="Seconds, 0–600.">
          {(id, d) => <input id={id} type="number" min={0} max={600} aria-describedby={d} value={skew} onChange={(e) => setSkew(e.target.value)} />}
        </Field>
      </div>
      <div className="grid-2">
        <Field label="Issuer URL" hint="Another issuer or client ID is another party: the connection goes back to testing until a test sign-in passes.">
          {(id, d) => <input id={id} type="url" aria-describedby={d} spellCheck={false} value={issuer} onChange={(e) => setIssuer(e.target.value)} data-testid="oidc-settings-issuer" />}
        </Field>
        <Field label="Client ID">
          {(id) => <input id={id} spellCheck={false} value={clientId} onChange={(e) => setClientId(e.target.value)} data-testid="oidc-settings-client-id" />}
        </Field>
      </div>
      <Check title="Enabled" checked={enabled} onChange={setEnabled} testId="oidc-settings-enabled">
        When off, the sign-in button disappears and the provider’s answers are refused.
      </Check>
      <OptionChecks value={options} onChange={setOptions} protocol="oidc" />
      {!c.oidc.clientCertificate && (
      <section className="stack" aria-labelledby="oidc-secret-h">
        <h3 id="oidc-secret-h" className="h4">
          Client secret
        </h3>
        <div className="grid-2">
          <Field label={<>New client secret <span className="muted">(to rotate)</span></>} hint="Create the new secret at the provider first; the old one stops being used when you save.">
            {(id, d) => (
              <input
                id={id}
                type="password"
                aria-describedby={d}
                autoComplete="new-password"
                value={secret}
                onChange={(e) => {
                  // The date belonged to the old secret: the new one's is asked for afresh.
                  if (!secret && e.target.value) setExpires('');
                  setSecret(e.target.value);
                }}
                data-testid="oidc-settings-secret"
              />
            )}
          </Field>
          <Field label="Expires on" hint={secret ? 'The new secret’s expiry: reminders 30, 14 and 7 days before.' : 'Reminders 30, 14 and 7 days before.'}>
            {(id, d) => <input id={id} type="date" aria-describedby={d} value={expires} onChange={(e) => setExpires(e.target.value)} data-testid="oidc-settings-expires" />}
          </Field>
        </div>
      </section>
      )}
      {c.oidc.multiTenant && (
        <Field label="Allowed Entra tenants" hint="Directory (tenant) IDs, one per line; the first is your home directory.">
          {(id, d) => <textarea id={id} aria-describedby={d} rows={3} className="mono" value={tenants} onChange={(e) => setTenants(e.target.value)} data-testid="oidc-settings-tenants" />}
        </Field>
      )}
      <SettingsFooter error={error} testId="oidc-settings" busy={busy} onCancel={onCancel} />
    </form>
  );
}
