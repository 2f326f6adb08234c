import { useRef, useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router';
import { api, ApiError } from '../api';
import { Logo } from '../components/Shell';
import { Field, FormError, Icon, Spinner } from '../components/ui';
import { useTitle } from '../hooks';
import type { SignInConnection } from '../types';
import { ssoHref, SsoButtons } from './Login';

interface Discovery {
  tenant: { slug: string; name: string };
  connections: SignInConnection[];
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * `/login`: the tenant is part of every address, so we first find it: from the work email's
 * verified domain (home realm discovery), or from the workspace name the person knows.
 */
export function FindWorkspace() {
  useTitle('Sign in');
  const navigate = useNavigate();
  const [email, setEmail] = useState('');
  const [slug, setSlug] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [slugError, setSlugError] = useState<string | null>(null);
  const workspaceRef = useRef<HTMLInputElement>(null);
  const [notFound, setNotFound] = useState(false);
  const [busy, setBusy] = useState<null | 'discover' | 'redirect'>(null);
  const [choice, setChoice] = useState<(Discovery & { email: string }) | null>(null);

  const discover = async (e: FormEvent) => {
    e.preventDefault();
    if (busy) return;
    const value = email.trim();
    if (!value) return setError('Enter your work email address.');
    if (!EMAIL.test(value)) return setError('That does not look like an email address, such as alex@contoso.com.');
    setBusy('discover');
    setError(null);
    setNotFound(false);
    try {
      const d = await api.post<Discovery>('/login/discover', { email: value }, { quiet: true });
      if (d.connections.length === 1) {
        setBusy('redirect');
        window.location.assign(ssoHref(d.connections[0]!, { login_hint: value }));
        return;
      }
      if (d.connections.length > 1) {
        setChoice({ ...d, email: value });
        setBusy(null);
        return;
      }
      navigate(`/t/${encodeURIComponent(d.tenant.slug)}/login`, { state: { email: value } });
    } catch (err) {
      setBusy(null);
      if (err instanceof ApiError && err.status === 404) {
        setNotFound(true);
        workspaceRef.current?.focus();
        return;
      }
      if (err instanceof ApiError && err.status === 429) {
        return setError(`Too many attempts. ${err.retryAfter ? `Try again in ${err.retryAfter} seconds.` : 'Wait a moment and try again.'}`);
      }
      setError(err instanceof ApiError ? err.message : 'Keydesk could not be reached. Check your connection and try again.');
    }
  };

  const findByName = (e: FormEvent) => {
    e.preventDefault();
    const s = slug.trim().toLowerCase().replace(/^\/+|\/+$/g, '');
    if (!s) return setSlugError('Enter the name of your workspace.');
    if (!/^[a-z0-9][a-z0-9-]{0,39}$/.test(s)) return setSlugError('A workspace name has only letters, digits and dashes.');
    navigate(`/t/${s}/login`);
  };

  if (choice) {
    return (
      <div className="auth-page">
        <div className="auth-card" data-testid="sso-chooser">
          <Logo className="auth-logo" />
          <h1 className="h1">Choose how to sign in to {choice.tenant.name}</h1>
          <p className="muted">
            as <strong>{choice.email}</strong>
          </p>
          <SsoButtons connections={choice.connections} href={(c) => ssoHref(c, { login_hint: choice.email })} />
          <p className="auth-alt muted">
            <Link to={`/t/${encodeURIComponent(choice.tenant.slug)}/login`} state={{ email: choice.email }}>
              Use a password instead
            </Link>
            <span aria-hidden="true"> · </span>
            <button type="button" className="link-btn" onClick={() => setChoice(null)}>
              Use another email
            </button>
          </p>
        </div>
        <p className="auth-footer muted">Keydesk · IT service desk</p>
      </div>
    );
  }

  return (
    <div className="auth-page">
      <div className="auth-card">
        <Logo className="auth-logo" />
        <h1 className="h1">Sign in</h1>
        <p className="muted">Enter your work email. We'll take you to your organisation's Keydesk and its sign-in.</p>
        <form onSubmit={discover} noValidate className="stack" aria-busy={busy !== null}>
          <Field label="Work email">
            {(id) => (
              <input
                id={id}
                type="email"
                name="email"
                autoComplete="username"
                autoFocus
                autoCapitalize="none"
                spellCheck={false}
                placeholder="you@company.com"
                value={email}
                onChange={(e) => {
                  setEmail(e.target.value);
                  setError(null);
                  setNotFound(false);
                }}
                data-testid="discover-email"
              />
            )}
          </Field>
          <FormError error={error} />
          {notFound && (
            <div className="notice warning" role="alert" data-testid="discover-not-found">
              <Icon name="alert" size={18} />
              <div className="notice-text">
                <strong>We could not find a workspace for that email domain</strong>
                <p className="small">Your organisation may not have linked its domain to Keydesk yet. Enter your workspace name below instead.</p>
              </div>
            </div>
          )}
          <button type="submit" className="btn primary block" disabled={busy !== null} data-testid="discover-submit">
            {busy ? <Spinner small label={busy === 'redirect' ? 'Redirecting' : 'Looking up'} /> : null}
            {busy === 'redirect' ? 'Taking you to your sign-in…' : 'Continue'}
            {!busy && <Icon name="arrow-left" className="flip" size={16} />}
          </button>
        </form>
        <div className="divider" role="separator">
          <span>or go to your workspace</span>
        </div>
        <form onSubmit={findByName} noValidate className={notFound ? 'workspace-form highlight' : 'workspace-form'}>
          <label htmlFor="workspace-name" className="sr-only">
            Workspace name
          </label>
          <div className="input-prefix">
            <span className="prefix" aria-hidden="true">
              /t/
            </span>
            <input
              id="workspace-name"
              ref={workspaceRef}
              name="workspace"
              autoCapitalize="none"
              autoCorrect="off"
              spellCheck={false}
              placeholder="workspace name"
              value={slug}
              onChange={(e) => {
                setSlug(e.target.value);
                setSlugError(null);
              }}
              aria-invalid={slugError ? true : undefined}
              aria-describedby="workspace-hint"
              data-testid="workspace-input"
            />
          </div>
          <button type="submit" className="btn" data-testid="workspace-submit">
            Go
          </button>
        </form>
        <p id="workspace-hint" className={slugError ? 'field-hint error-text' : 'field-hint'} role={slugError ? 'alert' : undefined}>
          {slugError ?? <>The name is in the address your IT team shared, after /t/.</>}
        </p>
      </div>
      <p className="auth-footer muted">Keydesk · IT service desk</p>
    </div>
  );
}
