import { useEffect, useId, useRef, useState, type DragEvent, type FormEvent, type ReactNode } from 'react';
import { api, ApiError, errorMessage } from '../api';
import type { AttributeKey, IdpSourceBody, OidcSsoConnection, SamlSsoConnection, SsoConnection } from '../types';
import { ATTRIBUTE_KEYS } from '../types';
import { BreakableUrl, CopyableValue, CopyButton, Field, Icon, FormActions, SubmitButton } from './ui';
import { NewOidcConnectionForm } from './OidcForms';

/* ---------- Reading files in the browser ---------- */

function readAsText(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result ?? ''));
    r.onerror = () => reject(r.error ?? new Error('The file could not be read.'));
    r.readAsText(file);
  });
}

function readAsArrayBuffer(file: File): Promise<ArrayBuffer> {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(r.result as ArrayBuffer);
    r.onerror = () => reject(r.error ?? new Error('The file could not be read.'));
    r.readAsArrayBuffer(file);
  });
}

function base64OfBytes(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** A certificate file as the API takes it: PEM text as is, anything else (DER) as base64 of its bytes. */
async function certificateFromFile(file: File): Promise<string> {
  const bytes = new Uint8Array(await readAsArrayBuffer(file));
  const head = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(0, 64)).replace(/^\uFEFF/, '').trimStart();
  if (head.startsWith('-----BEGIN')) return new TextDecoder().decode(bytes);
  return base64OfBytes(bytes);
}

const PRIVATE_KEY = /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----/;

/** Every PEM block in pasted text; text without BEGIN lines counts as one base64 certificate. */
function certificatesFromText(text: string): string[] {
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (blocks) return blocks;
  return text.trim() ? [text.trim()] : [];
}

/** What a metadata document says about itself, to show before it is sent. */
function inspectMetadata(xml: string): { entityId: string | null; isIdp: boolean; wellFormed: boolean } {
  try {
    const doc = new DOMParser().parseFromString(xml, 'application/xml');
    if (doc.getElementsByTagName('parsererror').length) return { entityId: null, isIdp: false, wellFormed: false };
    const entity = doc.documentElement.localName === 'EntityDescriptor' ? doc.documentElement : doc.getElementsByTagNameNS('*', 'EntityDescriptor')[0];
    return { entityId: entity?.getAttribute('entityID') ?? null, isIdp: doc.getElementsByTagNameNS('*', 'IDPSSODescriptor').length > 0, wellFormed: true };
  } catch {
    return { entityId: null, isIdp: false, wellFormed: false };
  }
}

const MAX_METADATA_BYTES = 1024 * 1024;

/* ---------- Errors worth reading ---------- */

/**
 * An API error shown so it cannot be missed: a 422 about metadata or certificates says exactly
 * what is wrong, so it gets a heading and room.
 */
export function ProblemNotice({
  error,
  title,
  testId = 'form-error',
  tone = 'error',
  fields = true,
}: {
  error: unknown;
  title?: string;
  testId?: string;
  /** warning: for answers that mean "not yet" rather than "wrong". */
  tone?: 'error' | 'warning';
  /** List the per-field messages that add something to the detail. */
  fields?: boolean;
}) {
  const ref = useRef<HTMLDivElement>(null);
  // Forms in dialogs are long: bring the explanation into view when it arrives.
  useEffect(() => {
    if (error) ref.current?.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  }, [error]);
  if (!error) return <div aria-live="assertive" className="form-error-region" ref={ref} />;
  const api422 = error instanceof ApiError && error.status === 422;
  const message = error instanceof ApiError ? error.message : typeof error === 'string' ? error : errorMessage(error);
  const extra = fields && error instanceof ApiError ? error.errors.filter((e) => e.message && e.message !== error.message) : [];
  return (
    <div aria-live="assertive" className="form-error-region" ref={ref}>
      <div className={`notice ${api422 ? tone : 'error'}${api422 ? ' problem' : ''}`} role="alert" data-testid={testId}>
        <Icon name="alert" size={18} />
        <div className="notice-text">
          {api422 && <strong className="problem-title">{title ?? 'That was not accepted'}</strong>}
          <p className="problem-detail">{message}</p>
          {extra.length > 0 && (
            <ul className="problem-fields">
              {extra.map((e, i) => (
                <li key={i}>
                  {e.field && <code className="code">{e.field}</code>} {e.message}
                </li>
              ))}
            </ul>
          )}
        </div>
      </div>
    </div>
  );
}

/* ---------- The identity provider's side ---------- */

export type SourceMode = 'file' | 'url' | 'manual';

export interface SourceState {
  mode: SourceMode;
  file: { name: string; size: number; xml: string; entityId: string | null; isIdp: boolean; wellFormed: boolean } | null;
  url: string;
  entityId: string;
  ssoUrl: string;
  sloUrl: string;
  certFiles: { name: string; data: string }[];
  pem: string;
}

export function emptySource(mode: SourceMode = 'file', url = ''): SourceState {
  return { mode, file: null, url, entityId: '', ssoUrl: '', sloUrl: '', certFiles: [], pem: '' };
}

export type Provider = 'entra' | 'okta' | 'other';

