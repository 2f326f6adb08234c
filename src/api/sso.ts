import { Type } from 'typebox';
import { requireAuth, requireRole } from '../http/auth.js';
import { ValidationFailed } from '../http/errors.js';
import {
  ATTRIBUTE_MAP_KEYS,
  connectionView,
  createSamlConnection,
  deleteConnection,
  getConnection,
  listConnections,
  updateConnection,
  type Connection,
  type IdpSource,
} from '../identity/connections.js';
import type { Ctx } from '../context.js';
import { beginSamlSignin } from '../identity/saml/signin.js';
import { getTrace, listTraces } from '../identity/saml/trace.js';
import { addRoleRule, deleteRoleRule, listRoleRules } from '../identity/provisioning/role-rules.js';
import { addDomain, deleteDomain, listDomains, verifyDomain } from '../tenancy/domains.js';
import { enforcementState, setEnforcement } from '../identity/enforcement.js';
import { Conflict, NotFound } from '../http/errors.js';
import { errors, type RoutePlugin } from './common.js';
import { DateTime, IdParams, Nullable, StringEnum, Text } from './schemas.js';

const CertificateSchema = Type.Object({
  subject: Type.String(),
  issuer: Type.String(),
  thumbprintSha1: Type.String(),
  thumbprintSha256: Type.String(),
  notBefore: Type.String(),
  notAfter: Type.String(),
  daysLeft: Type.Integer(),
});

export const ConnectionSchema = Type.Object(
  {
    id: Type.String(),
    slug: Type.String(),
    protocol: Type.String(),
    displayName: Type.String(),
    enabled: Type.Boolean(),
    publishedAt: Nullable(DateTime),
    live: Type.Boolean({ description: 'Enabled and published: its button is on the sign-in page and it signs people in. Until then only test sign-ins use it.' }),
    warnings: Type.Array(Type.String(), { description: 'Things to look at, such as another connection trusting the same identity provider' }),
    jit: Type.Boolean(),
    waitingRoom: Type.Boolean(),
    allowIdpInitiated: Type.Boolean(),
    allowSha1: Type.Boolean(),
    clockSkewSeconds: Type.Integer(),
    attributeMap: Type.Record(Type.String(), Type.String(), { description: 'Attribute names overriding the defaults; a PATCH replaces the whole map' }),
    testPassedAt: Nullable(DateTime),
    sp: Type.Object(
      {
        identifier: Type.String({ description: "Entra: Identifier (Entity ID)" }),
        replyUrl: Type.String({ description: 'Entra: Reply URL (Assertion Consumer Service URL)' }),
        signOnUrl: Type.String({ description: 'Entra: Sign on URL' }),
        logoutUrl: Type.String({ description: 'Entra: Logout URL' }),
        metadataUrl: Type.String(),
      },
      { description: 'Values to paste into the identity provider' },
    ),
    idp: Type.Object({
      entityId: Type.String(),
      ssoUrl: Type.String(),
      sloUrl: Nullable(Type.String()),
      certificates: Type.Array(CertificateSchema),
      metadataUrl: Nullable(Type.String()),
      metadataFetchedAt: Nullable(DateTime),
      metadataError: Nullable(Type.String()),
    }),
  },
  { $id: 'Connection' },
);

const SourceFields = {
  metadataXml: Type.Optional(Text(1024 * 1024)),
  metadataUrl: Type.Optional(Text(2000)),
  entityId: Type.Optional(Text(1000)),
  ssoUrl: Type.Optional(Text(2000)),
  sloUrl: Type.Optional(Text(2000)),
  certificates: Type.Optional(Type.Array(Text(20000), { minItems: 1, maxItems: 10 })),
};

