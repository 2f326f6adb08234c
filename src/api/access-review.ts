import { Type, type Static } from 'typebox';
import { requireAuth, requireRole } from '../http/auth.js';
import { WRITTEN_TEXT } from '../http/text.js';
import { exportReview } from '../access-review/export.js';
import { MAX_REASON_LENGTH, revokePersonGrant } from '../access-review/revoke.js';
import { assertReviewer, getReviewSettings, GRANT_ORIGINS, reviewPeople, reviewRoles, setReviewSettings, type ReviewFilter } from '../access-review/review.js';
import { errors, type RoutePlugin } from './common.js';
import { ExportFileResponse, ExportFormatParam, sendExportFile } from './export-file.js';
import { DateTime, Nullable, Page, RoleSchema, StringEnum, Text, Uuid } from './schemas.js';

const Via = Type.Object({
  kind: StringEnum(['scim', 'signin'] as const, { description: '`scim`: a SCIM group membership; `signin`: the groups claim of the latest sign-in' }),
  groupId: Type.Optional(Uuid),
  displayName: Type.Optional(Type.String()),
  externalId: Type.Optional(Nullable(Type.String())),
  connection: Type.Optional(Nullable(Type.String())),
  connectionName: Type.Optional(Nullable(Type.String())),
});

const ReviewGrant = Type.Object(
  {
    role: RoleSchema,
    origin: StringEnum(GRANT_ORIGINS),
    grantedAt: DateTime,
    grantedBy: Nullable(Type.Object({ id: Uuid, displayName: Type.String(), email: Type.String() }, { description: '`person` grants: the administrator who gave it; null when none is recorded (command line, operator recovery)' })),
    system: Nullable(StringEnum(['tenant_created', 'jit', 'scim'] as const, { description: "`system` grants: the tenant's first administrator, or the default role of an account made at sign-in or by SCIM" })),
    rule: Nullable(
      Type.Object({
        id: Uuid,
        groupRef: Type.String(),
        precedence: Type.Integer(),
        connection: Nullable(Type.String({ description: 'The connection (slug) whose sign-ins alone the rule trusts; null: every sign-in and SCIM' })),
        connectionName: Nullable(Type.String()),
      }),
    ),
    via: Type.Array(Via, { description: "`rule` grants: where the person's membership of the rule's group is seen now" }),
    revocable: Type.Boolean({ description: 'Only person-granted roles can be revoked from the review' }),
    provenance: Type.String({ description: 'The provenance in words, as the export writes it' }),
  },
  { description: 'One grant of a role, with its provenance' },
);

const PersonFields = {
  id: Uuid,
  email: Type.String(),
  displayName: Type.String(),
  status: StringEnum(['active', 'waiting', 'disabled'] as const),
  source: StringEnum(['local', 'jit', 'scim'] as const, { description: '`local`: made by an administrator or the command line; `jit`: at a first single sign-on; `scim`: provisioned by SCIM' }),
  breakGlass: Type.Boolean(),
  createdAt: DateTime,
  firstSigninAt: Nullable(DateTime),
  lastSigninAt: Nullable(DateTime),
  lastScimChangeAt: Nullable(DateTime),
  grants: Type.Array(ReviewGrant),
};
const ReviewPerson = Type.Object({ ...PersonFields, roles: Type.Array(RoleSchema) }, { description: 'A live account in the access review' });

const RoleReview = Type.Object({
  role: RoleSchema,
  label: Type.String(),
  holderCount: Type.Integer(),
  byOrigin: Type.Object({ person: Type.Integer(), rule: Type.Integer(), system: Type.Integer() }),
  rules: Type.Array(
    Type.Object({
      id: Uuid,
      groupRef: Type.String(),
      precedence: Type.Integer(),
      connection: Nullable(Type.String()),
      holders: Type.Integer(),
      scimGroups: Type.Array(Type.String(), { description: 'The names of the SCIM groups the reference names (by externalId or name)' }),
    }),
  ),
  grantors: Type.Array(Type.Object({ id: Nullable(Uuid), displayName: Nullable(Type.String()), email: Nullable(Type.String()), holders: Type.Integer() })),
  holders: Type.Array(Type.Object(PersonFields), { description: "The first holders in email order, with this role's grants alone" }),
  more: Type.Boolean({ description: 'More hold it than are listed: GET /access-review?role=… lists them all' }),
});

const Settings = Type.Object({ changeManagersMayReview: Type.Boolean({ description: 'Change managers may review, export and revoke too; administrators always may' }) });