/** Where each identity provider's admin pages keep what Keydesk asks for, in their own words. */
const WHERE: Record<Provider, { metadataUrl: string; urlPlaceholder: string; metadataFile: string; entityId: string; ssoUrl: string; sloUrl: string; certificate: string }> = {
  entra: {
    metadataUrl: 'In Entra: Single sign-on › SAML Certificates › App Federation Metadata Url.',
    urlPlaceholder: 'https://login.microsoftonline.com/…/federationmetadata/2007-06/federationmetadata.xml?appid=…',
    metadataFile: 'In Entra: Single sign-on › SAML Certificates › Federation Metadata XML.',
    entityId: 'In Entra: Microsoft Entra Identifier (https://sts.windows.net/<tenant id>/).',
    ssoUrl: 'In Entra: Login URL.',
    sloUrl: 'In Entra: Logout URL.',
    certificate: 'In Entra: SAML Certificates › Certificate (Base64) or (Raw). Add the next certificate too during a rollover.',
  },
  okta: {
    metadataUrl: 'In Okta: the application’s Sign On tab › SAML 2.0 › Metadata URL.',
    urlPlaceholder: 'https://your-org.okta.com/app/…/sso/saml/metadata',
    metadataFile: 'In Okta: the application’s Sign On tab › SAML 2.0 › Metadata details (save the metadata as a file).',
    entityId: 'In Okta: View SAML setup instructions › Identity Provider Issuer (http://www.okta.com/…).',
    ssoUrl: 'In Okta: Identity Provider Single Sign-On URL.',
    sloUrl: 'In Okta: Identity Provider Single Logout URL, when single logout is on.',
    certificate: 'In Okta: X.509 Certificate (download okta.cert).',
  },
  other: {
    metadataUrl: 'The address where your identity provider publishes its SAML 2.0 metadata.',
    urlPlaceholder: 'https://',
    metadataFile: 'Your identity provider’s SAML 2.0 metadata (an EntityDescriptor with an IDPSSODescriptor).',
    entityId: 'The identity provider’s entity ID (its Issuer).',
    ssoUrl: 'Its single sign-on service URL (HTTP-Redirect binding).',
    sloUrl: 'Its single logout service URL.',
    certificate: 'The certificate it signs responses with (.cer, .crt or .pem).',
  },
};