const NewConnection = Type.Object(
  {
    slug: Text(40),
    displayName: Type.Optional(Text(100)),
    ...SourceFields,
    allowIdpInitiated: Type.Optional(Type.Boolean()),
    allowSha1: Type.Optional(Type.Boolean()),
    clockSkewSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 600 })),
    jit: Type.Optional(Type.Boolean()),
    waitingRoom: Type.Optional(Type.Boolean()),
    publish: Type.Optional(Type.Boolean({ description: 'Live at once, before any test sign-in (audited). By default a connection goes live when its first test sign-in passes.' })),
  },
  {
    additionalProperties: false,
    description: 'Give the identity provider as metadataXml, as metadataUrl, or by hand as entityId + ssoUrl + certificates (PEM or base64 DER).',
  },
);

/** The identity provider's side from request fields: exactly one of metadata XML, metadata URL, or by hand. */
function sourceFrom(b: { metadataXml?: string; metadataUrl?: string; entityId?: string; ssoUrl?: string; sloUrl?: string; certificates?: string[] }, required: boolean): IdpSource | undefined {
  const given = [b.metadataXml !== undefined, b.metadataUrl !== undefined, b.entityId !== undefined].filter(Boolean).length;
  if (given === 0 && !required && b.ssoUrl === undefined && b.certificates === undefined) return undefined;
  if (given !== 1 || (b.entityId !== undefined && (!b.ssoUrl || !b.certificates))) {
    throw new ValidationFailed('Give exactly one of: metadataXml, metadataUrl, or entityId with ssoUrl and certificates.', [
      { field: 'metadataXml', message: 'one identity-provider source is required' },
    ]);
  }
  if (b.metadataXml !== undefined) return { metadataXml: b.metadataXml };
  if (b.metadataUrl !== undefined) return { metadataUrl: b.metadataUrl };
  return { entityId: b.entityId!, ssoUrl: b.ssoUrl!, sloUrl: b.sloUrl, certificates: b.certificates! };
}

const RuleSchema = Type.Object({
  id: Type.String(),
  groupRef: Type.String(),
  role: StringEnum(['agent', 'change_manager', 'admin'] as const),
  precedence: Type.Integer(),
  createdAt: DateTime,
});
const DomainSchema = Type.Object({
  domain: Type.String(),
  verified: Type.Boolean(),
  verifiedAt: Nullable(DateTime),
  txtRecordName: Type.String(),
  txtRecordValue: Type.String(),
});
const EnforcementSchema = Type.Object({
  enforced: Type.Boolean(),
  canEnforce: Type.Boolean(),
  reason: Nullable(Type.String()),
  breakGlass: Type.Array(Type.Object({ id: Type.String(), email: Type.String(), displayName: Type.String() })),
});
const TraceSummarySchema = Type.Object({
  id: Type.String(),
  connectionSlug: Nullable(Type.String()),
  test: Type.Boolean(),
  outcome: StringEnum(['success', 'failure'] as const),
  errorCode: Nullable(Type.String()),
  userEmail: Nullable(Type.String()),
  createdAt: DateTime,
});
const DomainParams = Type.Object({ domain: Type.String({ minLength: 1, maxLength: 253 }) });

