import { Type } from 'typebox';
import { requireAuth, requireRole } from '../http/auth.js';
import { ValidationFailed } from '../http/errors.js';
import { connectionView, createSamlConnection, getConnection, listConnections } from '../identity/connections.js';
import { errors, type RoutePlugin } from './common.js';
import { DateTime, IdParams, Nullable } from './schemas.js';

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
    jit: Type.Boolean(),
    waitingRoom: Type.Boolean(),
    allowIdpInitiated: Type.Boolean(),
    allowSha1: Type.Boolean(),
    clockSkewSeconds: Type.Integer(),
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

const NewConnection = Type.Object(
  {
    slug: Type.String({ minLength: 1, maxLength: 40 }),
    displayName: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    metadataXml: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 * 1024 })),
    metadataUrl: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
    entityId: Type.Optional(Type.String({ minLength: 1, maxLength: 1000 })),
    ssoUrl: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
    sloUrl: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
    certificates: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 20000 }), { minItems: 1, maxItems: 10 })),
    allowIdpInitiated: Type.Optional(Type.Boolean()),
    allowSha1: Type.Optional(Type.Boolean()),
    clockSkewSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 600 })),
    jit: Type.Optional(Type.Boolean()),
    waitingRoom: Type.Optional(Type.Boolean()),
  },
  {
    additionalProperties: false,
    description: 'Give the identity provider as metadataXml, as metadataUrl, or by hand as entityId + ssoUrl + certificates (PEM or base64 DER).',
  },
);

export const ssoRoutes: RoutePlugin = async (app, { deps }) => {
  const tags = ['single sign-on'];

  app.get('/sso/connections', {
    schema: { tags, summary: 'Identity-provider connections (admins)', response: { 200: Type.Object({ items: Type.Array(ConnectionSchema) }), ...errors } },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    const items = await listConnections(ctx.db, ctx.tenant.id);
    return { items: items.map((c) => connectionView(c, deps.config.publicUrl, ctx.tenant.slug)) };
  });

  app.post('/sso/connections', {
    schema: { tags, summary: 'Connect a SAML identity provider (admins)', body: NewConnection, response: { 201: ConnectionSchema, ...errors } },
  }, async (request, reply) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    const { slug, displayName, metadataXml, metadataUrl, entityId, ssoUrl, sloUrl, certificates, ...options } = request.body;
    const given = [metadataXml !== undefined, metadataUrl !== undefined, entityId !== undefined].filter(Boolean).length;
    if (given !== 1 || (entityId !== undefined && (!ssoUrl || !certificates))) {
      throw new ValidationFailed('Give exactly one of: metadataXml, metadataUrl, or entityId with ssoUrl and certificates.', [
        { field: 'metadataXml', message: 'one identity-provider source is required' },
      ]);
    }
    const source = metadataXml !== undefined ? { metadataXml } : metadataUrl !== undefined ? { metadataUrl } : { entityId: entityId!, ssoUrl: ssoUrl!, sloUrl, certificates: certificates! };
    const c = await createSamlConnection(ctx, { slug, displayName, source, ...options });
    return reply.code(201).send(connectionView(c, deps.config.publicUrl, ctx.tenant.slug));
  });

  app.get('/sso/connections/:id', {
    schema: { tags, summary: 'One connection, by id or slug (admins)', params: IdParams, response: { 200: ConnectionSchema, ...errors } },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    return connectionView(await getConnection(ctx.db, ctx.tenant.id, request.params.id), deps.config.publicUrl, ctx.tenant.slug);
  });
};