/** The provider an existing connection trusts, as far as its entity ID tells. */
export function providerOf(idpEntityId: string): Provider {
  if (/^https:\/\/sts\.windows\.net\//.test(idpEntityId)) return 'entra';
  if (/okta\.com/.test(idpEntityId)) return 'okta';
  return 'other';
}

/** The request fields for the chosen way, or what is still missing. */
export function sourceBody(s: SourceState, provider: Provider = 'entra'): { body: IdpSourceBody } | { missing: string } {
  const where = WHERE[provider];
  if (s.mode === 'file') {
    if (!s.file) return { missing: `Choose the identity provider's metadata XML file. ${where.metadataFile}` };
    if (!s.file.wellFormed) return { missing: `${s.file.name} is not an XML document. Choose the metadata XML file your identity provider offers.` };
    return { body: { metadataXml: s.file.xml } };
  }
  if (s.mode === 'url') {
    const url = s.url.trim();
    if (!url) return { missing: `Enter the metadata URL. ${where.metadataUrl}` };
    if (!/^https?:\/\//i.test(url)) return { missing: 'The metadata URL starts with https://.' };
    return { body: { metadataUrl: url } };
  }
  if (PRIVATE_KEY.test(s.pem)) {
    return { missing: 'The pasted text holds a private key. Never paste private keys here (if it left the identity provider, rotate it): paste only the certificate, -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----.' };
  }
  const certificates = [...s.certFiles.map((c) => c.data), ...certificatesFromText(s.pem)];
  if (!s.entityId.trim()) return { missing: `Enter the identity provider's entity ID. ${where.entityId}` };
  if (!s.ssoUrl.trim()) return { missing: `Enter the sign-in URL. ${where.ssoUrl}` };
  if (!certificates.length) return { missing: 'Add the signing certificate: upload the file or paste it as PEM.' };
  return { body: { entityId: s.entityId.trim(), ssoUrl: s.ssoUrl.trim(), ...(s.sloUrl.trim() ? { sloUrl: s.sloUrl.trim() } : {}), certificates } };
}

const MODES: { mode: SourceMode; label: string; icon: 'upload' | 'link' | 'settings' }[] = [
  { mode: 'url', label: 'Metadata URL', icon: 'link' },
  { mode: 'file', label: 'Upload metadata XML', icon: 'upload' },
  { mode: 'manual', label: 'Enter manually', icon: 'settings' },
];

export function IdpSourcePicker({ value, onChange, provider = 'other' }: { value: SourceState; onChange: (next: SourceState) => void; provider?: Provider }) {
  const where = WHERE[provider];
  const base = useId();
  const [readError, setReadError] = useState<string | null>(null);
  const [dragging, setDragging] = useState(false);
  const set = (patch: Partial<SourceState>) => onChange({ ...value, ...patch });

  const takeMetadata = async (file: File | undefined) => {
    setReadError(null);
    if (!file) return;
    if (file.size > MAX_METADATA_BYTES) return setReadError(`${file.name} is larger than 1 MiB: that is not a metadata document.`);
    try {
      const xml = await readAsText(file);
      set({ file: { name: file.name, size: file.size, xml, ...inspectMetadata(xml) } });
    } catch (err) {
      setReadError(errorMessage(err));
    }
  };

  const takeCertificates = async (files: FileList | null) => {
    setReadError(null);
    if (!files?.length) return;
    try {
      const read = await Promise.all([...files].map(async (f) => ({ name: f.name, data: await certificateFromFile(f) })));
      set({ certFiles: [...value.certFiles, ...read].slice(0, 10) });
    } catch (err) {
      setReadError(errorMessage(err));
    }
  };

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setDragging(false);
    void takeMetadata(e.dataTransfer.files[0]);
  };

  return (
    <div className="source-picker">
      <div className="segmented source-tabs" role="tablist" aria-label="How to describe the identity provider">
        {MODES.map((m) => (
          <button
            key={m.mode}
            type="button"
            role="tab"
            id={`${base}-tab-${m.mode}`}
            aria-controls={`${base}-panel`}
            aria-selected={value.mode === m.mode}
            className={value.mode === m.mode ? 'seg active' : 'seg'}
            onClick={() => set({ mode: m.mode })}
            data-testid={`source-tab-${m.mode}`}
          >
            <Icon name={m.icon} size={14} />
            {m.label}
          </button>
        ))}
      </div>
      <div id={`${base}-panel`} role="tabpanel" aria-labelledby={`${base}-tab-${value.mode}`} className="source-panel">
        {value.mode === 'file' && (
          <>
            <label
              className={dragging ? 'dropzone dragging' : value.file ? 'dropzone has-file' : 'dropzone'}
              onDragOver={(e) => {
                e.preventDefault();
                setDragging(true);
              }}
              onDragLeave={() => setDragging(false)}
              onDrop={onDrop}
            >
              <input
                type="file"
                className="sr-only-input"
                accept=".xml,application/xml,text/xml,application/samlmetadata+xml"
                onChange={(e) => {
                  void takeMetadata(e.target.files?.[0]);
                  e.target.value = '';
                }}
                data-testid="source-metadata-file"
              />
              <span className="dropzone-icon" aria-hidden="true">
                <Icon name={value.file ? 'note' : 'upload'} size={22} />
              </span>
              {value.file ? (
                <span className="dropzone-text">
                  <strong>{value.file.name}</strong>
                  <span className="muted small">
                    {(value.file.size / 1024).toFixed(1)} KB · choose another file or drop it here
                  </span>
                </span>
              ) : (
                <span className="dropzone-text">
                  <strong>Choose the metadata XML file</strong>
                  <span className="muted small">or drop it here. {where.metadataFile}</span>
                </span>
              )}
            </label>
            {value.file && value.file.wellFormed && value.file.isIdp && value.file.entityId && (
              <p className="small source-found" data-testid="metadata-entity-id">
                <Icon name="check" size={14} /> Identity provider <span className="mono wrap">{value.file.entityId}</span>
              </p>
            )}
            {value.file && value.file.wellFormed && !value.file.isIdp && (
              <p className="field-hint error-text">This document describes no identity provider (no IDPSSODescriptor). Is it Keydesk's own metadata?</p>
            )}
            {value.file && !value.file.wellFormed && <p className="field-hint error-text">{value.file.name} is not well-formed XML.</p>}
          </>
        )}
        {value.mode === 'url' && (
          <Field label="Metadata URL" hint={`${where.metadataUrl} Keydesk fetches it now and every day, so certificate rollovers are picked up.`}>
            {(id, d) => (
              <input
                id={id}
                type="url"
                inputMode="url"
                aria-describedby={d}
                placeholder={where.urlPlaceholder}
                value={value.url}
                onChange={(e) => set({ url: e.target.value })}
                data-testid="source-metadata-url"
              />
            )}
          </Field>
        )}
        {value.mode === 'manual' && (
          <div className="stack">
            <Field label="Identity provider entity ID" hint={where.entityId}>
              {(id, d) => <input id={id} aria-describedby={d} spellCheck={false} value={value.entityId} onChange={(e) => set({ entityId: e.target.value })} data-testid="source-entity-id" />}
            </Field>
            <div className="grid-2">
              <Field label="Sign-in URL" hint={where.ssoUrl}>
                {(id, d) => <input id={id} type="url" aria-describedby={d} spellCheck={false} placeholder="https://" value={value.ssoUrl} onChange={(e) => set({ ssoUrl: e.target.value })} data-testid="source-sso-url" />}
              </Field>
              <Field label={<>Sign-out URL <span className="muted">(optional)</span></>} hint={where.sloUrl}>
                {(id, d) => <input id={id} type="url" aria-describedby={d} spellCheck={false} placeholder="https://" value={value.sloUrl} onChange={(e) => set({ sloUrl: e.target.value })} data-testid="source-slo-url" />}
              </Field>
            </div>
            <div className="field">
              <span className="field-label">Signing certificate</span>
              <label className="file-button">
                <input
                  type="file"
                  className="sr-only-input"
                  accept=".cer,.crt,.pem,application/x-x509-ca-cert,application/pkix-cert,application/x-pem-file"
                  multiple
                  onChange={(e) => {
                    void takeCertificates(e.target.files);
                    e.target.value = '';
                  }}
                  data-testid="source-cert-file"
                />
                <Icon name="upload" size={15} /> Upload .cer, .crt or .pem
              </label>
              {value.certFiles.length > 0 && (
                <ul className="file-list">
                  {value.certFiles.map((c, i) => (
                    <li key={`${c.name}-${i}`}>
                      <Icon name="key" size={14} />
                      <span className="mono small">{c.name}</span>
                      <button type="button" className="icon-btn small" aria-label={`Remove ${c.name}`} onClick={() => set({ certFiles: value.certFiles.filter((_, j) => j !== i) })}>
                        <Icon name="x" size={14} />
                      </button>
                    </li>
                  ))}
                </ul>
              )}
              <p className="field-hint">{where.certificate}</p>
            </div>
            <Field label={<>Or paste the certificate <span className="muted">(PEM)</span></>}>
              {(id) => (
                <textarea
                  id={id}
                  className="mono pem-input"
                  rows={4}
                  spellCheck={false}
                  placeholder={'-----BEGIN CERTIFICATE-----\nMIIC8DCCAdigAwIBAgIQ…\n-----END CERTIFICATE-----'}
                  value={value.pem}
                  onChange={(e) => set({ pem: e.target.value })}
                  data-testid="source-cert-pem"
                />
              )}
            </Field>
          </div>
        )}
        {readError && <p className="field-hint error-text">{readError}</p>}
      </div>
    </div>
  );
}

/* ---------- Options ---------- */

export function Check({ checked, onChange, title, children, testId }: { checked: boolean; onChange: (v: boolean) => void; title: ReactNode; children?: ReactNode; testId?: string }) {
  return (
    <label className="check">
      <input type="checkbox" checked={checked} onChange={(e) => onChange(e.target.checked)} data-testid={testId} />
      <span>
        <strong>{title}</strong>
        {children && <span className="muted small">{children}</span>}
      </span>
    </label>
  );
}

export interface Options {
  allowIdpInitiated: boolean;
  jit: boolean;
  waitingRoom: boolean;
}

export function OptionChecks({ value, onChange, protocol = 'saml' }: { value: Options; onChange: (v: Options) => void; protocol?: 'saml' | 'oidc' }) {
  return (
    <div className="checks">
      {protocol === 'saml' && (
        <Check title="Allow sign-in started from the identity provider (My Apps tile)" checked={value.allowIdpInitiated} onChange={(v) => onChange({ ...value, allowIdpInitiated: v })} testId="opt-idp-initiated">
          People can open Keydesk from their identity provider's app launcher, not only from Keydesk's sign-in page.
        </Check>
      )}
      <Check title="Create accounts on first sign-in (just-in-time)" checked={value.jit} onChange={(v) => onChange({ ...value, jit: v })} testId="opt-jit">
        Anyone your identity provider lets in gets a Keydesk account. When off, only people who already have one can sign in.
      </Check>
      <p className="muted small" data-testid="linking-rule">
        Each Keydesk account is bound to one identity of this connection, and a changed email or name follows the identity provider. A
        new identity never enters an account that another identity (of this or another connection) already signs in to. An existing
        account is linked by its email only when the address&apos;s domain is verified under Domains or SCIM provisioned the account;
        break-glass accounts are never linked.
      </p>
      <Check title="Waiting room: new users wait until an admin grants access" checked={value.waitingRoom} onChange={(v) => onChange({ ...value, waitingRoom: v })} testId="opt-waiting-room">
        New accounts start without roles; they can use Keydesk once you give them one, or a group rule does.
      </Check>
    </div>
  );
}

export const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;
const SLUG_RULE = 'A short name has 1–40 lowercase letters, digits or inner hyphens, such as entra or okta.';

type SpKey = 'identifier' | 'replyUrl' | 'signOnUrl' | 'logoutUrl';
export type SpValues = Record<SpKey, string>;

/** The four values an identity provider needs, for a connection slug (`spBaseUrl` from GET /sso/connections). */
export function spValuesFor(spBaseUrl: string, connSlug: string): SpValues {
  const root = `${spBaseUrl}/${connSlug}`;
  return { identifier: `${root}/metadata`, replyUrl: `${root}/acs`, signOnUrl: `${root}/login`, logoutUrl: `${root}/slo` };
}

/** `base`, or `base-2`, `base-3`… when a connection already has that short name. */
export function freeSlug(base: string, taken: string[]): string {
  if (!taken.includes(base)) return base;
  for (let i = 2; ; i++) if (!taken.includes(`${base}-${i}`)) return `${base}-${i}`;
}

/* ---------- Add a connection ---------- */

/**
 * What differs between identity providers in the add-connection flow: the names their admin pages
 * give Keydesk's values, where those pages are, and where the provider's metadata URL is found.
 */
const PROVIDERS: Record<Provider, { label: string; slug: string; button: string; labels: Partial<Record<SpKey, string>>; where: string; idpWhere: string }> = {
  entra: {
    label: 'Microsoft Entra ID',
    slug: 'entra',
    button: 'Microsoft',
    labels: {},
    where:
      'In the Entra admin center: Enterprise applications › New application › Create your own application (not in the gallery) › Single sign-on › SAML › Basic SAML Configuration › Edit. Paste the Identifier and the Reply URL; the other two are optional. Then assign the people or groups who should sign in (Users and groups).',
    idpWhere: 'On the same Single sign-on page, under SAML Certificates: copy the App Federation Metadata Url and paste it here. Keydesk fetches it now and every day, so certificate rollovers need nothing from you.',
  },
  okta: {
    label: 'Okta',
    slug: 'okta',
    button: 'Okta',
    labels: { identifier: 'Audience URI (SP Entity ID)', replyUrl: 'Single sign-on URL', signOnUrl: 'Sign on URL', logoutUrl: 'Single Logout URL' },
    where:
      'In the Okta Admin Console: Applications › Create App Integration › SAML 2.0 › Configure SAML. Paste the Single sign-on URL and the Audience URI; Name ID format: EmailAddress or Persistent. Add a Group Attribute Statement named “groups” to give roles by group. Then assign the people or groups.',
    idpWhere: 'On the application’s Sign On tab, under SAML 2.0: copy the Metadata URL and paste it here.',
  },
  other: {
    label: 'Other SAML 2.0',
    slug: 'sso',
    button: '',
    labels: {},
    where: 'Register Keydesk as a SAML 2.0 service provider (relying party) with these values. Keydesk takes the identity provider’s signed responses by HTTP-POST at the Reply URL.',
    idpWhere: 'Give Keydesk the identity provider’s metadata: its URL, the XML file, or the entity ID, sign-in URL and signing certificate by hand.',
  },
};

/** Where an existing connection's values go, and their names there. */
export function spSetupFor(provider: Provider): { labels: Partial<Record<SpKey, string>>; where: string } {
  const where = {
    entra: 'In Entra: Enterprise applications › your app › Single sign-on › Basic SAML Configuration.',
    okta: 'In Okta: your app › General › SAML Settings › Edit.',
    other: 'In your identity provider’s settings for Keydesk.',
  }[provider];
  return { labels: PROVIDERS[provider].labels, where };
}

/** The values as text for one paste: a label and a value per line. */
function valuesText(values: SpValues, labels: Partial<Record<SpKey, string>>): string {
  return SP_ROWS.map((r) => `${labels[r.key] ?? r.label}: ${values[r.key]}`).join('\n');
}

/**
 * Add a SAML connection in the order an admin works: pick the provider, copy Keydesk's values into
 * it, paste its metadata URL back. The short name, button label and options have working defaults.
 */
export function NewConnectionForm({
  spBaseUrl,
  rpBaseUrl,
  takenSlugs,
  onCreated,
  onCancel,
}: {
  spBaseUrl: string;
  rpBaseUrl: string;
  takenSlugs: string[];
  onCreated: (c: SsoConnection) => void;
  onCancel: () => void;
}) {
  const [protocol, setProtocol] = useState<'saml' | 'oidc'>('saml');
  const [provider, setProvider] = useState<Provider>('entra');
  return (
    <div className="stack-lg">
      <div className="row wrap-row">
        <div className="segmented" role="radiogroup" aria-label="Protocol">
          {(['saml', 'oidc'] as const).map((p) => (
            <button key={p} type="button" role="radio" aria-checked={protocol === p} className={protocol === p ? 'seg active' : 'seg'} onClick={() => setProtocol(p)} data-testid={`protocol-${p}`}>
              {p === 'saml' ? 'SAML 2.0' : 'OpenID Connect'}
            </button>
          ))}
        </div>
        <div className="segmented provider-tabs" role="radiogroup" aria-label="Identity provider">
          {(Object.keys(PROVIDERS) as Provider[]).map((p) => (
            <button key={p} type="button" role="radio" aria-checked={provider === p} className={provider === p ? 'seg active' : 'seg'} onClick={() => setProvider(p)} data-testid={`provider-${p}`}>
              {p === 'other' ? (protocol === 'saml' ? 'Other SAML 2.0' : 'Other OpenID provider') : PROVIDERS[p].label}
            </button>
          ))}
        </div>
      </div>
      {protocol === 'saml' ? (
        <SamlConnectionForm key={provider} provider={provider} spBaseUrl={spBaseUrl} takenSlugs={takenSlugs} onCreated={onCreated} onCancel={onCancel} />
      ) : (
        <NewOidcConnectionForm key={provider} provider={provider} rpBaseUrl={rpBaseUrl} takenSlugs={takenSlugs} onCreated={onCreated} onCancel={onCancel} />
      )}
    </div>
  );
}

function SamlConnectionForm({
  provider,
  spBaseUrl,
  takenSlugs,
  onCreated,
  onCancel,
}: {
  provider: Provider;
  spBaseUrl: string;
  takenSlugs: string[];
  onCreated: (c: SsoConnection) => void;
  onCancel: () => void;
}) {
  const slugInput = useRef<HTMLInputElement>(null);
  const [slug, setSlug] = useState(() => freeSlug(PROVIDERS[provider].slug, takenSlugs));
  const [displayName, setDisplayName] = useState('');
  const [source, setSource] = useState<SourceState>(emptySource('url'));
  const [options, setOptions] = useState<Options>({ allowIdpInitiated: true, jit: true, waitingRoom: false });
  const { busy, error, setError, create } = useCreateConnection(onCreated);
  const preset = PROVIDERS[provider];
  const slugValid = SLUG.test(slug);
  const values = slugValid ? spValuesFor(spBaseUrl, slug) : null;
  const buttonLabel = displayName.trim() || preset.button;

  // Said once, where it belongs: a short name's fault under the short name, the rest above the buttons.
  const slugServerError = error instanceof ApiError && (error.code === 'connection_exists' || error.errors.some((x) => x.field === 'slug')) ? error.message : undefined;
  const slugError = !slug ? 'Give the connection a short name, such as entra or okta.' : !slugValid ? SLUG_RULE : slugServerError;
  const formError = slugServerError ? null : error;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (busy) return;
    setError(null);
    if (!slugValid) return slugInput.current?.focus();
    const src = sourceBody(source, provider);
    if ('missing' in src) return setError(src.missing);
    await create({ slug, ...(buttonLabel ? { displayName: buttonLabel } : {}), ...src.body, ...options });
  };

  return (
    <form className="stack-lg" onSubmit={submit} noValidate aria-busy={busy} data-testid="new-connection-form">
      <SetupStep id="sp-step-h" n={1} title={<>Paste these values into {provider === 'other' ? 'your identity provider' : preset.label}</>}>
        <p className="muted small section-note">{preset.where}</p>
        {values ? (
          <>
            <SpValueList values={values} labels={preset.labels} />
            <div className="row">
              <CopyButton text={valuesText(values, preset.labels)} label="Copy all four" className="btn small" testId="copy-all-sp-values" title="Copy every value, one per line with its name" />
            </div>
          </>
        ) : (
          <p className="muted small">The values appear as soon as the short name below is valid.</p>
        )}
        <Field label="Short name" hint="The last part of these addresses. It cannot be changed once the connection exists." error={slugError}>
          {(id, d) => (
            <input
              id={id}
              ref={slugInput}
              className="slug-input"
              aria-describedby={d}
              autoCapitalize="none"
              spellCheck={false}
              maxLength={40}
              value={slug}
              aria-invalid={!slugValid || undefined}
              onChange={(e) => {
                setSlug(e.target.value.toLowerCase().replace(/\s+/g, '-'));
                if (slugServerError) setError(null);
              }}
              data-testid="connection-slug"
            />
          )}
        </Field>
      </SetupStep>

      <SetupStep id="idp-step-h" n={2} title={<>Give Keydesk {provider === 'other' ? 'the identity provider' : preset.label}’s side</>}>
        <p className="muted small section-note">{preset.idpWhere}</p>
        <IdpSourcePicker
          value={source}
          onChange={(next) => {
            setSource(next);
            setError(null);
          }}
          provider={provider}
        />
      </SetupStep>

      <details className="setup-options">
        <summary data-testid="connection-options">
          Button label and options{' '}
          <span className="muted small">
            · “Sign in with {buttonLabel || 'the provider’s name'}” · {options.jit ? 'accounts on first sign-in' : 'existing accounts only'}
            {options.waitingRoom ? ' · waiting room' : ''}
          </span>
        </summary>
        <div className="stack">
          <Field label={<>Button label <span className="muted">(optional)</span></>} hint={<>Shown as “Sign in with {buttonLabel || '…'}”.</>}>
            {(id, d) => <input id={id} aria-describedby={d} placeholder={preset.button || 'Taken from the metadata'} maxLength={100} value={displayName} onChange={(e) => setDisplayName(e.target.value)} data-testid="connection-display-name" />}
          </Field>
          <OptionChecks value={options} onChange={setOptions} />
        </div>
      </details>

      <NewConnectionFooter error={formError} title="The identity provider's details were not accepted" testId="connection" busy={busy} onCancel={onCancel} />
    </form>
  );
}

