/**
 * Shapes of the Keydesk REST API. Where the server declares a response with a TypeBox schema
 * (src/api/schemas.ts and the src/api/*.ts route files), the type is derived from it, so the two
 * cannot drift apart; the imports are type-only and vite erases them, so no server code reaches the
 * browser bundle. The few shapes still written out here say why.
 */
import type { Static } from 'typebox';
import type { ReviewGrantT, ReviewPersonT, ReviewSettingsT, RoleReviewT } from '../api/access-review';
import type { AuditEntryT, AuditSettingsT, AuditVerificationT } from '../api/audit';
import type { PendingIdentityChangeT } from '../api/governance';
import type { JobT } from '../api/jobs';
import type { ScimActivityT, ScimCredentialSecretT, ScimCredentialT } from '../api/provisioning';
import type { ApprovalSchema, CommentSchema, EventSchema, GrantSchema, IdentitySchema, RequestCategorySchema, TeamSchema, TicketQuery, TicketSchema, UserSchema } from '../api/schemas';
import type { SessionViewT } from '../api/session';
import type { RoleRuleT, SsoCertificateT, SsoConnectionT, SsoDomainT, SsoEnforcementT, TraceSummaryT } from '../api/sso';
import type { ConnectionButtonT } from '../api/tenants';
import type { ApiTokenT } from '../api/tokens';
import type { WebhookDeliveryT, WebhookEndpointT } from '../api/webhooks';
import type { TicketTaskT, WorkflowActionT, WorkflowConditionsT, WorkflowRuleBodyT, WorkflowRuleT, WorkflowRunT } from '../api/workflows';

/**
 * A server type as JSON delivers it: the server's DateTime is a Date (`Type.Unsafe<Date>`), which
 * the serializer writes as an RFC 3339 string.
 */
export type Json<T> = T extends Date ? string : T extends readonly (infer U)[] ? Json<U>[] : T extends object ? { [K in keyof T]: Json<T[K]> } : T;

export type Role = Static<typeof UserSchema>['roles'][number];
// Lists needed at run time are written here (a value imported from the server's modules would be
// bundled); their element types come from the server.
export const ROLES: Role[] = ['requester', 'agent', 'change_manager', 'admin'];
export type TicketType = Ticket['type'];

export type PersonRef = Ticket['requester'];

export type User = Json<Static<typeof UserSchema>>;
export type Grant = Static<typeof GrantSchema>;
/** An identity-provider subject bound to an account (one per connection). */
export type SigninIdentity = Json<Static<typeof IdentitySchema>>;

export type UserDetail = User & { grants: Grant[]; identities: SigninIdentity[] };

export type Session = Json<SessionViewT>;

/** The agent workspace's queues, defined by the server. */
export type QueueId = NonNullable<Static<typeof TicketQuery>['queue']>;

export type Ticket = Json<Static<typeof TicketSchema>>;

export type Comment = Json<Static<typeof CommentSchema>>;

export type TicketEvent = Json<Static<typeof EventSchema>>;

export type Approval = Json<Static<typeof ApprovalSchema>>;

/** An approval decision with the change it was about (the approvals inbox's history). */
export interface Decision extends Approval {
  change: { id: string; ref: string; title: string; status: string };
}

export type Team = Static<typeof TeamSchema>;

/** What a requester may ask for (`GET /api/v1/request-categories`). */
export type RequestCategory = Json<Static<typeof RequestCategorySchema>>;

export type AuditEntry = Json<AuditEntryT>;

/** `GET /api/v1/audit/settings`: retention and SIEM streaming (syslog over TLS). */
export type AuditSettings = Json<AuditSettingsT>;

/** `GET /api/v1/audit/verify`. */
export type AuditVerification = Json<AuditVerificationT>;

/** `POST /api/v1/audit/settings/syslog/test`. */
export interface SyslogTestResult {
  ok: boolean;
  message: string;
  code: string | null;
  ms: number;
}

export type ApiToken = Json<ApiTokenT>;

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/* ---------- Single sign-on (see src/api/sso.ts and src/api/tenants.ts) ---------- */

export type SsoCertificate = SsoCertificateT;


export const ATTRIBUTE_KEYS = ['email', 'givenName', 'surname', 'displayName', 'groups', 'subject'] as const;
export type AttributeKey = (typeof ATTRIBUTE_KEYS)[number];

/** The server declares one connection shape with the protocol's parts optional; the web app tells them apart by `protocol`. */
type ConnectionView = Json<SsoConnectionT>;
type SsoConnectionCommon = Omit<ConnectionView, 'protocol' | 'allowIdpInitiated' | 'allowSha1' | 'sp' | 'idp' | 'oidc' | 'attributeMap'> & {
  /** Not sent by every server version: the settings form only prefills it when present. */
  attributeMap?: Partial<Record<AttributeKey, string>>;
};

