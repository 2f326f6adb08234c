/** Shapes of the Keydesk REST API (see src/api/schemas.ts). Dates arrive as RFC 3339 strings. */
export type Role = 'requester' | 'agent' | 'change_manager' | 'admin';
export const ROLES: Role[] = ['requester', 'agent', 'change_manager', 'admin'];
export type TicketType = 'incident' | 'request' | 'change';

export interface PersonRef {
  id: string;
  displayName: string;
  email: string;
}

export interface User {
  id: string;
  email: string;
  displayName: string;
  status: 'active' | 'waiting' | 'disabled';
  source: 'local' | 'jit' | 'scim';
  breakGlass: boolean;
  totpEnabled: boolean;
  roles: Role[];
  createdAt: string;
}

export interface Grant {
  role: Role;
  origin: 'person' | 'rule' | 'system';
  grantedBy: string | null;
  ruleId: string | null;
  groupRef: string | null;
}

export type UserDetail = User & { grants: Grant[] };

export interface Session {
  tenant: { id: string; slug: string; name: string };
  user: User;
  roles: Role[];
  csrfToken?: string;
  passwordChangeRequired: boolean;
  lifecycle: Record<string, { initial: string; statuses: string[] }>;
}

export interface Ticket {
  id: string;
  ref: string;
  type: TicketType;
  number: number;
  title: string;
  description: string;
  status: string;
  impact: number;
  urgency: number;
  priority: number;
  category: string | null;
  requester: PersonRef;
  assignee: PersonRef | null;
  team: { id: string; name: string } | null;
  createdAt: string;
  updatedAt: string;
  resolvedAt: string | null;
  closedAt: string | null;
  sla: {
    responseDueAt: string | null;
    resolutionDueAt: string | null;
    firstResponseAt: string | null;
    paused: boolean;
    responseBreached: boolean;
    resolutionBreached: boolean;
  };
  allowedTransitions: string[];
  canApprove: boolean;
}

export interface Comment {
  id: string;
  body: string;
  visibility: 'public' | 'internal';
  author: PersonRef;
  createdAt: string;
}

export interface TicketEvent {
  id: number;
  kind: string;
  data: Record<string, unknown>;
  actor: { id: string; displayName: string } | null;
  createdAt: string;
}

export interface Approval {
  id: string;
  decision: 'approved' | 'rejected';
  comment: string;
  approver: { id: string; displayName: string };
  decidedAt: string;
}

export interface Team {
  id: string;
  name: string;
  members: PersonRef[];
}

export interface AuditEntry {
  id: number;
  occurredAt: string;
  actorId: string | null;
  actorLabel: string;
  action: string;
  outcome: 'success' | 'failure';
  reason: string | null;
  targetType: string | null;
  targetId: string | null;
  ip: string | null;
  details: Record<string, unknown>;
}

export interface ApiToken {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
  expiresAt: string | null;
  revokedAt: string | null;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
