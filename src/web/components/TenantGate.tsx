import { useCallback, useEffect, useMemo, useState } from 'react';
import { Navigate, Outlet, useLocation, useNavigate, useParams } from 'react-router';
import { api, ApiError, isAbort, setAuthErrorHandler, setCsrfToken } from '../api';
import { makeSessionValue, SessionContext } from '../session';
import type { Session } from '../types';
import { ForcedPasswordChange } from '../pages/ForcedPasswordChange';
import { Shell } from './Shell';
import { ErrorNotice, FullPageLoading } from './ui';

type State = { kind: 'loading' } | { kind: 'ready'; session: Session } | { kind: 'signedOut' } | { kind: 'error'; error: unknown };

/**
 * Every page of a tenant: loads the session; a missing session, or one that belongs to another
 * tenant, counts as signed out and leads to this tenant's sign-in page.
 */
export function TenantGate() {
  const { tenant = '' } = useParams();
  const slug = tenant.toLowerCase();
  const location = useLocation();
  const navigate = useNavigate();
  const [state, setState] = useState<State>({ kind: 'loading' });

  const load = useCallback(
    async (signal?: AbortSignal) => {
      try {
        const s = await api.get<Session>('/session', { signal, quiet: true });
        if (s.tenant.slug.toLowerCase() !== slug) {
          setCsrfToken(undefined);
          setState({ kind: 'signedOut' });
          return;
        }
        setCsrfToken(s.csrfToken);
        setState({ kind: 'ready', session: s });
      } catch (err) {
        if (isAbort(err)) return;
        if (err instanceof ApiError && err.status === 401) setState({ kind: 'signedOut' });
        else setState({ kind: 'error', error: err });
      }
    },
    [slug],
  );

  useEffect(() => {
    const ctrl = new AbortController();
    setState({ kind: 'loading' });
    void load(ctrl.signal);
    return () => ctrl.abort();
  }, [load]);

  useEffect(() => {
    setAuthErrorHandler((err) => {
      if (err.status === 401) setState({ kind: 'signedOut' });
      else void load();
    });
    return () => setAuthErrorHandler(null);
  }, [load]);

  const refresh = useCallback(() => load(), [load]);
  const signOut = useCallback(async () => {
    let logoutUrl: string | null = null;
    try {
      logoutUrl = (await api.delete<{ logoutUrl: string | null }>('/session', undefined, { quiet: true }))?.logoutUrl ?? null;
    } catch {
      // Signed out either way: the cookie is cleared by the server or already gone.
    }
    setCsrfToken(undefined);
    // A single sign-on session ends at the identity provider too, which then sends the person back.
    if (logoutUrl) return window.location.assign(logoutUrl);
    navigate(`/t/${encodeURIComponent(slug)}/login`, { replace: true, state: { signedOut: true } });
  }, [navigate, slug]);

  const value = useMemo(
    () => (state.kind === 'ready' ? makeSessionValue(state.session, slug, refresh, signOut) : null),
    [state, slug, refresh, signOut],
  );

  if (state.kind === 'loading') return <FullPageLoading />;
  if (state.kind === 'signedOut') {
    const next = location.pathname + location.search;
    const atHome = /^\/t\/[^/]+\/?$/.test(location.pathname);
    return <Navigate to={`/t/${encodeURIComponent(slug)}/login${atHome ? '' : `?next=${encodeURIComponent(next)}`}`} replace />;
  }
  if (state.kind === 'error') {
    return (
      <div className="center-page">
        <div className="card narrow">
          <h1 className="h2">Keydesk is not answering</h1>
          <ErrorNotice error={state.error} onRetry={() => void load()} />
        </div>
      </div>
    );
  }
  return (
    <SessionContext.Provider value={value}>
      {state.session.passwordChangeRequired ? (
        <ForcedPasswordChange />
      ) : (
        <Shell>
          <Outlet />
        </Shell>
      )}
    </SessionContext.Provider>
  );
}