/** One numbered step of adding a connection. */
export function SetupStep({ id, n, title, children }: { id: string; n: number; title: ReactNode; children: ReactNode }) {
  return (
    <section className="stack setup-step" aria-labelledby={id}>
      <h3 id={id} className="h4">
        <span className="step-number">{n}</span> {title}
      </h3>
      {children}
    </section>
  );
}

/** The end of a new-connection form: what happens next, the refusal, and the buttons (`testId`-error, `testId`-submit). */
export function NewConnectionFooter({ error, title, testId, busy, onCancel }: { error: unknown; title: string; testId: string; busy: boolean; onCancel: () => void }) {
  return (
    <>
      <p className="muted small">The connection starts in testing: only your test sign-in uses it until a test passes, then its button goes on the sign-in page.</p>
      <ProblemNotice error={error} title={title} testId={`${testId}-error`} />
      <FormActions onCancel={onCancel}>
        <SubmitButton busy={busy} icon="plus" testId={`${testId}-submit`}>
          Add connection
        </SubmitButton>
      </FormActions>
    </>
  );
}

/**
 * Posts a new connection and hands it to `onCreated`; a refusal is kept in `error` (where the form's
 * own checks put theirs too). Busy stays on after success: the form is on its way out.
 */
export function useCreateConnection(onCreated: (c: SsoConnection) => void) {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const create = async (body: object) => {
    setBusy(true);
    try {
      onCreated(await api.post<SsoConnection>('/sso/connections', body));
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return { busy, error, setError, create };
}

/* ---------- The values for the identity provider ---------- */

const SP_ROWS: { key: SpKey; label: string; note?: string; testId: string }[] = [
  { key: 'identifier', label: 'Identifier (Entity ID)', testId: 'copy-identifier' },
  { key: 'replyUrl', label: 'Reply URL (Assertion Consumer Service URL)', testId: 'copy-reply-url' },
  { key: 'signOnUrl', label: 'Sign on URL', note: 'optional', testId: 'copy-sign-on-url' },
  { key: 'logoutUrl', label: 'Logout URL', note: 'optional', testId: 'copy-logout-url' },
];

/** Keydesk's values with a copy button each; `labels` renames them as a provider's admin page does. */
export function SpValueList({ values, labels = {} }: { values: SpValues; labels?: Partial<Record<SpKey, string>> }) {
  return (
    <dl className="sp-values">
      {SP_ROWS.map((r) => (
        <CopyableValue
          key={r.key}
          term={
            <>
              {labels[r.key] ?? r.label}
              {r.note && <span className="muted"> ({r.note})</span>}
            </>
          }
          value={values[r.key]}
          testId={`sp-${r.key}`}
          copyTestId={r.testId}
          copyTitle={`Copy the ${labels[r.key] ?? r.label}`}
        >
          <BreakableUrl url={values[r.key]} />
        </CopyableValue>
      ))}
    </dl>
  );
}

/** An OpenID Connect connection's values to register at the provider, each with a copy button. */
export function RpValueList({ values }: { values: Pick<OidcSsoConnection['oidc'], 'redirectUri' | 'backchannelLogoutUri' | 'postLogoutRedirectUri'> }) {
  const rows = [
    { label: 'Redirect URI', value: values.redirectUri, testId: 'copy-redirect-uri' },
    { label: 'Back-channel logout URI', note: 'optional; Okta and most providers, not Entra', value: values.backchannelLogoutUri, testId: 'copy-backchannel-uri' },
    { label: 'Post-logout redirect URI', note: 'for signing out at the provider; in Entra, add it as another Web redirect URI', value: values.postLogoutRedirectUri, testId: 'copy-post-logout-uri' },
  ];
  return (
    <dl className="sp-values">
      {rows.map((r) => (
        <CopyableValue
          key={r.label}
          term={
            <>
              {r.label}
              {r.note && <span className="muted"> ({r.note})</span>}
            </>
          }
          value={r.value}
          testId={r.testId.replace('copy-', 'rp-')}
          copyTestId={r.testId}
          copyTitle={`Copy the ${r.label}`}
        >
          <BreakableUrl url={r.value} />
        </CopyableValue>
      ))}
    </dl>
  );
}

/* ---------- Settings ---------- */

const ATTRIBUTE_LABELS: Record<AttributeKey, { label: string; defaults: string }> = {
  email: { label: 'Email', defaults: '…/claims/emailaddress, email, mail' },
  givenName: { label: 'Given name', defaults: '…/claims/givenname, firstName' },
  surname: { label: 'Surname', defaults: '…/claims/surname, lastName' },
  displayName: { label: 'Display name', defaults: '…/identity/claims/displayname, displayName' },
  groups: { label: 'Groups', defaults: '…/claims/groups, groups, memberOf' },
  subject: { label: 'Subject (stable user ID)', defaults: '…/identity/claims/objectidentifier, else the NameID' },
};

/**
 * The settings every connection has (button label, enabled, accounts, clock skew), their state,
 * and saving: `collect` gives what changed of them (or what is wrong), `save` sends a patch and, on
 * a refusal because of what it would do to the tenant (409), puts the Enabled switch back to what
 * is saved.
 */
export function useConnectionSettings(c: SsoConnection, onSaved: (c: SsoConnection) => void, onCancel: () => void, allowIdpInitiated = false) {
  const [displayName, setDisplayName] = useState(c.displayName);
  const [enabled, setEnabled] = useState(c.enabled);
  const [options, setOptions] = useState<Options>({ allowIdpInitiated, jit: c.jit, waitingRoom: c.waitingRoom });
  const [skew, setSkew] = useState(String(c.clockSkewSeconds));
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const collect = (): Record<string, unknown> | string => {
    const patch: Record<string, unknown> = {};
    if (!displayName.trim()) return 'The button label cannot be empty.';
    if (displayName.trim() !== c.displayName) patch.displayName = displayName.trim();
    if (enabled !== c.enabled) patch.enabled = enabled;
    if (options.jit !== c.jit) patch.jit = options.jit;
    if (options.waitingRoom !== c.waitingRoom) patch.waitingRoom = options.waitingRoom;
    if (!/^\d+$/.test(skew.trim()) || Number(skew) > 600) return 'The clock skew is a whole number of seconds from 0 to 600.';
    if (Number(skew) !== c.clockSkewSeconds) patch.clockSkewSeconds = Number(skew);
    return patch;
  };
  const save = async (patch: Record<string, unknown>) => {
    if (Object.keys(patch).length === 0) return onCancel();
    setBusy(true);
    setError(null);
    try {
      onSaved(await api.patch<SsoConnection>(`/sso/connections/${c.id}`, patch));
    } catch (err) {
      setError(err);
      setBusy(false);
      if (err instanceof ApiError && err.status === 409) setEnabled(c.enabled);
    }
  };
  return { displayName, setDisplayName, enabled, setEnabled, options, setOptions, skew, setSkew, error, setError, busy, collect, save };
}

export function ConnectionSettingsForm({ connection: c, onSaved, onCancel }: { connection: SamlSsoConnection; onSaved: (c: SsoConnection) => void; onCancel: () => void }) {
  const { displayName, setDisplayName, enabled, setEnabled, options, setOptions, skew, setSkew, error, setError, busy, collect, save } = useConnectionSettings(c, onSaved, onCancel, c.allowIdpInitiated);
  const [allowSha1, setAllowSha1] = useState(c.allowSha1);
  const knownMap = c.attributeMap !== undefined;
  const [attrs, setAttrs] = useState<Record<AttributeKey, string>>(() => Object.fromEntries(ATTRIBUTE_KEYS.map((k) => [k, c.attributeMap?.[k] ?? ''])) as Record<AttributeKey, string>);
  const [attrsTouched, setAttrsTouched] = useState(false);
  const [replace, setReplace] = useState(false);
  const [source, setSource] = useState<SourceState>(() => emptySource(c.idp.metadataUrl ? 'url' : 'file', c.idp.metadataUrl ?? ''));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (busy) return;
    const patch = collect();
    if (typeof patch === 'string') return setError(patch);
    if (options.allowIdpInitiated !== c.allowIdpInitiated) patch.allowIdpInitiated = options.allowIdpInitiated;
    if (allowSha1 !== c.allowSha1) patch.allowSha1 = allowSha1;
    if (attrsTouched) patch.attributeMap = Object.fromEntries(ATTRIBUTE_KEYS.map((k) => [k, attrs[k].trim()]));
    if (replace) {
      const src = sourceBody(source, providerOf(c.idp.entityId));
      if ('missing' in src) return setError(src.missing);
      Object.assign(patch, src.body);
    }
    await save(patch);
  };

  return (
    <form className="stack-lg" onSubmit={submit} noValidate aria-busy={busy} data-testid="connection-settings">
      <section className="stack" aria-labelledby="set-general-h">
        <h3 id="set-general-h" className="h4">
          General
        </h3>
        <div className="grid-2">
          <Field label="Button label" hint={<>“Sign in with {displayName.trim() || c.displayName}”</>}>
            {(id, d) => <input id={id} aria-describedby={d} maxLength={100} value={displayName} onChange={(e) => setDisplayName(e.target.value)} data-testid="settings-display-name" />}
          </Field>
          <Field label="Short name" hint="Fixed: it is part of the addresses your identity provider knows.">
            {(id, d) => <input id={id} aria-describedby={d} value={c.slug} disabled readOnly />}
          </Field>
        </div>
        <Check title="Enabled" checked={enabled} onChange={setEnabled} testId="settings-enabled">
          When off, the sign-in button disappears and the identity provider's responses are refused.
        </Check>
      </section>

      <section className="stack" aria-labelledby="set-signin-h">
        <h3 id="set-signin-h" className="h4">
          Sign-in
        </h3>
        <OptionChecks value={options} onChange={setOptions} />
      </section>

      <section className="stack" aria-labelledby="set-sec-h">
        <h3 id="set-sec-h" className="h4">
          Security
        </h3>
        <label className={allowSha1 ? 'check warn' : 'check'}>
          <input type="checkbox" checked={allowSha1} onChange={(e) => setAllowSha1(e.target.checked)} data-testid="settings-allow-sha1" />
          <span>
            <strong>Accept SHA-1 signatures</strong>
            <span className="small warn-text">
              <Icon name="alert" size={13} /> Only if your identity provider cannot sign with SHA-256
            </span>
          </span>
        </label>
        <Field label="Allowed clock difference" hint="How far the identity provider's clock may be off from Keydesk's, 0–600 seconds. The default of a few minutes suits almost everyone.">
          {(id, d) => (
            <div className="input-suffix">
              <input id={id} type="number" inputMode="numeric" min={0} max={600} step={1} aria-describedby={d} value={skew} onChange={(e) => setSkew(e.target.value)} data-testid="settings-clock-skew" />
              <span className="suffix" aria-hidden="true">
                seconds
              </span>
            </div>
          )}
        </Field>
      </section>

      <section className="stack" aria-labelledby="set-attr-h">
        <div>
          <h3 id="set-attr-h" className="h4">
            Attribute names
          </h3>
          <p className="muted small section-note">
            Which SAML attributes Keydesk reads. Leave a field empty to use the defaults, which cover Entra and Okta.
            {!knownMap && ' Saving replaces every name at once: fill in each override you want to keep.'}
          </p>
        </div>
        <div className="grid-2 attr-grid">
          {ATTRIBUTE_KEYS.map((k) => (
            <Field key={k} label={ATTRIBUTE_LABELS[k].label}>
              {(id) => (
                <input
                  id={id}
                  spellCheck={false}
                  maxLength={300}
                  placeholder={`Default: ${ATTRIBUTE_LABELS[k].defaults}`}
                  value={attrs[k]}
                  onChange={(e) => {
                    setAttrs({ ...attrs, [k]: e.target.value });
                    setAttrsTouched(true);
                  }}
                  data-testid={`settings-attr-${k}`}
                />
              )}
            </Field>
          ))}
        </div>
      </section>

      <section className="stack" aria-labelledby="set-idp-h">
        <h3 id="set-idp-h" className="h4">
          Identity provider
        </h3>
        <Check title="Replace the identity provider's side" checked={replace} onChange={setReplace} testId="settings-replace-idp">
          New metadata, URL or certificate. Another identity provider (a different entity ID or sign-in URL) puts the connection back in testing until a test sign-in passes.
        </Check>
        {replace && <IdpSourcePicker value={source} onChange={setSource} provider={providerOf(c.idp.entityId)} />}
      </section>

      <SettingsFooter error={error} testId="settings" busy={busy} onCancel={onCancel} />
    </form>
  );
}

/** The end of a connection's settings form: the refusal and the buttons (`testId`-error, `testId`-submit). */
export function SettingsFooter({ error, testId, busy, onCancel }: { error: unknown; testId: string; busy: boolean; onCancel: () => void }) {
  return (
    <>
      <ProblemNotice error={error} title="The changes were not saved" testId={`${testId}-error`} />
      <FormActions onCancel={onCancel}>
        <SubmitButton busy={busy} testId={`${testId}-submit`}>
          Save changes
        </SubmitButton>
      </FormActions>
    </>
  );
}
