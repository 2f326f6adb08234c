import { useState, type FormEvent } from 'react';
import { api } from '../api';
import { PageHeader } from '../components/PageHeader';
import { PasswordForm } from '../components/PasswordForm';
import { CopyButton, EmptyState, ErrorNotice, Field, FormError, Icon, Loading, Notice, OtpField, RelativeTime, Spinner } from '../components/ui';
import { formatDate, ROLE_LABELS } from '../format';
import { useApi, useTitle } from '../hooks';
import { useSession } from '../session';
import type { ApiToken } from '../types';

/** `/t/:tenant/account`: password, two-step verification, personal API tokens. */
export function Account() {
  const { session } = useSession();
  useTitle('Your account', session.tenant.name);
  const u = session.user;
  return (
    <div className="page narrow-page">
      <PageHeader title="Your account" subtitle={`${u.displayName} · ${u.email}`} />
      <section className="card pad-lg" aria-labelledby="profile-h">
        <h2 id="profile-h" className="h2">
          Profile
        </h2>
        <dl className="details wide">
          <dt>Name</dt>
          <dd>{u.displayName}</dd>
          <dt>Email</dt>
          <dd>{u.email}</dd>
          <dt>Workspace</dt>
          <dd>{session.tenant.name}</dd>
          <dt>Roles</dt>
          <dd>
            <span className="chips">
              {session.roles.map((r) => (
                <span key={r} className={`chip role-${r}`}>
                  {ROLE_LABELS[r]}
                </span>
              ))}
            </span>
          </dd>
        </dl>
      </section>
      {u.source === 'local' && (
        <section className="card pad-lg" aria-labelledby="pw-h">
          <h2 id="pw-h" className="h2">
            Password
          </h2>
          <p className="muted">Changing your password signs you out everywhere else.</p>
          <PasswordForm />
        </section>
      )}
      {u.source === 'local' && <TwoStep />}
      <Tokens />
    </div>
  );
}

