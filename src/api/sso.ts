import { Type } from 'typebox';
import { requireAuth, requireRole } from '../http/auth.js';
import { ValidationFailed } from '../http/errors.js';
import {
  ATTRIBUTE_MAP_KEYS,
  connectionView,
  spBaseUrl,
  unansweredTests,
  createSamlConnection,
  getConnection,
  listConnections,
  type Connection,
  type IdpSource,
} from '../identity/connections.js';
import type { Ctx } from '../context.js';
import type { ConnectionPatch } from '../identity/connections.js';
import { beginSamlSignin } from '../identity/saml/signin.js';
import { beginOidcSignin } from '../identity/oidc/signin.js';
import { createOidcConnection } from '../identity/oidc/connection.js';
import { rpBaseUrl, rpUrls } from '../identity/oidc/view.js';
import { BROWSER_COOKIE, setBrowserCookie } from '../identity/oidc/routes.js';
import { getTrace, listTraces } from '../identity/signin/trace.js';
import { listRoleRules, type RoleRule } from '../identity/provisioning/role-rules.js';
import { addDomain, deleteDomain, listDomains, verifyDomain } from '../tenancy/domains.js';
import { enforcementState, type EnforcementState } from '../identity/enforcement.js';
import { Conflict, NotFound } from '../http/errors.js';
import { errors, type RoutePlugin } from './common.js';
import { Pending } from './governance.js';
import { governed, requireUngoverned } from '../governance/changes.js';
import { DateTime, IdParams, Nullable, OneLine, StringEnum, Text } from './schemas.js';

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
    allowIdpInitiated: Type.Optional(Type.Boolean({ description: 'SAML' })),
    allowSha1: Type.Optional(Type.Boolean({ description: 'SAML' })),
    clockSkewSeconds: Type.Integer(),
    attributeMap: Type.Record(Type.String(), Type.String(), { description: 'Attribute names overriding the defaults; a PATCH replaces the whole map' }),
    testPassedAt: Nullable(DateTime),
    unansweredTestAt: Type.Optional(Nullable(DateTime)),
    sp: Type.Optional(Type.Object(
      {
        identifier: Type.String({ description: "Entra: Identifier (Entity ID)" }),
        replyUrl: Type.String({ description: 'Entra: Reply URL (Assertion Consumer Service URL)' }),
        signOnUrl: Type.String({ description: 'Entra: Sign on URL' }),
        logoutUrl: Type.String({ description: 'Entra: Logout URL' }),
        metadataUrl: Type.String(),
      },
      { description: 'SAML: values to paste into the identity provider' },
    )),
    idp: Type.Optional(Type.Object({
      entityId: Type.String(),
      ssoUrl: Type.String(),
      sloUrl: Nullable(Type.String()),
      certificates: Type.Array(CertificateSchema),
      metadataUrl: Nullable(Type.String()),
      metadataFetchedAt: Nullable(DateTime),
      metadataError: Nullable(Type.String()),
    }, { description: 'SAML: the identity provider' })),
    oidc: Type.Optional(
      Type.Object(
        {
          issuer: Type.String(),
          clientId: Type.String(),
          clientAuth: StringEnum(['client_secret_post', 'client_secret_basic', 'private_key_jwt'] as const),
          hasClientSecret: Type.Boolean({ description: 'The secret itself is never shown again' }),
          clientCertificate: Nullable(
            Type.Object(
              {
                pem: Type.String({ description: 'Upload at the provider (Entra: Certificates & secrets › Certificates › Upload certificate)' }),
                thumbprintSha1: Type.String({ description: 'As Entra shows it after the upload' }),
                notAfter: Type.String({ format: 'date-time' }),
                publicJwk: Type.Record(Type.String(), Type.Unknown(), { description: 'The public key as a JWK (Okta: Client authentication › Public key / Private key › Add key)' }),
              },
              { description: 'private_key_jwt: the certificate and public key of the key Keydesk signs its client assertions with' },
            ),
          ),
          secretExpiresAt: Nullable(Type.String({ format: 'date-time', description: 'When the admin said the secret expires: notices at 30, 14 and 7 days' })),
          allowedTenants: Type.Array(Type.String(), { description: 'Entra tenant ids (tid) allowed to sign in' }),
          multiTenant: Type.Boolean(),
          redirectUri: Type.String({ description: 'Register at the provider (Entra: Authentication › Web › Redirect URIs)' }),
          backchannelLogoutUri: Type.String({ description: 'Register at the provider for back-channel logout (Entra: Front-channel logout URL is not it)' }),
          loginUrl: Type.String({ description: 'Starts a sign-in; ?RelayState=/t/{tenant}/path picks the landing page' }),
          postLogoutRedirectUri: Type.String(),
          provider: Type.Object({
            issuer: Type.String(),
            authorizationEndpoint: Type.String(),
            tokenEndpoint: Type.String(),
            jwksUri: Type.String(),
            endSessionEndpoint: Nullable(Type.String()),
          }),
        },
        { description: 'OpenID Connect: the client registration and the provider' },
      ),
    ),
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

