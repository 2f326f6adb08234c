import { createContext, useContext } from 'react';
import type { Role, Session, TicketType } from './types';

export interface SessionValue {
  session: Session;
  /** The tenant slug from the URL (equal to session.tenant.slug). */
  slug: string;
  /** A path inside this tenant: path('/agent') → /t/acme/agent */
  path: (p: string) => string;
  has: (role: Role) => boolean;
  isStaff: boolean;
  /** Mirrors the server's ticketPolicy.canWork. */
  canWork: (t: { type: TicketType }) => boolean;
  refresh: () => Promise<void>;
  signOut: () => Promise<void>;
}

export const SessionContext = createContext<SessionValue | null>(null);

export function useSession(): SessionValue {
  const v = useContext(SessionContext);
  if (!v) throw new Error('useSession outside a signed-in tenant');
  return v;
}

export function isStaffRoles(roles: readonly Role[]): boolean {
  return roles.includes('agent') || roles.includes('change_manager') || roles.includes('admin');
}

export function makeSessionValue(session: Session, slug: string, refresh: () => Promise<void>, signOut: () => Promise<void>): SessionValue {
  const roles = new Set(session.roles);
  return {
    session,
    slug,
    path: (p: string) => `/t/${encodeURIComponent(slug)}${p.startsWith('/') ? p : `/${p}`}`,
    has: (r) => roles.has(r),
    isStaff: isStaffRoles(session.roles),
    canWork: (t) => roles.has('agent') || roles.has('admin') || (t.type === 'change' && roles.has('change_manager')),
    refresh,
    signOut,
  };
}

/**
 * Where to go after signing in: only a same-origin path inside this tenant (never an absolute URL,
 * a protocol-relative `//host`, or the login page itself).
 */
export function safeNext(next: string | null, slug: string): string | null {
  if (!next) return null;
  const prefix = `/t/${slug}/`;
  if (!next.toLowerCase().startsWith(prefix.toLowerCase()) || next.startsWith('//') || next.includes('\\')) return null;
  try {
    const u = new URL(next, window.location.origin);
    if (u.origin !== window.location.origin) return null;
    if (!u.pathname.toLowerCase().startsWith(prefix.toLowerCase())) return null;
    if (/^\/t\/[^/]+\/login\/?$/i.test(u.pathname)) return null;
    return u.pathname + u.search + u.hash;
  } catch {
    return null;
  }
}
