import { NavLink } from 'react-router';
import { useSession } from '../session';

export function AdminNav() {
  const { path } = useSession();
  const tabs = [
    { to: path('/admin/users'), label: 'People' },
    { to: path('/admin/teams'), label: 'Teams' },
    { to: path('/admin/sso'), label: 'Single sign-on' },
    { to: path('/admin/provisioning'), label: 'Provisioning' },
    { to: path('/admin/audit'), label: 'Audit log' },
  ];
  return (
    <nav className="tabs" aria-label="Administration">
      {tabs.map((t) => (
        <NavLink key={t.to} to={t.to} data-testid={`admin-tab-${t.to.split('/').pop()}`} className={({ isActive }) => (isActive ? 'tab active' : 'tab')}>
          {t.label}
        </NavLink>
      ))}
    </nav>
  );
}