const filterProperties = {
  role: Type.Optional(RoleSchema),
  origin: Type.Optional(StringEnum(GRANT_ORIGINS, { description: 'People with a grant of this origin (of `role`, when given)' })),
  source: Type.Optional(StringEnum(['local', 'jit', 'scim'] as const)),
  status: Type.Optional(StringEnum(['active', 'waiting', 'disabled'] as const)),
  staleDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650, description: 'Stale: no sign-in for this many days (never signed in counts from the account’s creation)' })),
  q: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: WRITTEN_TEXT, description: 'Part of the email or name, any case' })),
};
const FilterQuery = Type.Object(filterProperties);

function filterOf(query: Static<typeof FilterQuery>): ReviewFilter {
  const { role, origin, source, status, staleDays, q } = query;
  const f: ReviewFilter = { role, origin, source, status, staleDays, q: q?.trim() || undefined };
  return Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined)) as ReviewFilter;
}

export const accessReviewRoutes: RoutePlugin = async (app) => {
  const tags = ['access review'];

  app.get('/access-review', {
    schema: {
      tags,
      summary: 'Every live account with each role and where it came from (reviewers: admins, and change managers where allowed)',
      querystring: Type.Object(
        {
          ...filterProperties,
          limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
          cursor: Type.Optional(Type.String({ maxLength: 600, pattern: '^[A-Za-z0-9_-]*$' })),
        },
        { additionalProperties: false },
      ),
      response: { 200: Page(ReviewPerson), ...errors },
    },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    await assertReviewer(ctx);
    const { limit, cursor } = request.query;
    return reviewPeople(ctx, filterOf(request.query), { limit, cursor: cursor || undefined });
  });

  app.get('/access-review/roles', {
    schema: {
      tags,
      summary: 'Per role: how many hold it, through which rules and whose grants, and the first holders with provenance (reviewers)',
      querystring: Type.Object({ holders: Type.Integer({ minimum: 0, maximum: 200, default: 50, description: 'Holders listed per role' }) }, { additionalProperties: false }),
      response: { 200: Type.Object({ items: Type.Array(RoleReview) }), ...errors },
    },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    await assertReviewer(ctx);
    return { items: await reviewRoles(ctx, request.query.holders) };
  });

  app.get('/access-review/export', {
    // A HEAD would record an export that sends nothing.
    exposeHeadRoute: false,
    schema: {
      tags,
      summary: 'The review as a file for an auditor: one row per (person, role grant), CSV (RFC 4180) or JSON Lines (reviewers; recorded as access_review.exported)',
      description:
        'Every live account matching the filters (all without any), in email order; a person with no role is one row with the grant columns empty. CSV: a header row, CRLF line ends, fields quoted when needed, a cell starting with = + - @ TAB or CR prefixed with \' (formula injection). JSON Lines: one object per row with the same keys.',
      querystring: Type.Object({ ...ExportFormatParam, ...filterProperties }, { additionalProperties: false }),
      response: { 200: ExportFileResponse, ...errors },
    },
  }, async (request, reply) => {
    const { ctx } = requireAuth(request);
    await assertReviewer(ctx);
    const file = await exportReview(ctx, request.query.format, filterOf(request.query));
    return sendExportFile(reply, file);
  });

  app.post('/access-review/revoke', {
    schema: {
      tags,
      summary: 'Revoke a role a person granted, with the reason (reviewers; recorded as access_review.role_revoked)',
      description:
        "Removes the person-made grant of the role. A role that comes from a rule or the system is refused (409 `not_person_granted`) with where it comes from and what to do instead; the last administrator, and an enforced tenant's last break-glass administrator, cannot lose it (409 `last_admin` | `break_glass_required`). `stillHeld`: a rule or the system still gives the role.",
      body: Type.Object(
        { userId: Uuid, role: RoleSchema, reason: Text(MAX_REASON_LENGTH, { description: 'Why: recorded in the audit trail' }) },
        { additionalProperties: false },
      ),
      response: { 200: Type.Object({ person: ReviewPerson, revoked: ReviewGrant, stillHeld: Type.Boolean() }), ...errors },
    },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    await assertReviewer(ctx);
    return revokePersonGrant(ctx, request.body);
  });

  app.get('/access-review/settings', {
    schema: { tags, summary: 'Who may review access (admins and change managers)', response: { 200: Settings, ...errors } },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin', 'change_manager');
    return getReviewSettings(ctx);
  });

  app.put('/access-review/settings', {
    schema: { tags, summary: 'Let change managers review access, or not (admins; audited)', body: Type.Object({ changeManagersMayReview: Type.Boolean() }, { additionalProperties: false }), response: { 200: Settings, ...errors } },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    return setReviewSettings(ctx, request.body);
  });
};

export type ReviewGrantT = Static<typeof ReviewGrant>;
export type ReviewPersonT = Static<typeof ReviewPerson>;
export type RoleReviewT = Static<typeof RoleReview>;
export type ReviewSettingsT = Static<typeof Settings>;
