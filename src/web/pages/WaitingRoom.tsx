import { useEffect, useState } from 'react';
import { Link, useParams } from 'react-router';
import { api } from '../api';
import { Logo } from '../components/Shell';
import { Icon } from '../components/ui';
import { useTitle } from '../hooks';

/**
 * `/t/:tenant/waiting`: where single sign-on sends people whose account exists but has no access
 * yet. They have no session, so this page asks nothing of the API but the workspace's name.
 */
export function WaitingRoom() {
  const { tenant = '' } = useParams();
  const slug = tenant.toLowerCase();
  const [name, setName] = useState<string | null>(null);
  useTitle('Access pending', name ?? slug);

  useEffect(() => {
    const ctrl = new AbortController();
    api
      .get<{ name: string }>(`/tenants/${encodeURIComponent(slug)}`, { signal: ctrl.signal, quiet: true })
      .then((t) => setName(t.name))
      .catch(() => undefined);
    return () => ctrl.abort();
  }, [slug]);

  return (
    <div className="auth-page">
      <div className="auth-card waiting-card" data-testid="waiting-room">
        <Logo className="auth-logo" />
        <span className="waiting-icon" aria-hidden="true">
          <Icon name="clock" size={26} />
        </span>
        <h1 className="h1">Your access is pending</h1>
        <p className="muted">
          An administrator has to grant you access to <strong className="waiting-tenant">{name ?? slug}</strong>. You will be able to sign in as soon as they do.
        </p>
        <p className="muted small">You signed in correctly: there is nothing more to do on your side. If it is urgent, contact your IT team.</p>
        <Link to={`/t/${encodeURIComponent(slug)}/login`} className="btn primary block waiting-retry" data-testid="waiting-retry">
          Try again
        </Link>
      </div>
      <p className="auth-footer muted">Keydesk · IT service desk</p>
    </div>
  );
}