/** An OpenID Connect client at its provider; the secret is taken, sealed, and never shown again. */
const OidcClientFields = {
  issuer: Type.Optional(Text(2000, { description: 'OIDC: another issuer URL (read again; the connection goes back to testing)' })),
  clientId: Type.Optional(Text(200, { description: 'OIDC: another client ID (the connection goes back to testing)' })),
  clientSecret: Type.Optional(Type.String({ minLength: 1, maxLength: 1000, description: 'OIDC: the client secret (Entra: Certificates & secrets › Value). Never shown again.' })),
  secretExpiresAt: Type.Optional(Nullable(Type.String({ format: 'date-time', description: 'OIDC: when the client secret expires; notices at 30, 14 and 7 days' }))),
  allowedTenants: Type.Optional(Type.Array(Type.String({ maxLength: 36 }), { maxItems: 100, description: 'OIDC: Entra tenant ids (tid) allowed to sign in; required with a multi-tenant issuer' })),
};

const NewConnection = Type.Object(
  {
    slug: Text(40),
    protocol: Type.Optional(StringEnum(['saml', 'oidc'] as const, { description: 'saml (the default) or oidc' })),
    displayName: Type.Optional(Text(100)),
    ...SourceFields,
    clientAuth: Type.Optional(
      StringEnum(['client_secret_post', 'client_secret_basic', 'private_key_jwt'] as const, {
        description: 'OIDC: private_key_jwt makes Keydesk generate a key; its certificate and public JWK are in the answer, to upload at the provider',
      }),
    ),
    ...OidcClientFields,
    allowIdpInitiated: Type.Optional(Type.Boolean()),
    allowSha1: Type.Optional(Type.Boolean()),
    clockSkewSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 600 })),
    jit: Type.Optional(Type.Boolean()),
    waitingRoom: Type.Optional(Type.Boolean()),
    publish: Type.Optional(Type.Boolean({ description: 'Live at once, before any test sign-in (audited). By default a connection goes live when its first test sign-in passes.' })),
  },
  {
    additionalProperties: false,
    description:
      'SAML: give the identity provider as metadataXml, as metadataUrl, or by hand as entityId + ssoUrl + certificates (PEM or base64 DER). OpenID Connect (protocol: oidc): issuer, clientId and clientSecret.',
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
  connection: Nullable(Type.String({ description: 'The connection (slug) whose sign-ins alone the rule trusts; null: every sign-in and SCIM' })),
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
  passwordSessions: Type.Integer({ description: 'Password sessions that enforcing ends: everyone signed in with a password except the break-glass accounts' }),
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
  const view = async (ctx: Ctx, c: Connection) => ({
    ...connectionView(c, deps.config.publicUrl, ctx.tenant.slug, await listConnections(ctx.db, ctx.tenant.id)),
    unansweredTestAt: (await unansweredTests(ctx.db, ctx.tenant.id)).get(c.id) ?? null,
  });

  app.get('/sso/connections', {
    schema: {
      tags,
      summary: 'Identity-provider connections (admins)',
      response: {
        200: Type.Object({
          items: Type.Array(ConnectionSchema),
          spBaseUrl: Type.String({ description: "Where a new connection's SAML URLs start: {spBaseUrl}/{slug}/metadata, /acs, /login, /slo" }),
          rpBaseUrl: Type.String({ description: "Where a new connection's OpenID Connect URLs start: {rpBaseUrl}/{slug}/callback, /backchannel-logout, /login" }),
        }),
        ...errors,
      },
    },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    const items = await listConnections(ctx.db, ctx.tenant.id);
    const unanswered = await unansweredTests(ctx.db, ctx.tenant.id);
    return {
      items: items.map((c) => ({ ...connectionView(c, deps.config.publicUrl, ctx.tenant.slug, items), unansweredTestAt: unanswered.get(c.id) ?? null })),
      spBaseUrl: spBaseUrl(deps.config.publicUrl, ctx.tenant.slug),
      rpBaseUrl: rpBaseUrl(deps.config.publicUrl, ctx.tenant.slug),
    };
  });

  app.post('/sso/connections', {
    schema: { tags, summary: 'Connect a SAML or OpenID Connect identity provider (admins)', body: NewConnection, response: { 201: ConnectionSchema, ...errors } },
  }, async (request, reply) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    const { slug, displayName, protocol, metadataXml, metadataUrl, entityId, ssoUrl, sloUrl, certificates, issuer, clientId, clientAuth, clientSecret, secretExpiresAt, allowedTenants, ...options } = request.body;
    const wrong = (field: string, message: string) => new ValidationFailed(message, [{ field, message }]);
    if (options.publish) await requireUngoverned(ctx, 'publishing a connection as it is created', 'Create it without publishing, test it, then publish it: publishing is a change a change manager approves.');
    if (protocol === 'oidc') {
      const samlField = Object.entries({ metadataXml, metadataUrl, entityId, ssoUrl, sloUrl, certificates, allowIdpInitiated: options.allowIdpInitiated, allowSha1: options.allowSha1 }).find(([, v]) => v !== undefined)?.[0];
      if (samlField) throw wrong(samlField, `${samlField} is a SAML field; an OpenID Connect connection takes issuer, clientId and clientSecret.`);
      if (!issuer || !clientId || (!clientSecret && clientAuth !== 'private_key_jwt')) {
        throw wrong(!issuer ? 'issuer' : !clientId ? 'clientId' : 'clientSecret', 'An OpenID Connect connection needs issuer, clientId and clientSecret (or clientAuth private_key_jwt).');
      }
      const { allowIdpInitiated: _a, allowSha1: _s, ...common } = options;
      const redirectUri = rpUrls(deps.config.publicUrl, ctx.tenant.slug, slug.toLowerCase()).redirectUri;
      const c = await createOidcConnection(ctx, deps.oidcBox, { slug, displayName, issuer, clientId, clientAuth, clientSecret, secretExpiresAt, allowedTenants, redirectUri, ...common });
      return reply.code(201).send(await view(ctx, c));
    }
    const oidcField = Object.entries({ issuer, clientId, clientAuth, clientSecret, secretExpiresAt, allowedTenants }).find(([, v]) => v !== undefined)?.[0];
    if (oidcField) throw wrong(oidcField, `${oidcField} is an OpenID Connect field: send protocol "oidc" with it.`);
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
            Type.Object(Object.fromEntries(ATTRIBUTE_MAP_KEYS.map((k) => [k, Type.Optional(OneLine(300))])), { additionalProperties: false }),
          ),
          ...SourceFields,
          ...OidcClientFields,
        },
        { additionalProperties: false, minProperties: 1 },
      ),
      response: { 200: ConnectionSchema, 202: Pending, ...errors },
    },
  }, async (request, reply) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    const { metadataXml, metadataUrl, entityId, ssoUrl, sloUrl, certificates, attributeMap, clientSecret, secretExpiresAt, allowedTenants, issuer, clientId, ...rest } = request.body;
    const source = sourceFrom({ metadataXml, metadataUrl, entityId, ssoUrl, sloUrl, certificates }, false);
    const fields = { issuer, clientId, clientSecret, secretExpiresAt, allowedTenants };
    const oidc = Object.values(fields).some((v) => v !== undefined) ? fields : undefined;
    const current = await getConnection(ctx.db, ctx.tenant.id, request.params.id);
    const patch: ConnectionPatch = { ...rest, ...(attributeMap ? { attributeMap: attributeMap as Record<string, string> } : {}), source, oidc };
    const r = await governed<Connection>(ctx, deps.governance, { kind: 'connection.update', params: { id: current.id, patch }, summary: describePatch(current.slug, request.body) });
    return r.pending ? reply.code(202).send({ pendingChange: r.pending }) : view(ctx, r.applied);
  });

  app.delete('/sso/connections/:id', {
    schema: { tags, summary: 'Remove a connection (admins)', params: IdParams, response: { 204: Type.Null(), 202: Pending, ...errors } },
  }, async (request, reply) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    const current = await getConnection(ctx.db, ctx.tenant.id, request.params.id);
    const r = await governed(ctx, deps.governance, { kind: 'connection.delete', params: { id: current.id }, summary: `remove the connection ${current.displayName} (${current.slug})` });
    return r.pending ? reply.code(202).send({ pendingChange: r.pending }) : reply.code(204).send(null);
  });

  app.post('/sso/connections/:id/test', {
    schema: {
      tags,
      summary: 'Start a test sign-in (admins): open the returned URL; the result lands on the trace page and changes nothing',
      params: IdParams,
      response: { 200: Type.Object({ url: Type.String() }), ...errors },
    },
  }, async (request, reply) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    const c = await getConnection(ctx.db, ctx.tenant.id, request.params.id);
    if (!c.enabled) throw new Conflict('The connection is disabled. Enable it before testing.', 'connection_disabled');
    if (c.protocol === 'saml') return { url: (await beginSamlSignin(ctx.db, deps.config, ctx.tenant, c, null, { test: true })).url };
    // The test sign-in is bound to the admin's browser like any OIDC sign-in: this answer sets its cookie.
    const started = await beginOidcSignin(ctx.db, deps.config, ctx.tenant, c, { wanted: null, test: true, browser: request.cookies[BROWSER_COOKIE] });
    setBrowserCookie(reply, deps.config, ctx.tenant.slug, started.browser);
    return { url: started.url };
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
      summary: 'Map an identity-provider group (Entra object id or Okta name) or app role value to a role (admins)',
      body: Type.Object(
        {
          groupRef: Text(256),
          role: StringEnum(['agent', 'change_manager', 'admin'] as const),
          precedence: Type.Optional(Type.Integer({ minimum: 0, maximum: 100000 })),
          connection: Type.Optional(Nullable(Type.String({ maxLength: 40, description: "Only this connection's sign-ins (slug or id) count for the rule" }))),
        },
        { additionalProperties: false },
      ),
      response: { 201: RuleSchema, 202: Pending, ...errors },
    },
  }, async (request, reply) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    const b = request.body;
    const r = await governed<RoleRule>(ctx, deps.governance, {
      kind: 'role_rule.add',
      params: b,
      summary: `members of "${b.groupRef}" get the ${b.role} role${b.connection ? ` through ${b.connection}` : ''}`,
    });
    return r.pending ? reply.code(202).send({ pendingChange: r.pending }) : reply.code(201).send(r.applied);
  });

  app.delete('/sso/role-rules/:id', {
    schema: { tags, summary: 'Remove a rule and the grants it made (admins)', params: IdParams, response: { 204: Type.Null(), 202: Pending, ...errors } },
  }, async (request, reply) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    const rule = (await listRoleRules(ctx)).find((x) => x.id === request.params.id);
    if (!rule) throw new NotFound('Rule');
    const r = await governed(ctx, deps.governance, { kind: 'role_rule.delete', params: { id: rule.id }, summary: `remove the rule giving members of "${rule.groupRef}" the ${rule.role} role` });
    return r.pending ? reply.code(202).send({ pendingChange: r.pending }) : reply.code(204).send(null);
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
      response: { 200: EnforcementSchema, 202: Pending, ...errors },
    },
  }, async (request, reply) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    const enforced = request.body.enforced;
    const r = await governed<EnforcementState>(ctx, deps.governance, {
      kind: 'enforcement.set',
      params: { enforced },
      summary: enforced ? 'enforce single sign-on (passwords only for break-glass accounts)' : 'lift single sign-on enforcement (passwords work again)',
    });
    return r.pending ? reply.code(202).send({ pendingChange: r.pending }) : r.applied;
  });
};

