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

/** An identity-provider subject bound to an account (one per connection). */
export interface SigninIdentity {
  connection: string;
  connectionName: string;
  protocol: string;
  subject: string;
  createdAt: string;
  lastSigninAt: string | null;
}

export type UserDetail = User & { grants: Grant[]; identities: SigninIdentity[] };

export interface Session {
  tenant: { id: string; slug: string; name: string };
  user: User;
  roles: Role[];
  csrfToken?: string;
  passwordChangeRequired: boolean;
  lifecycle: Record<string, { initial: string; statuses: string[] }>;
}

/** The agent workspace's queues, defined by the server. */
export type QueueId = 'unassigned' | 'mine' | 'teams' | 'open' | 'breached' | 'all';

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
  /** How it was resolved or fulfilled. */
  resolution: string | null;
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

/** An approval decision with the change it was about (the approvals inbox's history). */
export interface Decision extends Approval {
  change: { id: string; ref: string; title: string; status: string };
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
  targetLabel: string | null;
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

/* ---------- Single sign-on (see src/api/sso.ts and src/api/tenants.ts) ---------- */

export interface SsoCertificate {
  subject: string;
  issuer: string;
  thumbprintSha1: string;
  thumbprintSha256: string;
  notBefore: string;
  notAfter: string;
  daysLeft: number;
}

export const ATTRIBUTE_KEYS = ['email', 'givenName', 'surname', 'displayName', 'groups', 'subject'] as const;
export type AttributeKey = (typeof ATTRIBUTE_KEYS)[number];

export interface SsoConnection {
  id: string;
  slug: string;
  protocol: string;
  displayName: string;
  enabled: boolean;
  /** When it went live; null while it is being tested (only the admin's test sign-in uses it). */
  publishedAt: string | null;
  /** Enabled and published: its button is on the sign-in page. */
  live: boolean;
  /** Things to look at, such as another connection trusting the same identity provider. */
  warnings: string[];
  jit: boolean;
  waitingRoom: boolean;
  allowIdpInitiated: boolean;
  allowSha1: boolean;
  clockSkewSeconds: number;
  testPassedAt: string | null;
  /** Not sent by every server version: the settings form only prefills it when present. */
  attributeMap?: Partial<Record<AttributeKey, string>>;
  /** Values to paste into the identity provider, named as in Entra's Basic SAML Configuration. */
  sp: { identifier: string; replyUrl: string; signOnUrl: string; logoutUrl: string; metadataUrl: string };
  idp: {
    entityId: string;
    ssoUrl: string;
    sloUrl: string | null;
    certificates: SsoCertificate[];
    metadataUrl: string | null;
    metadataFetchedAt: string | null;
    metadataError: string | null;
  };
}

/** The identity provider's side of a connection, exactly one way. */
export type IdpSourceBody = { metadataXml: string } | { metadataUrl: string } | { entityId: string; ssoUrl: string; sloUrl?: string; certificates: string[] };

export type RuleRole = 'agent' | 'change_manager' | 'admin';
export const RULE_ROLES: RuleRole[] = ['agent', 'change_manager', 'admin'];

export interface RoleRule {
  id: string;
  groupRef: string;
  role: RuleRole;
  precedence: number;
  createdAt: string;
}

export interface SsoDomain {
  domain: string;
  verified: boolean;
  verifiedAt: string | null;
  txtRecordName: string;
  txtRecordValue: string;
}

export interface SsoEnforcement {
  enforced: boolean;
  canEnforce: boolean;
  reason: string | null;
  breakGlass: PersonRef[];
}

export interface TraceSummary {
  id: string;
  connectionSlug: string | null;
  test: boolean;
  outcome: 'success' | 'failure';
  errorCode: string | null;
  userEmail: string | null;
  createdAt: string;
}

export interface TraceStep {
  check: string;
  ok: boolean;
  detail?: string;
}

export interface TraceDetail extends TraceSummary {
  trace: {
    steps?: TraceStep[];
    error?: { code: string; message: string; fix: string; [extra: string]: unknown };
    claims?: { nameId: string | null; nameIdFormat: string | null; attributes: Record<string, string[]> };
    mapped?: { subject: string | null; subjectSource: string; email: string | null; displayName: string; groups: string[] | null; groupsOverage: boolean };
    roles?: string[];
    user?: { id: string; email: string; status: string };
    wouldCreate?: boolean;
    /** A passed test that made the connection live. */
    published?: boolean;
    responseXml?: string;
  };
}

/** A sign-in button for a workspace (public: sign-in pages and discovery). */
export interface SignInConnection {
  slug: string;
  displayName: string;
  loginUrl: string;
}

export interface SignInOptions {
  name: string;
  connections: SignInConnection[];
  passwordAllowed: boolean;
}

/* ---------- Provisioning: SCIM credentials and activity (see src/api/provisioning.ts) ---------- */

export type ScimCredentialKind = 'token' | 'client';

/** A secret token or an OAuth client an identity provider provisions with; the secret itself is never sent again. */
export interface ScimCredential {
  id: string;
  kind: ScimCredentialKind;
  name: string;
  /** OAuth clients only. */
  clientId: string | null;
  /** The secret's last four characters. */
  hint: string;
  state: 'active' | 'inactive' | 'expired';
  createdAt: string;
  createdBy: string;
  renewedAt: string | null;
  lastUsedAt: string | null;
  expiresAt: string | null;
}

/** A credential with its secret: answered once, when it is generated or renewed. */
export interface ScimCredentialSecret {
  credential: ScimCredential;
  secret: string;
}

export interface Provisioning {
  /** The SCIM base URL to paste into Entra or Okta; it never changes. */
  tenantUrl: string;
  /** Where OAuth clients get access tokens (client credentials grant). */
  tokenEndpoint: string;
  maxPerKind: number;
  credentials: ScimCredential[];
}

/** One SCIM request, as the activity log keeps it. */
export interface ScimActivity {
  id: number;
  at: string;
  credentialName: string | null;
  method: string;
  path: string;
  operation: string;
  resourceType: string | null;
  resourceId: string | null;
  status: number;
  durationMs: number;
  error: string | null;
}