export type SamlSsoConnection = SsoConnectionCommon & {
  protocol: 'saml';
  allowIdpInitiated: boolean;
  allowSha1: boolean;
  sp: NonNullable<ConnectionView['sp']>;
  idp: NonNullable<ConnectionView['idp']>;
};

export type OidcSsoConnection = SsoConnectionCommon & { protocol: 'oidc'; oidc: NonNullable<ConnectionView['oidc']> };

/** A connection to an identity provider: SAML 2.0 or OpenID Connect, told apart by `protocol`. */
export type SsoConnection = SamlSsoConnection | OidcSsoConnection;

/** The identity provider's side of a connection, exactly one way. */
export type IdpSourceBody = { metadataXml: string } | { metadataUrl: string } | { entityId: string; ssoUrl: string; sloUrl?: string; certificates: string[] };

export type RuleRole = RoleRule['role'];
export const RULE_ROLES: RuleRole[] = ['agent', 'change_manager', 'admin'];

export type RoleRule = Json<RoleRuleT>;

export type SsoDomain = Json<SsoDomainT>;

export type SsoEnforcement = SsoEnforcementT;

export type TraceSummary = Json<TraceSummaryT>;

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
export type SignInConnection = ConnectionButtonT;

export interface SignInOptions {
  name: string;
  connections: SignInConnection[];
  passwordAllowed: boolean;
}

/* ---------- Provisioning: SCIM credentials and activity (see src/api/provisioning.ts) ---------- */

export type ScimCredentialKind = ScimCredential['kind'];

/** A secret token or an OAuth client an identity provider provisions with; the secret itself is never sent again. */
export type ScimCredential = Json<ScimCredentialT>;

/** A credential with its secret: answered once, when it is generated or renewed. */
export type ScimCredentialSecret = Json<ScimCredentialSecretT>;

export interface Provisioning {
  /** The SCIM base URL to paste into Entra or Okta; it never changes. */
  tenantUrl: string;
  /** Where OAuth clients get access tokens (client credentials grant). */
  tokenEndpoint: string;
  maxPerKind: number;
  credentials: ScimCredential[];
}

/** One SCIM request, as the activity log keeps it. */
export type ScimActivity = Json<ScimActivityT>;


/* ---------- Automation: webhooks, workflows, background jobs, ticket checklists ---------- */
/* (see src/api/webhooks.ts, src/api/workflows.ts and src/api/jobs.ts, whose TypeBox schemas these follow) */

export type WebhookEndpoint = Json<WebhookEndpointT>;

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
export type WebhookDelivery = Json<WebhookDeliveryT>;

/** The identity events a workflow rule can start on (src/workflows/rules.ts, WORKFLOW_TRIGGERS). */
export type WorkflowTrigger = WorkflowRule['trigger'];
export const WORKFLOW_TRIGGERS: WorkflowTrigger[] = ['user.provisioned', 'user.first_signin', 'group.member_added', 'group.member_removed', 'user.role_changed', 'user.deactivated', 'user.deleted'];

export type WorkflowConditions = WorkflowConditionsT;

export type WorkflowAction = WorkflowActionT;

export type WorkflowRule = Json<WorkflowRuleT>;

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
export type NewWorkflowRule = WorkflowRuleBodyT;

/** What a rule did with one event. */
export type WorkflowRun = Json<WorkflowRunT>;

/** `failed`: waiting to be tried again; `dead`: out of attempts, until an admin retries it. */
export type JobState = Job['state'];
export const JOB_STATES: JobState[] = ['pending', 'running', 'failed', 'dead', 'done'];

export type Job = Json<JobT>;

export interface JobList {
  items: Job[];
  counts: Record<JobState, number>;
}

/** A step of a ticket's checklist. */
export type TicketTask = Json<TicketTaskT>;

/** A governed identity change waiting for (or past) a change manager's approval (GET /governance). */
export type PendingIdentityChange = Json<PendingIdentityChangeT>;

export interface GovernanceState {
  enabled: boolean;
  /** The viewer is a break-glass account: their own changes take effect at once (audited). */
  actorBreakGlass: boolean;
  changes: PendingIdentityChange[];
}

/** A role grant with where it came from, as the access review shows it (GET /access-review). */
export type ReviewGrant = Json<ReviewGrantT>;

export type ReviewPerson = Json<ReviewPersonT>;

/** Per role: who holds it and through what (GET /access-review/roles). */
export type RoleReview = Json<RoleReviewT>;

/** GET and PUT /access-review/settings. */
export type ReviewSettings = ReviewSettingsT;