/** A connection change in words, for its change ticket: which settings, never the secrets' values. */
function describePatch(slug: string, body: Record<string, unknown>): string {
  const parts = Object.entries(body).map(([k, v]) => {
    if (k === 'enabled') return v ? 'enable it' : 'disable it';
    if (k === 'published') return v ? 'publish it (live on the sign-in page)' : 'take it back to testing';
    if (k === 'clientSecret') return 'a new client secret';
    if (['metadataXml', 'metadataUrl', 'entityId', 'ssoUrl', 'sloUrl', 'certificates'].includes(k)) return "replace the identity provider's side";
    if (typeof v === 'boolean' || typeof v === 'number') return `${k} = ${v}`;
    if (k === 'displayName') return `rename it to "${String(v)}"`;
    return `change ${k}`;
  });
  return `connection ${slug}: ${[...new Set(parts)].join(', ')}`;
}

export type SsoCertificateT = import('typebox').Static<typeof CertificateSchema>;
export type SsoConnectionT = import('typebox').Static<typeof ConnectionSchema>;
export type RoleRuleT = import('typebox').Static<typeof RuleSchema>;
export type SsoDomainT = import('typebox').Static<typeof DomainSchema>;
export type SsoEnforcementT = import('typebox').Static<typeof EnforcementSchema>;
export type TraceSummaryT = import('typebox').Static<typeof TraceSummarySchema>;
