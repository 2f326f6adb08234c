import { Type } from 'typebox';
import { requireAuth, requireRole } from '../http/auth.js';
import type { ActorCtx } from '../context.js';
import { listActivity } from '../scim/activity.js';
import { createCredential, listCredentials, MAX_PER_KIND, removeCredential, renewCredential, setCredentialActive } from '../scim/credentials.js';
import { errors, type RoutePlugin } from './common.js';
import { requireUngoverned } from '../governance/changes.js';
import { DateTime, IdParams, Nullable, Page, StringEnum, Text, Uuid } from './schemas.js';

const tags = ['provisioning'];

const CredentialSchema = Type.Object({
  id: Uuid,
  kind: StringEnum(['token', 'client'] as const),
  name: Type.String(),
  clientId: Nullable(Type.String()),
  hint: Type.String({ description: 'Last four characters of the secret' }),
  state: StringEnum(['active', 'inactive', 'expired'] as const),
  createdAt: DateTime,
  createdBy: Type.String(),
  renewedAt: Nullable(DateTime),
  lastUsedAt: Nullable(DateTime),
  expiresAt: Nullable(DateTime),
});

const WithSecret = Type.Object({ credential: CredentialSchema, secret: Type.String({ description: 'Shown once: the token, or the client secret' }) });

const ActivitySchema = Type.Object({
  id: Type.Integer(),
  at: DateTime,
  credentialName: Nullable(Type.String()),
  method: Type.String(),
  path: Type.String(),
  operation: Type.String(),
  resourceType: Nullable(Type.String()),
  resourceId: Nullable(Type.String()),
  status: Type.Integer(),
  durationMs: Type.Number(),
  error: Nullable(Type.String()),
});

const Lifetime = Type.Optional(Type.Integer({ minimum: 1, maximum: 730, description: 'Days until the secret expires (default 365)' }));

function admin(request: Parameters<typeof requireAuth>[0]): ActorCtx {
  const { ctx } = requireAuth(request);
  requireRole(ctx, 'admin');
  return ctx;
}

/** The admin's Provisioning page: the fixed Tenant URL, the credentials, and the SCIM activity log. */
export const provisioningRoutes: RoutePlugin = async (app, opts) => {
  const { config } = opts.deps;

  app.get('/provisioning', {
    schema: {
      tags,
      summary: 'SCIM Tenant URL, token endpoint and credentials (admins)',
      response: {
        200: Type.Object({ tenantUrl: Type.String(), tokenEndpoint: Type.String(), maxPerKind: Type.Integer(), credentials: Type.Array(CredentialSchema) }),
        ...errors,
      },
    },
  }, async (request) => {
    const ctx = admin(request);
    const root = `${config.publicUrl}/t/${ctx.tenant.slug}`;
    return { tenantUrl: `${root}/scim/v2`, tokenEndpoint: `${root}/oauth/token`, maxPerKind: MAX_PER_KIND, credentials: await listCredentials(ctx) };
  });

  app.post('/provisioning/credentials', {
    schema: {
      tags,
      summary: 'Generate a secret token or an OAuth client; the secret is shown once (admins)',
      body: Type.Object(
        { kind: StringEnum(['token', 'client'] as const), name: Type.Optional(Text(100)), expiresInDays: Lifetime },
        { additionalProperties: false },
      ),
      response: { 201: WithSecret, ...errors },
    },
  }, async (request, reply) => {
    const ctx = admin(request);
    // A SCIM token shows its secret once and works at once: it cannot wait for an approval.
    await requireUngoverned(ctx, 'creating a SCIM token or client', 'Ask a break-glass administrator, or run `keydesk scim token create` on the server.');
    return reply.code(201).send(await createCredential(ctx, request.body));
  });

  app.patch('/provisioning/credentials/:id', {
    schema: {
      tags,
      summary: 'Set a credential active or inactive (admins)',
      params: IdParams,
      body: Type.Object({ active: Type.Boolean() }, { additionalProperties: false }),
      response: { 200: CredentialSchema, ...errors },
    },
  }, async (request) => setCredentialActive(admin(request), request.params.id, request.body.active));

  app.post('/provisioning/credentials/:id/renew', {
    schema: {
      tags,
      summary: 'Replace a credential\'s secret; the old one stops working now (admins)',
      params: IdParams,
      body: Type.Optional(Type.Object({ expiresInDays: Lifetime }, { additionalProperties: false })),
      response: { 200: WithSecret, ...errors },
    },
  }, async (request) => renewCredential(admin(request), request.params.id, request.body?.expiresInDays));

  app.delete('/provisioning/credentials/:id', {
    schema: { tags, summary: 'Remove a credential (admins)', params: IdParams, response: { 204: Type.Null(), ...errors } },
  }, async (request, reply) => {
    await removeCredential(admin(request), request.params.id);
    return reply.code(204).send(null);
  });

  app.get('/provisioning/activity', {
    schema: {
      tags,
      summary: 'Every SCIM request, newest first (admins)',
      querystring: Type.Object(
        {
          limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
          cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
          failures: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false },
      ),
      response: { 200: Page(ActivitySchema), ...errors },
    },
  }, async (request) => {
    const ctx = admin(request);
    const { limit, cursor, failures } = request.query;
    const rows = await listActivity(ctx, { limit: limit + 1, before: cursor ? Number(cursor) : undefined, failures });
    const items = rows.slice(0, limit);
    return { items, nextCursor: rows.length > limit ? String(items[items.length - 1]!.id) : null };
  });
};

export type ScimCredentialT = import('typebox').Static<typeof CredentialSchema>;
export type ScimCredentialSecretT = import('typebox').Static<typeof WithSecret>;
export type ScimActivityT = import('typebox').Static<typeof ActivitySchema>;