function TwoStep() {
  const { session, refresh } = useSession();
  const enabled = session.user.totpEnabled;
  const [enrolment, setEnrolment] = useState<{ secret: string; otpauthUri: string } | null>(null);
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [flash, setFlash] = useState<string | null>(null);

  const begin = async () => {
    setBusy(true);
    setError(null);
    setFlash(null);
    try {
      setEnrolment(await api.post<{ secret: string; otpauthUri: string }>('/me/totp'));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const submitCode = async (e: FormEvent) => {
    e.preventDefault();
    if (!/^\d{6}$/.test(code)) return setError('Enter the 6-digit code from your app.');
    setBusy(true);
    setError(null);
    try {
      if (enabled) {
        await api.delete('/me/totp', { code });
        setFlash('Two-step verification is off.');
      } else {
        await api.post('/me/totp/confirm', { code });
        setFlash('Two-step verification is on. You will be asked for a code when you sign in.');
        setEnrolment(null);
      }
      setCode('');
      await refresh();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const codeField = (label: string, submit: string) => (
    <form className="inline-form" onSubmit={submitCode} noValidate>
      <OtpField label={label} value={code} onChange={setCode} data-testid="totp-code" />
      <button type="submit" className={enabled ? 'btn danger-outline' : 'btn primary'} disabled={busy} data-testid="totp-submit">
        {busy && <Spinner small />} {submit}
      </button>
    </form>
  );

  return (
    <section className="card pad-lg" aria-labelledby="totp-h">
      <div className="card-head">
        <h2 id="totp-h" className="h2">
          Two-step verification
        </h2>
        <span className={`badge tone-${enabled ? 'green' : 'gray'}`}>
          <span className="badge-dot" aria-hidden="true" />
          {enabled ? 'On' : 'Off'}
        </span>
      </div>
      <p className="muted">A code from an authenticator app on your phone, asked for after your password, keeps your account safe even if the password leaks.</p>
      <div aria-live="polite">{flash && <Notice tone="success">{flash}</Notice>}</div>
      {enabled ? (
        codeField('To turn it off, enter a current code', 'Turn off')
      ) : enrolment ? (
        <div className="stack">
          <ol className="steps">
            <li>Open your authenticator app and add an account.</li>
            <li>
              Enter this key (time-based, 6 digits):
              <div className="secret-box">
                <code className="mono" data-testid="totp-secret">
                  {enrolment.secret.replace(/(.{4})/g, '$1 ').trim()}
                </code>
                <CopyButton text={enrolment.secret} />
              </div>
              <details>
                <summary>Or use the setup link</summary>
                <div className="secret-box">
                  <code className="mono wrap" data-testid="totp-uri">
                    {enrolment.otpauthUri}
                  </code>
                  <CopyButton text={enrolment.otpauthUri} />
                </div>
              </details>
            </li>
            <li>Enter the code the app shows to finish.</li>
          </ol>
          {codeField('Code from the app', 'Turn on')}
        </div>
      ) : (
        <button type="button" className="btn primary" onClick={() => void begin()} disabled={busy} data-testid="totp-begin">
          {busy ? <Spinner small /> : <Icon name="shield" size={16} />} Set up two-step verification
        </button>
      )}
      <FormError error={error} />
    </section>
  );
}

function Tokens() {
  const tokens = useApi<{ items: ApiToken[] }>('/me/tokens');
  const [name, setName] = useState('');
  const [days, setDays] = useState('90');
  const [created, setCreated] = useState<{ name: string; secret: string } | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  const create = async (e: FormEvent) => {
    e.preventDefault();
    if (!name.trim()) return setError('Name the token after where you will use it.');
    setBusy('create');
    setError(null);
    try {
      const res = await api.post<{ token: ApiToken; secret: string }>('/me/tokens', { name: name.trim(), ...(days ? { expiresInDays: Number(days) } : {}) });
      setCreated({ name: res.token.name, secret: res.secret });
      setName('');
      tokens.setData((prev) => ({ items: [res.token, ...(prev?.items ?? [])] }));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  };

  const revoke = async (t: ApiToken) => {
    if (!window.confirm(`Revoke the token “${t.name}”? Anything using it stops working at once.`)) return;
    setBusy(t.id);
    setError(null);
    try {
      await api.delete(`/me/tokens/${t.id}`);
      tokens.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  };

  const items = tokens.data?.items ?? [];
  return (
    <section className="card pad-lg" aria-labelledby="tok-h">
      <h2 id="tok-h" className="h2">
        Personal API tokens
      </h2>
      <p className="muted">
        Tokens let scripts use the Keydesk API as you. Send one as <code className="code">Authorization: Bearer …</code>.
      </p>
      <form className="inline-form" onSubmit={create} noValidate>
        <Field label="Token name">{(id) => <input id={id} placeholder="e.g. reporting script" maxLength={100} value={name} onChange={(e) => setName(e.target.value)} data-testid="token-name" />}</Field>
        <Field label="Expires">
          {(id) => (
            <select id={id} value={days} onChange={(e) => setDays(e.target.value)}>
              <option value="7">in 7 days</option>
              <option value="30">in 30 days</option>
              <option value="90">in 90 days</option>
              <option value="365">in a year</option>
              <option value="">never</option>
            </select>
          )}
        </Field>
        <button type="submit" className="btn primary" disabled={busy !== null} data-testid="token-create">
          {busy === 'create' ? <Spinner small /> : <Icon name="key" size={16} />} Create token
        </button>
      </form>
      {created && (
        <div className="token-created" role="status" data-testid="token-secret-box">
          <p>
            <strong>Copy the token “{created.name}” now.</strong> It is shown only this once.
          </p>
          <div className="secret-box">
            <code className="mono wrap" data-testid="token-secret">
              {created.secret}
            </code>
            <CopyButton text={created.secret} />
          </div>
          <button type="button" className="btn small ghost" onClick={() => setCreated(null)}>
            I have copied it
          </button>
        </div>
      )}
      <FormError error={error} />
      {tokens.loading ? (
        <Loading />
      ) : tokens.error ? (
        <ErrorNotice error={tokens.error} onRetry={tokens.reload} />
      ) : items.length === 0 ? (
        <EmptyState title="No tokens" icon="key">
          You have not created any API tokens.
        </EmptyState>
      ) : (
        <ul className="token-list" data-testid="token-list">
          {items.map((t) => {
            const expired = t.expiresAt !== null && new Date(t.expiresAt).getTime() < Date.now();
            const state = t.revokedAt ? 'Revoked' : expired ? 'Expired' : null;
            return (
              <li key={t.id} className={state ? 'inactive' : ''}>
                <span>
                  <strong>{t.name}</strong>
                  {state && <span className="chip subtle">{state}</span>}
                  <br />
                  <span className="muted small">
                    Created {formatDate(t.createdAt)} · {t.lastUsedAt ? <>last used <RelativeTime date={t.lastUsedAt} /></> : 'never used'} · {t.expiresAt ? `expires ${formatDate(t.expiresAt)}` : 'no expiry'}
                  </span>
                </span>
                {!state && (
                  <button type="button" className="btn small danger-outline" disabled={busy !== null} onClick={() => void revoke(t)}>
                    {busy === t.id && <Spinner small />} Revoke
                  </button>
                )}
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
