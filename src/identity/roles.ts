export const ROLES = ['requester', 'agent', 'change_manager', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** What people read for each role, in messages as on the pages. */
export const ROLE_NAMES: Record<Role, string> = { requester: 'Requester', agent: 'Agent', change_manager: 'Change manager', admin: 'Admin' };

export function isRole(v: unknown): v is Role {
  return typeof v === 'string' && (ROLES as readonly string[]).includes(v);
}

/** Staff see every ticket of the tenant; requesters see their own. */
export function isStaff(roles: ReadonlySet<Role>): boolean {
  return roles.has('agent') || roles.has('change_manager') || roles.has('admin');
}
