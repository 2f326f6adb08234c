import { useEffect, useRef } from 'react';
import { NavLink } from 'react-router';
import { useSession } from '../session';

export function AdminNav() {
  const { path } = useSession();
  const nav = useRef<HTMLElement>(null);
  // The tabs scroll sideways when they do not fit (a narrow window, or many tabs): keep the current one in sight.
  useEffect(() => {
    const n = nav.current;
    const active = n?.querySelector<HTMLElement>('.tab.active');
    if (!n || !active) return;
    const past = active.getBoundingClientRect().right - n.getBoundingClientRect().right;
    if (past > 0) n.scrollLeft += past + 16;
  }, []);
  const tabs = [
    { to: path('/admin/users'), label: 'People' },
    { to: path('/admin/teams'), label: 'Teams' },
    { to: path('/admin/categories'), label: 'Request categories' },
    { to: path('/admin/sso'), label: 'Single sign-on' },
    { to: path('/admin/provisioning'), label: 'Provisioning' },
    { to: path('/admin/audit'), label: 'Audit log' },
    { to: path('/admin/access-review'), label: 'Access review' },
    { to: path('/admin/webhooks'), label: 'Webhooks' },
    { to: path('/admin/workflows'), label: 'Workflows' },
    { to: path('/admin/jobs'), label: 'Background jobs' },
  ];
  return (
    <nav ref={nav} className="tabs" aria-label="Administration">
      {tabs.map((t) => (
        <NavLink key={t.to} to={t.to} data-testid={`admin-tab-${t.to.split('/').pop()}`} className={({ isActive }) => (isActive ? 'tab active' : 'tab')}>
          {t.label}
        </NavLink>
      ))}
    </nav>
  );
}
