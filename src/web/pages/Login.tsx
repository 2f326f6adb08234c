import { useEffect, useRef, useState, type FormEvent } from 'react';
import { Link, useLocation, useNavigate, useParams, useSearchParams } from 'react-router';
import { api, ApiError, setCsrfToken } from '../api';
import { Logo } from '../components/Shell';
import { Field, FormError, Icon, Notice, OtpField, Spinner } from '../components/ui';
import { useTitle } from '../hooks';
import { safeNext } from '../session';
import type { Session, SignInConnection, SignInOptions } from '../types';

const MESSAGES: Record<string, string> = {
  locked: 'This account is locked after too many failed attempts. Wait a few minutes, or ask an administrator to help.',
  disabled: 'This account is disabled. Ask an administrator if you think that is a mistake.',
  waiting: 'Your account is waiting for an administrator to grant you access.',
};

/** A connection's sign-in address, carrying where to land afterwards (and who is signing in) when known. */
export function ssoHref(c: SignInConnection, params: { RelayState?: string | null; login_hint?: string | null }): string {
  const sp = new URLSearchParams();
  if (params.RelayState) sp.set('RelayState', params.RelayState);
  if (params.login_hint) sp.set('login_hint', params.login_hint);
  const q = sp.toString();
  return q ? `${c.loginUrl}${c.loginUrl.includes('?') ? '&' : '?'}${q}` : c.loginUrl;
}

/** One big button per identity provider. */
export function SsoButtons({ connections, href }: { connections: SignInConnection[]; href: (c: SignInConnection) => string }) {
  return (
    <div className="sso-buttons">
      {connections.map((c) => (
        <a key={c.slug} href={href(c)} className="btn sso-button block" data-testid="sso-button" data-slug={c.slug}>
          <span className="sso-button-mark" aria-hidden="true">
            <Icon name="shield" size={16} />
          </span>
          Sign in with {c.displayName}
        </a>
      ))}
    </div>
  );
}

/**
 * `/t/:tenant/login`: single sign-on buttons when the workspace has them, then the password (and a
 * TOTP code when the account has two-step verification). With SSO enforced, the password form is
 * only for break-glass accounts and stays folded away.
 */
