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
  /** The request category it was raised in, if any. */
  categoryId: string | null;
  requester: PersonRef;
  assignee: PersonRef | null;
  /** Who must approve it before fulfilment: the requester's manager (requests in a category that needs it). */
  approver: PersonRef | null;
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

/** What a requester may ask for (`GET /api/v1/request-categories`). */
export interface RequestCategory {
  id: string;
  name: string;
  description: string;
  /** The team that fulfils it. */
  team: { id: string; name: string } | null;
  requiresManagerApproval: boolean;
  createdAt: string;
  updatedAt: string;
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

/** `GET /api/v1/audit/settings`: retention and SIEM streaming (syslog over TLS). */
export interface AuditSettings {
  retentionDays: number | null;
  syslog: {
    enabled: boolean;
    host: string | null;
    port: number;
    caCertificate: string | null;
    caCertificates: { subject: string; notAfter: string; sha256: string }[];
    servername: string | null;
    lastDeliveredId: number | null;
    lastDeliveredAt: string | null;
    lastError: string | null;
    lastErrorAt: string | null;
    pending: number;
  };
}

/** `POST /api/v1/audit/settings/syslog/test`. */
export interface SyslogTestResult {
  ok: boolean;
  message: string;
  code: string | null;
  ms: number;
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

interface SsoConnectionCommon {
  id: string;
  slug: string;
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
  clockSkewSeconds: number;
  testPassedAt: string | null;
  /** A test sign-in started then never came back: the provider showed an error on its own page. */
  unansweredTestAt?: string | null;
  /** Not sent by every server version: the settings form only prefills it when present. */
  attributeMap?: Partial<Record<AttributeKey, string>>;
}

export interface SamlSsoConnection extends SsoConnectionCommon {
  protocol: 'saml';
  allowIdpInitiated: boolean;
  allowSha1: boolean;
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

export interface OidcSsoConnection extends SsoConnectionCommon {
  protocol: 'oidc';
  oidc: {
    issuer: string;
    clientId: string;
    clientAuth: string;
    hasClientSecret: boolean;
    /** private_key_jwt: the certificate and public key to upload at the provider. */
    clientCertificate: { pem: string; thumbprintSha1: string; notAfter: string; publicJwk: Record<string, unknown> } | null;
    secretExpiresAt: string | null;
    allowedTenants: string[];
    multiTenant: boolean;
    /** Register at the provider (Entra: Authentication › Web › Redirect URIs). */
    redirectUri: string;
    backchannelLogoutUri: string;
    loginUrl: string;
    postLogoutRedirectUri: string;
    provider: { issuer: string; authorizationEndpoint: string; tokenEndpoint: string; jwksUri: string; endSessionEndpoint: string | null };
  };
}

/** A connection to an identity provider: SAML 2.0 or OpenID Connect, told apart by `protocol`. */
export type SsoConnection = SamlSsoConnection | OidcSsoConnection;

/** The identity provider's side of a connection, exactly one way. */
export type IdpSourceBody = { metadataXml: string } | { metadataUrl: string } | { entityId: string; ssoUrl: string; sloUrl?: string; certificates: string[] };

export type RuleRole = 'agent' | 'change_manager' | 'admin';
export const RULE_ROLES: RuleRole[] = ['agent', 'change_manager', 'admin'];

export interface RoleRule {
  id: string;
  groupRef: string;
  role: RuleRole;
  precedence: number;
  /** Only this connection's sign-ins count; null: every sign-in and SCIM. */
  connection: string | null;
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
  passwordSessions: number;
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
    /** OpenID Connect: the ID token's claims as received, and the token with its signature elided. */
    idTokenClaims?: Record<string, unknown>;
    idToken?: string;
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


/* ---------- Automation: webhooks, workflows, background jobs, ticket checklists ---------- */
/* (see src/api/webhooks.ts, src/api/workflows.ts and src/api/jobs.ts, whose TypeBox schemas these follow) */

export interface WebhookEndpoint {
  id: string;
  url: string;
  description: string;
  /** Event types it gets, or ['*'] for every event. */
  events: string[];
  enabled: boolean;
  /** Why it is off: "Disabled by an administrator." or the receiver's 410 Gone. */
  disabledReason: string | null;
  /** After a rotation: until when the previous secret also signs. */
  previousSecretUntil: string | null;
  createdAt: string;
  lastDelivery: { at: string; succeeded: boolean; statusCode: number | null } | null;
}

/** GET /webhooks: the endpoints and the event types one can subscribe to. */
export interface WebhookList {
  items: WebhookEndpoint[];
  eventTypes: string[];
}

/** An endpoint with its signing secret (whsec_…): answered once, when it is added. */
export interface WebhookCreated {
  endpoint: WebhookEndpoint;
  secret: string;
}

export interface WebhookRotated {
  secret: string;
  /** Null after an immediate rotation: no earlier secret signs any more. */
  previousSecretUntil: string | null;
}

/** One attempt to deliver one message (the delivery log). */
export interface WebhookDelivery {
  id: string;
  /** The webhook-id header: the same for every attempt and redelivery of a message. */
  messageId: string;
  eventType: string;
  attempt: number;
  statusCode: number | null;
  durationMs: number | null;
  error: string | null;
  succeeded: boolean;
  createdAt: string;
}

/** The identity events a workflow rule can start on (src/workflows/rules.ts, WORKFLOW_TRIGGERS). */
export const WORKFLOW_TRIGGERS = ['user.provisioned', 'user.first_signin', 'group.member_added', 'group.member_removed', 'user.role_changed', 'user.deactivated', 'user.deleted'] as const;
export type WorkflowTrigger = (typeof WORKFLOW_TRIGGERS)[number];

export interface WorkflowConditions {
  group?: string;
  department?: string;
  /** A sign-in connection's short name (slug). */
  connection?: string;
  source?: 'scim' | 'jit' | 'local';
}

export type WorkflowAction =
  | { type: 'ticket'; title: string; description: string; category?: string | null; teamId?: string | null; checklist: string[] }
  | { type: 'notify_manager' }
  | { type: 'webhook'; endpointId: string };

export interface WorkflowRule {
  id: string;
  name: string;
  template: 'onboarding' | 'offboarding' | null;
  trigger: WorkflowTrigger;
  conditions: WorkflowConditions;
  actions: WorkflowAction[];
  enabled: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface WorkflowTemplate {
  template: 'onboarding' | 'offboarding';
  name: string;
  trigger: string;
  actions: WorkflowAction[];
}

/** GET /workflows: the tenant's rules and the ready-made templates. */
export interface WorkflowList {
  items: WorkflowRule[];
  templates: WorkflowTemplate[];
}

/** The body of POST /workflows. */
export interface NewWorkflowRule {
  name: string;
  trigger: WorkflowTrigger;
  conditions?: WorkflowConditions;
  actions: WorkflowAction[];
  enabled?: boolean;
}

/** What a rule did with one event. */
export interface WorkflowRun {
  ruleId: string;
  ruleName: string;
  eventId: string;
  eventType: string;
  /** The person's email. */
  person: string | null;
  outcome: 'done' | 'skipped';
  /** What it did, or which condition was not met. */
  note: string | null;
  ticket: { id: string; ref: string } | null;
  createdAt: string;
}

/** `failed`: waiting to be tried again; `dead`: out of attempts, until an admin retries it. */
export type JobState = 'pending' | 'running' | 'failed' | 'dead' | 'done';
export const JOB_STATES: JobState[] = ['pending', 'running', 'failed', 'dead', 'done'];

export interface Job {
  id: string;
  kind: string;
  state: JobState;
  attempts: number;
  maxAttempts: number;
  runAt: string;
  lastError: string | null;
  createdAt: string;
  finishedAt: string | null;
  /** What it is about, in words (the webhook event and URL, the workflow and event). */
  summary: string;
}

export interface JobList {
  items: Job[];
  counts: Record<JobState, number>;
}

/** A step of a ticket's checklist. */
export interface TicketTask {
  id: string;
  position: number;
  title: string;
  doneAt: string | null;
  doneBy: { id: string; displayName: string } | null;
}

/** A governed identity change waiting for (or past) a change manager's approval (GET /governance). */
export interface PendingIdentityChange {
  id: string;
  kind: 'role_rule.add' | 'role_rule.delete' | 'enforcement.set' | 'connection.update' | 'connection.delete' | 'governance.set';
  summary: string;
  status: 'pending' | 'approved' | 'applied' | 'rejected' | 'failed';
  error: string | null;
  ticket: { id: string; ref: string; status: string };
  requestedBy: { id: string; displayName: string };
  createdAt: string;
  decidedAt: string | null;
  appliedAt: string | null;
}

export interface GovernanceState {
  enabled: boolean;
  /** The viewer is a break-glass account: their own changes take effect at once (audited). */
  actorBreakGlass: boolean;
  changes: PendingIdentityChange[];
}

/** A role grant with where it came from, as the access review shows it (GET /access-review). */
export interface ReviewGrant {
  role: Role;
  origin: 'person' | 'rule' | 'system';
  grantedAt: string;
  grantedBy: { id: string; displayName: string; email: string } | null;
  system: 'tenant_created' | 'jit' | 'scim' | null;
  rule: { id: string; groupRef: string; precedence: number; connection: string | null; connectionName: string | null } | null;
  via: ({ kind: 'scim'; groupId: string; displayName: string; externalId: string | null } | { kind: 'signin'; connection: string | null; connectionName: string | null })[];
  revocable: boolean;
  provenance: string;
}

export interface ReviewPerson {
  id: string;
  email: string;
  displayName: string;
  status: 'active' | 'waiting' | 'disabled';
  source: 'local' | 'jit' | 'scim';
  breakGlass: boolean;
  createdAt: string;
  firstSigninAt: string | null;
  lastSigninAt: string | null;
  lastScimChangeAt: string | null;
  roles: Role[];
  grants: ReviewGrant[];
}

/** Per role: who holds it and through what (GET /access-review/roles). */
export interface RoleReview {
  role: Role;
  label: string;
  holderCount: number;
  byOrigin: { person: number; rule: number; system: number };
  rules: { id: string; groupRef: string; precedence: number; connection: string | null; holders: number; scimGroups: string[] }[];
  grantors: { id: string | null; displayName: string | null; email: string | null; holders: number }[];
  holders: Omit<ReviewPerson, 'roles'>[];
  more: boolean;
}