export const ssoRoutes: RoutePlugin = async (app, { deps }) => {
  const tags = ['single sign-on'];
  const view = async (ctx: Ctx, c: Connection) => connectionView(c, deps.config.publicUrl, ctx.tenant.slug, await listConnections(ctx.db, ctx.tenant.id));

  app.get('/sso/connections', {
    schema: { tags, summary: 'Identity-provider connections (admins)', response: { 200: Type.Object({ items: Type.Array(ConnectionSchema) }), ...errors } },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    const items = await listConnections(ctx.db, ctx.tenant.id);
    return { items: items.map((c) => connectionView(c, deps.config.publicUrl, ctx.tenant.slug, items)) };
  });

  app.post('/sso/connections', {
    schema: { tags, summary: 'Connect a SAML identity provider (admins)', body: NewConnection, response: { 201: ConnectionSchema, ...errors } },
  }, async (request, reply) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    const { slug, displayName, metadataXml, metadataUrl, entityId, ssoUrl, sloUrl, certificates, ...options } = request.body;
    const source = sourceFrom({ metadataXml, metadataUrl, entityId, ssoUrl, sloUrl, certificates }, true)!;
    const c = await createSamlConnection(ctx, { slug, displayName, source, ...options });
    return reply.code(201).send(await view(ctx, c));
  });

  app.get('/sso/connections/:id', {
    schema: { tags, summary: 'One connection, by id or slug (admins)', params: IdParams, response: { 200: ConnectionSchema, ...errors } },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    return view(ctx, await getConnection(ctx.db, ctx.tenant.id, request.params.id));
  });

  app.patch('/sso/connections/:id', {
    schema: {
      tags,
      summary: 'Change a connection, or replace its identity-provider side (admins)',
      params: IdParams,
      body: Type.Object(
        {
          displayName: Type.Optional(Text(100)),
          enabled: Type.Optional(Type.Boolean()),
          published: Type.Optional(Type.Boolean({ description: 'true: live now, tested or not (audited); false: back to testing' })),
          jit: Type.Optional(Type.Boolean()),
          waitingRoom: Type.Optional(Type.Boolean()),
          allowIdpInitiated: Type.Optional(Type.Boolean()),
          allowSha1: Type.Optional(Type.Boolean()),
          clockSkewSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 600 })),
          attributeMap: Type.Optional(
            Type.Object(Object.fromEntries(ATTRIBUTE_MAP_KEYS.map((k) => [k, Type.Optional(Type.String({ maxLength: 300 }))])), { additionalProperties: false }),
          ),
          ...SourceFields,
        },
        { additionalProperties: false, minProperties: 1 },
      ),
      response: { 200: ConnectionSchema, ...errors },
    },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    const { metadataXml, metadataUrl, entityId, ssoUrl, sloUrl, certificates, attributeMap, ...rest } = request.body;
    const source = sourceFrom({ metadataXml, metadataUrl, entityId, ssoUrl, sloUrl, certificates }, false);
    const c = await updateConnection(ctx, request.params.id, { ...rest, ...(attributeMap ? { attributeMap: attributeMap as Record<string, string> } : {}), source });
    return view(ctx, c);
  });

  app.delete('/sso/connections/:id', {
    schema: { tags, summary: 'Remove a connection (admins)', params: IdParams, response: { 204: Type.Null(), ...errors } },
  }, async (request, reply) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    await deleteConnection(ctx, request.params.id);
    return reply.code(204).send(null);
  });

  app.post('/sso/connections/:id/test', {
    schema: {
      tags,
      summary: 'Start a test sign-in (admins): open the returned URL; the result lands on the trace page and changes nothing',
      params: IdParams,
      response: { 200: Type.Object({ url: Type.String() }), ...errors },
    },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    const c = await getConnection(ctx.db, ctx.tenant.id, request.params.id);
    if (!c.enabled) throw new Conflict('The connection is disabled. Enable it before testing.', 'connection_disabled');
    const { url } = await beginSamlSignin(ctx.db, deps.config, ctx.tenant, c.slug, null, { test: true });
    return { url };
  });

  app.get('/sso/traces', {
    schema: {
      tags,
      summary: 'Sign-in traces, newest first (admins)',
      querystring: Type.Object(
        {
          outcome: Type.Optional(StringEnum(['success', 'failure'] as const)),
          connection: Type.Optional(Type.String({ maxLength: 40 })),
          limit: Type.Integer({ minimum: 1, maximum: 100, default: 50 }),
          cursor: Type.Optional(Type.String({ pattern: '^KD-[0-9A-F]{10}$' })),
        },
        { additionalProperties: false },
      ),
      response: { 200: Type.Object({ items: Type.Array(TraceSummarySchema), nextCursor: Nullable(Type.String()) }), ...errors },
    },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    const { cursor, limit, ...f } = request.query;
    const rows = await listTraces(ctx.db, ctx.tenant.id, { ...f, before: cursor, limit: limit + 1 });
    const page = rows.slice(0, limit);
    return { items: page, nextCursor: rows.length > limit ? page[page.length - 1]!.id : null };
  });

  app.get('/sso/traces/:id', {
    schema: {
      tags,
      summary: 'One sign-in trace by its reference (admins): every check, the claims, the fix',
      params: IdParams,
      response: { 200: Type.Intersect([TraceSummarySchema, Type.Object({ trace: Type.Record(Type.String(), Type.Unknown()) })]), ...errors },
    },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    const trace = await getTrace(ctx.db, ctx.tenant.id, request.params.id);
    if (!trace) throw new NotFound('Trace');
    return trace;
  });

  app.get('/sso/role-rules', {
    schema: { tags, summary: 'Group → role rules (admins)', response: { 200: Type.Object({ items: Type.Array(RuleSchema) }), ...errors } },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    return { items: await listRoleRules(ctx) };
  });

  app.post('/sso/role-rules', {
    schema: {
      tags,
      summary: 'Map an identity-provider group (Entra object id or Okta name) to a role (admins)',
      body: Type.Object(
        {
          groupRef: Text(256),
          role: StringEnum(['agent', 'change_manager', 'admin'] as const),
          precedence: Type.Optional(Type.Integer({ minimum: 0, maximum: 100000 })),
        },
        { additionalProperties: false },
      ),
      response: { 201: RuleSchema, ...errors },
    },
  }, async (request, reply) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    return reply.code(201).send(await addRoleRule(ctx, request.body));
  });

  app.delete('/sso/role-rules/:id', {
    schema: { tags, summary: 'Remove a rule and the grants it made (admins)', params: IdParams, response: { 204: Type.Null(), ...errors } },
  }, async (request, reply) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    await deleteRoleRule(ctx, request.params.id);
    return reply.code(204).send(null);
  });

  app.get('/sso/domains', {
    schema: { tags, summary: 'Email domains that route sign-in here (admins)', response: { 200: Type.Object({ items: Type.Array(DomainSchema) }), ...errors } },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    return { items: await listDomains(ctx) };
  });

  app.post('/sso/domains', {
    schema: {
      tags,
      summary: 'Add a domain; publish the returned TXT record, then verify (admins)',
      body: Type.Object({ domain: Text(253) }, { additionalProperties: false }),
      response: { 201: DomainSchema, ...errors },
    },
  }, async (request, reply) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    return reply.code(201).send(await addDomain(ctx, request.body.domain));
  });

  app.post('/sso/domains/:domain/verify', {
    schema: { tags, summary: 'Check the DNS TXT record and verify the domain (admins)', params: DomainParams, response: { 200: DomainSchema, ...errors } },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    return verifyDomain(ctx, request.params.domain, deps.txtLookup);
  });

  app.delete('/sso/domains/:domain', {
    schema: { tags, summary: 'Remove a domain (admins)', params: DomainParams, response: { 204: Type.Null(), ...errors } },
  }, async (request, reply) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    await deleteDomain(ctx, request.params.domain);
    return reply.code(204).send(null);
  });

  app.get('/sso/enforcement', {
    schema: { tags, summary: 'Whether single sign-on is enforced, and whether it can be (admins)', response: { 200: EnforcementSchema, ...errors } },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    return enforcementState(ctx.db, ctx.tenant.id);
  });

  app.put('/sso/enforcement', {
    schema: {
      tags,
      summary: 'Enforce single sign-on: passwords only for break-glass accounts (admins)',
      body: Type.Object({ enforced: Type.Boolean() }, { additionalProperties: false }),
      response: { 200: EnforcementSchema, ...errors },
    },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    return setEnforcement(ctx, request.body.enforced);
  });
};
