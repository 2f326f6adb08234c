import { useEffect, useId, useRef, useState, type DragEvent, type FormEvent, type ReactNode } from 'react';
import { api, ApiError, errorMessage } from '../api';
import type { AttributeKey, IdpSourceBody, SsoConnection } from '../types';
import { ATTRIBUTE_KEYS } from '../types';
import { CopyButton, Field, Icon, Spinner, FormActions } from './ui';

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

/** The request fields for the chosen way, or what is still missing. */
export function sourceBody(s: SourceState): { body: IdpSourceBody } | { missing: string } {
  if (s.mode === 'file') {
    if (!s.file) return { missing: "Choose the identity provider's metadata XML file (in Entra: Federation Metadata XML)." };
    if (!s.file.wellFormed) return { missing: `${s.file.name} is not an XML document. Choose the metadata XML file your identity provider offers.` };
    return { body: { metadataXml: s.file.xml } };
  }
  if (s.mode === 'url') {
    const url = s.url.trim();
    if (!url) return { missing: 'Enter the metadata URL (in Entra: App Federation Metadata Url).' };
    if (!/^https?:\/\//i.test(url)) return { missing: 'The metadata URL starts with https://.' };
    return { body: { metadataUrl: url } };
  }
  const certificates = [...s.certFiles.map((c) => c.data), ...certificatesFromText(s.pem)];
  if (!s.entityId.trim()) return { missing: "Enter the identity provider's entity ID (in Entra: Microsoft Entra Identifier)." };
  if (!s.ssoUrl.trim()) return { missing: 'Enter the sign-in URL (in Entra: Login URL).' };
  if (!certificates.length) return { missing: 'Add the signing certificate: upload the file or paste it as PEM.' };
  return { body: { entityId: s.entityId.trim(), ssoUrl: s.ssoUrl.trim(), ...(s.sloUrl.trim() ? { sloUrl: s.sloUrl.trim() } : {}), certificates } };
}

const MODES: { mode: SourceMode; label: string; icon: 'upload' | 'link' | 'settings' }[] = [
  { mode: 'file', label: 'Upload metadata XML', icon: 'upload' },
  { mode: 'url', label: 'Metadata URL', icon: 'link' },
  { mode: 'manual', label: 'Enter manually', icon: 'settings' },
];

export function IdpSourcePicker({ value, onChange }: { value: SourceState; onChange: (next: SourceState) => void }) {
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
                  <span className="muted small">or drop it here. In Entra: Single sign-on › SAML Certificates › Federation Metadata XML.</span>
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
          <Field label="Metadata URL" hint="Keydesk fetches it now and refreshes it every day, so certificate rollovers are picked up. In Entra: App Federation Metadata Url.">
            {(id, d) => (
              <input
                id={id}
                type="url"
                inputMode="url"
                aria-describedby={d}
                placeholder="https://login.microsoftonline.com/…/federationmetadata/2007-06/federationmetadata.xml?appid=…"
                value={value.url}
                onChange={(e) => set({ url: e.target.value })}
                data-testid="source-metadata-url"
              />
            )}
          </Field>
        )}
        {value.mode === 'manual' && (
          <div className="stack">
            <Field label="Identity provider entity ID" hint="In Entra: Microsoft Entra Identifier (https://sts.windows.net/<tenant id>/).">
              {(id, d) => <input id={id} aria-describedby={d} spellCheck={false} value={value.entityId} onChange={(e) => set({ entityId: e.target.value })} data-testid="source-entity-id" />}
            </Field>
            <div className="grid-2">
              <Field label="Sign-in URL" hint="In Entra: Login URL.">
                {(id, d) => <input id={id} type="url" aria-describedby={d} spellCheck={false} placeholder="https://" value={value.ssoUrl} onChange={(e) => set({ ssoUrl: e.target.value })} data-testid="source-sso-url" />}
              </Field>
              <Field label={<>Sign-out URL <span className="muted">(optional)</span></>} hint="In Entra: Logout URL.">
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
              <p className="field-hint">In Entra: SAML Certificates › Certificate (Base64) or (Raw). Add the next certificate too during a rollover.</p>
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

function Check({ checked, onChange, title, children, testId }: { checked: boolean; onChange: (v: boolean) => void; title: ReactNode; children?: ReactNode; testId?: string }) {
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

interface Options {
  allowIdpInitiated: boolean;
  jit: boolean;
  waitingRoom: boolean;
}

function OptionChecks({ value, onChange }: { value: Options; onChange: (v: Options) => void }) {
  return (
    <div className="checks">
      <Check title="Allow sign-in started from the identity provider (My Apps tile)" checked={value.allowIdpInitiated} onChange={(v) => onChange({ ...value, allowIdpInitiated: v })} testId="opt-idp-initiated">
        People can open Keydesk from their identity provider's app launcher, not only from Keydesk's sign-in page.
      </Check>
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

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;

/** The four values an identity provider needs, for a connection slug (`base` is the public origin). */
export function spValuesFor(base: string, tenantSlug: string, connSlug: string) {
  const root = `${base}/t/${tenantSlug}/saml/${connSlug}`;
  return { identifier: `${root}/metadata`, replyUrl: `${root}/acs`, signOnUrl: `${root}/login`, logoutUrl: `${root}/slo` };
}

/* ---------- Add a connection ---------- */

export function NewConnectionForm({
  tenantSlug,
  publicBase,
  onCreated,
  onCancel,
}: {
  tenantSlug: string;
  publicBase: string;
  onCreated: (c: SsoConnection) => void;
  onCancel: () => void;
}) {
  const [slug, setSlug] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [source, setSource] = useState<SourceState>(emptySource());
  const [options, setOptions] = useState<Options>({ allowIdpInitiated: true, jit: true, waitingRoom: false });
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const slugValid = SLUG.test(slug);
  const preview = slugValid ? spValuesFor(publicBase, tenantSlug, slug) : null;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (busy) return;
    if (!slug) return setError('Give the connection a short name, such as entra or okta.');
    if (!slugValid) return setError('A short name has 1–40 lowercase letters, digits or inner hyphens, such as entra or okta.');
    const src = sourceBody(source);
    if ('missing' in src) return setError(src.missing);
    setBusy(true);
    setError(null);
    try {
      const c = await api.post<SsoConnection>('/sso/connections', { slug, ...(displayName.trim() ? { displayName: displayName.trim() } : {}), ...src.body, ...options });
      onCreated(c);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <form className="stack-lg" onSubmit={submit} noValidate aria-busy={busy}>
      <div className="grid-2">
        <Field label="Short name" hint={<>Part of the addresses Keydesk gives your identity provider. Cannot be changed later.</>}>
          {(id, d) => (
            <input
              id={id}
              autoFocus
              aria-describedby={d}
              autoCapitalize="none"
              spellCheck={false}
              placeholder="entra"
              maxLength={40}
              value={slug}
              aria-invalid={(slug !== '' && !slugValid) || undefined}
              onChange={(e) => setSlug(e.target.value.toLowerCase().replace(/\s+/g, '-'))}
              data-testid="connection-slug"
            />
          )}
        </Field>
        <Field label={<>Button label <span className="muted">(optional)</span></>} hint={<>Shown as “Sign in with {displayName.trim() || 'Microsoft'}”.</>}>
          {(id, d) => <input id={id} aria-describedby={d} placeholder="Microsoft" maxLength={100} value={displayName} onChange={(e) => setDisplayName(e.target.value)} data-testid="connection-display-name" />}
        </Field>
      </div>
      {preview && (
        <details className="preview-values">
          <summary>Setting up the identity provider first? Its values for “{slug}”</summary>
          <SpValueList values={preview} compact />
        </details>
      )}
      <section className="stack" aria-labelledby="idp-source-h">
        <h3 id="idp-source-h" className="h4">
          Identity provider
        </h3>
        <IdpSourcePicker value={source} onChange={setSource} />
      </section>
      <section className="stack" aria-labelledby="idp-options-h">
        <h3 id="idp-options-h" className="h4">
          Options
        </h3>
        <OptionChecks value={options} onChange={setOptions} />
      </section>
      <ProblemNotice error={error} title="The identity provider's details were not accepted" testId="connection-error" />
      <FormActions onCancel={onCancel}>
        <button type="submit" className="btn primary" disabled={busy} data-testid="connection-submit">
          {busy ? <Spinner small /> : <Icon name="plus" size={16} />} Add connection
        </button>
      </FormActions>
    </form>
  );
}

/* ---------- The values for the identity provider ---------- */

const SP_ROWS: { key: 'identifier' | 'replyUrl' | 'signOnUrl' | 'logoutUrl'; label: string; note?: string; testId: string }[] = [
  { key: 'identifier', label: 'Identifier (Entity ID)', testId: 'copy-identifier' },
  { key: 'replyUrl', label: 'Reply URL (Assertion Consumer Service URL)', testId: 'copy-reply-url' },
  { key: 'signOnUrl', label: 'Sign on URL', note: 'optional', testId: 'copy-sign-on-url' },
  { key: 'logoutUrl', label: 'Logout URL', note: 'optional', testId: 'copy-logout-url' },
];

export function SpValueList({ values, compact = false }: { values: Record<'identifier' | 'replyUrl' | 'signOnUrl' | 'logoutUrl', string>; compact?: boolean }) {
  return (
    <dl className={compact ? 'sp-values compact' : 'sp-values'}>
      {SP_ROWS.map((r) => (
        <div key={r.key} className="sp-value">
          <dt>
            {r.label}
            {r.note && <span className="muted"> ({r.note})</span>}
          </dt>
          <dd>
            <code className="mono wrap">{values[r.key]}</code>
            <CopyButton text={values[r.key]} testId={compact ? undefined : r.testId} title={`Copy the ${r.label}`} />
          </dd>
        </div>
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

export function ConnectionSettingsForm({ connection: c, onSaved, onCancel }: { connection: SsoConnection; onSaved: (c: SsoConnection) => void; onCancel: () => void }) {
  const [displayName, setDisplayName] = useState(c.displayName);
  const [enabled, setEnabled] = useState(c.enabled);
  const [options, setOptions] = useState<Options>({ allowIdpInitiated: c.allowIdpInitiated, jit: c.jit, waitingRoom: c.waitingRoom });
  const [allowSha1, setAllowSha1] = useState(c.allowSha1);
  const [skew, setSkew] = useState(String(c.clockSkewSeconds));
  const knownMap = c.attributeMap !== undefined;
  const [attrs, setAttrs] = useState<Record<AttributeKey, string>>(() => Object.fromEntries(ATTRIBUTE_KEYS.map((k) => [k, c.attributeMap?.[k] ?? ''])) as Record<AttributeKey, string>);
  const [attrsTouched, setAttrsTouched] = useState(false);
  const [replace, setReplace] = useState(false);
  const [source, setSource] = useState<SourceState>(() => emptySource(c.idp.metadataUrl ? 'url' : 'file', c.idp.metadataUrl ?? ''));
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (busy) return;
    const patch: Record<string, unknown> = {};
    if (!displayName.trim()) return setError('The button label cannot be empty.');
    if (displayName.trim() !== c.displayName) patch.displayName = displayName.trim();
    if (enabled !== c.enabled) patch.enabled = enabled;
    if (options.jit !== c.jit) patch.jit = options.jit;
    if (options.waitingRoom !== c.waitingRoom) patch.waitingRoom = options.waitingRoom;
    if (options.allowIdpInitiated !== c.allowIdpInitiated) patch.allowIdpInitiated = options.allowIdpInitiated;
    if (allowSha1 !== c.allowSha1) patch.allowSha1 = allowSha1;
    const skewN = Number(skew);
    if (!/^\d+$/.test(skew.trim()) || skewN > 600) return setError('The clock skew is a whole number of seconds from 0 to 600.');
    if (skewN !== c.clockSkewSeconds) patch.clockSkewSeconds = skewN;
    if (attrsTouched) patch.attributeMap = Object.fromEntries(ATTRIBUTE_KEYS.map((k) => [k, attrs[k].trim()]));
    if (replace) {
      const src = sourceBody(source);
      if ('missing' in src) return setError(src.missing);
      Object.assign(patch, src.body);
    }
    if (Object.keys(patch).length === 0) return onCancel();
    setBusy(true);
    setError(null);
    try {
      onSaved(await api.patch<SsoConnection>(`/sso/connections/${c.id}`, patch));
    } catch (err) {
      setError(err);
      setBusy(false);
    }
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
          New metadata, URL or certificate. A different entity ID or sign-in URL means the connection has to pass a test sign-in again.
        </Check>
        {replace && <IdpSourcePicker value={source} onChange={setSource} />}
      </section>

      <ProblemNotice error={error} title="The changes were not saved" testId="settings-error" />
      <FormActions onCancel={onCancel}>
        <button type="submit" className="btn primary" disabled={busy} data-testid="settings-submit">
          {busy && <Spinner small />} Save changes
        </button>
      </FormActions>
    </form>
  );
}