export function Login() {
  const { tenant = '' } = useParams();
  const slug = tenant.toLowerCase();
  const [params] = useSearchParams();
  const location = useLocation();
  const navigate = useNavigate();
  useTitle('Sign in', slug);

  const [checking, setChecking] = useState(true);
  const [workspaceName, setWorkspaceName] = useState<string | null>(null);
  // undefined: still asking; null: the workspace offers no sign-in options (or the server predates them).
  const [options, setOptions] = useState<SignInOptions | null | undefined>(undefined);
  const [breakGlass, setBreakGlass] = useState(false);
  const [email, setEmail] = useState(() => (location.state as { email?: string } | null)?.email ?? '');
  const [password, setPassword] = useState('');
  const [otp, setOtp] = useState('');
  const [step, setStep] = useState<'password' | 'totp'>('password');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const otpRef = useRef<HTMLInputElement>(null);
  const signedOut = (location.state as { signedOut?: boolean } | null)?.signedOut === true || params.get('signedOut') === '1';
  const next = safeNext(params.get('next'), slug);

  const destination = () => next ?? `/t/${slug}/`;

  // Already signed in to this workspace? Go straight on.
  useEffect(() => {
    const ctrl = new AbortController();
    api
      .get<Session>('/session', { signal: ctrl.signal, quiet: true })
      .then((s) => {
        if (s.tenant.slug.toLowerCase() === slug) navigate(destination(), { replace: true });
        else setChecking(false);
      })
      .catch(() => {
        if (!ctrl.signal.aborted) setChecking(false);
      });
    api
      .get<{ name: string }>(`/tenants/${encodeURIComponent(slug)}`, { signal: ctrl.signal, quiet: true })
      .then((t) => setWorkspaceName(t.name))
      .catch(() => undefined);
    api
      .get<SignInOptions>(`/tenants/${encodeURIComponent(slug)}/sign-in-options`, { signal: ctrl.signal, quiet: true })
      .then((o) => {
        setOptions(o);
        setWorkspaceName(o.name);
      })
      .catch(() => {
        if (!ctrl.signal.aborted) setOptions(null);
      });
    return () => ctrl.abort();
  }, [slug]);

  useEffect(() => {
    if (step === 'totp') otpRef.current?.focus();
  }, [step]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (busy) return;
    if (!email.trim() || !password) return setError('Enter your email address and password.');
    if (step === 'totp' && !/^\d{6}$/.test(otp.trim())) return setError('Enter the 6-digit code from your authenticator app.');
    setBusy(true);
    setError(null);
    try {
      const s = await api.post<Session>(
        '/session',
        { tenant: slug, email: email.trim(), password, ...(step === 'totp' ? { otp: otp.trim() } : {}) },
        { quiet: true },
      );
      setCsrfToken(s.csrfToken);
      navigate(destination(), { replace: true });
    } catch (err) {
      setBusy(false);
      if (err instanceof ApiError) {
        if (err.code === 'totp_required') {
          setStep('totp');
          return;
        }
        if (err.code === 'bad_totp') {
          setOtp('');
          setError('That code did not work. Codes change every 30 seconds: try the current one.');
          otpRef.current?.focus();
          return;
        }
        if (err.code === 'rate_limited' || err.status === 429) {
          setError(`Too many attempts. ${err.retryAfter ? `Try again in ${err.retryAfter} seconds.` : 'Wait a moment and try again.'}`);
          return;
        }
        setError(MESSAGES[err.code] ?? err.message);
        return;
      }
      setError('Keydesk could not be reached. Check your connection and try again.');
    }
  };

  if (checking || options === undefined) {
    return (
      <div className="auth-page">
        <Spinner />
      </div>
    );
  }

  const connections = options?.connections ?? [];
  const passwordAllowed = options?.passwordAllowed ?? true;
  const showPassword = passwordAllowed || breakGlass || step === 'totp' || connections.length === 0;

  return (
    <div className="auth-page">
      <div className="auth-card">
        <Logo className="auth-logo" />
        {step === 'password' ? (
          <>
            <h1 className="h1">Sign in</h1>
            <p className="muted">
              to <strong>{workspaceName ?? slug}</strong>
            </p>
          </>
        ) : (
          <>
            <h1 className="h1">Two-step verification</h1>
            <p className="muted">Enter the 6-digit code from your authenticator app for {email}.</p>
          </>
        )}
        {signedOut && step === 'password' && !error && <Notice tone="success">You have signed out.</Notice>}
        {step === 'password' && connections.length > 0 && (
          <>
            <SsoButtons connections={connections} href={(c) => ssoHref(c, { RelayState: next })} />
            {passwordAllowed ? (
              <div className="divider" role="separator">
                <span>or use a password</span>
              </div>
            ) : null}
          </>
        )}
        {!passwordAllowed && step === 'password' && (
          <div className="enforced-note" data-testid="sso-enforced-note">
            <p className="muted small">
              <Icon name="lock" size={13} /> Single sign-on is enforced; only break-glass accounts can use a password.
            </p>
            {!showPassword && (
              <button type="button" className="link-btn small" onClick={() => setBreakGlass(true)} aria-expanded={false} data-testid="break-glass-link">
                Break-glass sign-in
              </button>
            )}
          </div>
        )}
        {showPassword && (
          <form onSubmit={submit} noValidate className="stack" aria-busy={busy}>
            {step === 'password' ? (
              <>
                <Field label="Email address">
                  {(id) => (
                    <input
                      id={id}
                      type="email"
                      name="email"
                      autoComplete="username"
                      autoFocus={connections.length === 0 || breakGlass}
                      required
                      value={email}
                      onChange={(e) => setEmail(e.target.value)}
                      data-testid="login-email"
                    />
                  )}
                </Field>
                <Field label="Password">
                  {(id) => (
                    <input
                      id={id}
                      type="password"
                      name="password"
                      autoComplete="current-password"
                      required
                      value={password}
                      onChange={(e) => setPassword(e.target.value)}
                      data-testid="login-password"
                    />
                  )}
                </Field>
              </>
            ) : (
              <OtpField label="Verification code" ref={otpRef} pattern="[0-9]*" value={otp} onChange={setOtp} data-testid="login-otp" />
            )}
            <FormError error={error} testId="login-error" />
            <button type="submit" className="btn primary block" disabled={busy} data-testid="login-submit">
              {busy && <Spinner small label="Signing in" />}
              {step === 'password' ? 'Sign in' : 'Verify'}
            </button>
            {step === 'totp' && (
              <button
                type="button"
                className="btn ghost block"
                onClick={() => {
                  setStep('password');
                  setOtp('');
                  setError(null);
                }}
              >
                Back
              </button>
            )}
          </form>
        )}
        <p className="auth-alt muted">
          Not your workspace? <Link to="/login">Find another</Link>
        </p>
      </div>
      <p className="auth-footer muted">Keydesk · IT service desk</p>
    </div>
  );
}
