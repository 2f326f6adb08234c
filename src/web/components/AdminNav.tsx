import { NavLink } from 'react-router';
import { useSession } from '../session';

export function AdminNav() {
  const { path } = useSession();
  const tabs = [
    { to: path('/admin/users'), label: 'People' },
    { to: path('/admin/teams'), label: 'Teams' },
    { to: path('/admin/audit'), label: 'Audit log' },
  ];
  return (
    <nav className="tabs" aria-label="Administration">
      {tabs.map((t) => (
        <NavLink key={t.to} to={t.to} className={({ isActive }) => (isActive ? 'tab active' : 'tab')}>
          {t.label}
        </NavLink>
      ))}
    </nav>
  );
}
