import { useEffect, useRef, useState, type ReactNode } from 'react';
import { Link, NavLink, useLocation } from 'react-router';
import { qs } from '../api';
import { useApi } from '../hooks';
import { useSession } from '../session';
import type { Page, Ticket } from '../types';
import { Avatar, Icon } from './ui';

export function Logo({ className = '' }: { className?: string }) {
  return (
    <span className={`logo ${className}`}>
      <svg width="26" height="26" viewBox="0 0 32 32" aria-hidden="true" focusable="false">
        <rect width="32" height="32" rx="8" fill="currentColor" />
        <path d="M11 8v16M11 16l9-8M13.5 14l7 10" stroke="#fff" strokeWidth="3" strokeLinecap="round" strokeLinejoin="round" fill="none" />
      </svg>
      <span className="logo-word">Keydesk</span>
    </span>
  );
}

/** The signed-in frame: a top bar with the tenant, navigation by role, the user, and sign out. */
export function Shell({ children }: { children: ReactNode }) {
  const { session, path, has, isStaff, signOut } = useSession();
  const [menuOpen, setMenuOpen] = useState(false);
  const location = useLocation();
  const mainRef = useRef<HTMLElement>(null);
  const firstPath = useRef(location.pathname);
  // A new page: close the menu, start at the top, and move focus to the content for screen readers.
  useEffect(() => {
    setMenuOpen(false);
    if (location.pathname === firstPath.current) return;
    firstPath.current = '';
    window.scrollTo(0, 0);
    mainRef.current?.focus({ preventScroll: true });
  }, [location.pathname]);

  // Anyone may be a manager asked to approve a request: the link shows while something waits for
  // them (and always for change managers, and on the page itself).
  const waiting = useApi<Page<Ticket>>(has('change_manager') ? null : `/tickets${qs({ approver: 'me', status: 'awaiting_approval', limit: 1 })}`);
  const approver = has('change_manager') || (waiting.data?.items.length ?? 0) > 0 || location.pathname.startsWith(path('/approvals'));
  // Change managers review access where the tenant lets them (administrators reach it under Admin).
  const review = useApi<{ changeManagersMayReview: boolean }>(has('change_manager') && !has('admin') ? '/access-review/settings' : null);
  const links: { to: string; label: string; testId: string; show: boolean }[] = [
    { to: path('/portal'), label: 'Portal', testId: 'nav-portal', show: true },
    { to: path('/agent'), label: 'Workspace', testId: 'nav-workspace', show: isStaff },
    { to: path('/approvals'), label: 'Approvals', testId: 'nav-approvals', show: approver },
    { to: path('/admin/users'), label: 'Admin', testId: 'nav-admin', show: has('admin') },
    { to: path('/admin/access-review'), label: 'Access review', testId: 'nav-access-review', show: !has('admin') && !!review.data?.changeManagersMayReview },
  ];
  const adminActive = location.pathname.startsWith(path('/admin'));

  return (
    <div className="app">
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <header className="topbar">
        <div className="topbar-inner">
          <Link to={path('/')} className="brand" aria-label={`${session.tenant.name} home`}>
            <Logo />
            <span className="brand-sep" aria-hidden="true" />
            <span className="tenant-name" data-testid="tenant-name">
              {session.tenant.name}
            </span>
          </Link>
          <button
            type="button"
            className="icon-btn menu-toggle"
            aria-expanded={menuOpen}
            aria-controls="main-nav"
            onClick={() => setMenuOpen((o) => !o)}
          >
            <Icon name={menuOpen ? 'x' : 'menu'} size={20} />
            <span className="sr-only">Menu</span>
          </button>
          <div id="main-nav" className={menuOpen ? 'topbar-menu open' : 'topbar-menu'}>
            <nav aria-label="Main" className="mainnav">
              {links
                .filter((l) => l.show)
                .map((l) => (
                  <NavLink
                    key={l.to}
                    to={l.to}
                    data-testid={l.testId}
                    className={({ isActive }) => (isActive || (l.testId === 'nav-admin' && adminActive) ? 'navlink active' : 'navlink')}
                    end={false}
                  >
                    {l.label}
                  </NavLink>
                ))}
            </nav>
            <div className="usermenu">
              <Link to={path('/account')} className="user-chip" title="Your account">
                <Avatar name={session.user.displayName} size={28} />
                <span className="user-name" data-testid="user-name">
                  {session.user.displayName}
                </span>
              </Link>
              <button type="button" className="btn ghost small signout" onClick={() => void signOut()} data-testid="sign-out">
                <Icon name="logout" size={16} />
                <span>Sign out</span>
              </button>
            </div>
          </div>
        </div>
      </header>
      <main id="main" ref={mainRef} tabIndex={-1} className="main">
        {children}
      </main>
    </div>
  );
}
