import { Type } from 'typebox';
import { requireAuth, requireRole } from '../http/auth.js';
import { isStaff } from '../identity/roles.js';
import { BadRequest, Forbidden } from '../http/errors.js';
import { storable } from '../db/storable.js';
import { createUser, getUser, listGrants, listIdentities, listUsers, setPersonRoles, unlinkIdentity, updateUser } from '../identity/users.js';
import { revokeUserSessions } from '../identity/sessions/sessions.js';
import { audit } from '../audit/audit.js';
import { errors, type RoutePlugin } from './common.js';
import { Pending } from './governance.js';
import { governed } from '../governance/changes.js';
import type { User } from '../identity/users.js';
import { GrantSchema, IdentitySchema, IdParams, Page, RoleSchema, UserSchema, StringEnum, Text } from './schemas.js';

export const userRoutes: RoutePlugin = async (app, { deps }) => {
  const tags = ['users'];

  app.get('/users', {
    schema: {
      tags,
      summary: 'People of the tenant (staff)',
      querystring: Type.Object(
        {
          role: Type.Optional(RoleSchema),
          status: Type.Optional(StringEnum(['active', 'waiting', 'disabled'] as const)),
          q: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
          limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
          cursor: Type.Optional(Type.String({ maxLength: 400, pattern: '^[A-Za-z0-9_-]*$' })),
        },
        { additionalProperties: false },
      ),
      response: { 200: Page(UserSchema), ...errors },
    },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    if (!isStaff(ctx.actor.roles)) throw new Forbidden('Only staff can list people.');
    const { cursor, ...filter } = request.query;
    const after = cursor ? Buffer.from(cursor, 'base64url').toString('utf8') : undefined;
    // Any base64url decodes to something; "AA" decodes to a NUL, which the database refuses.
    if (after !== undefined && !storable(after)) throw new BadRequest('The cursor is invalid. Start again from the first page.');
    const items = await listUsers(ctx.db, ctx.tenant.id, { ...filter, after, limit: filter.limit + 1 });
    const page = items.slice(0, filter.limit);
    const last = page[page.length - 1];
    return { items: page, nextCursor: items.length > filter.limit && last ? Buffer.from(last.email.toLowerCase()).toString('base64url') : null };
  });

  app.post('/users', {
    schema: {
      tags,
      summary: 'Create a local account (admins). The password must be changed at first sign-in.',
      body: Type.Object(
        {
          email: Text(320, { minLength: 3 }),
          displayName: Text(200),
          password: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
          roles: Type.Array(RoleSchema, { maxItems: 4, default: ['requester'] }),
          breakGlass: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false },
      ),
      response: { 201: UserSchema, 202: Pending, ...errors },
    },
  }, async (request, reply) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    const b = request.body;
    const privileged = b.breakGlass || b.roles.some((r) => r === 'admin' || r === 'change_manager');
    const r = privileged
      ? await governed<User>(ctx, deps.governance, { kind: 'user.create', params: b, summary: `create ${b.email} as ${[...b.roles, ...(b.breakGlass ? ['break-glass'] : [])].join(', ')}` })
      : { applied: await ctx.db.transaction((tx) => createUser(ctx, tx, b)) };
    if (r.pending) return reply.code(202).send({ pendingChange: r.pending });
    return reply.code(201).header('Location', `/api/v1/users/${r.applied.id}`).send(r.applied);
  });

  app.get('/users/:id', {
    schema: {
      tags,
      summary: 'One person, with where each role came from (staff)',
      params: IdParams,
      response: { 200: Type.Intersect([UserSchema, Type.Object({ grants: Type.Array(GrantSchema), identities: Type.Array(IdentitySchema) })]), ...errors },
    },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    if (!isStaff(ctx.actor.roles) && request.params.id !== ctx.actor.userId) throw new Forbidden('Only staff can view other people.');
    const user = await getUser(ctx.db, ctx.tenant.id, request.params.id);
    return { ...user, grants: await listGrants(ctx.db, ctx.tenant.id, user.id), identities: await listIdentities(ctx.db, ctx.tenant.id, user.id) };
  });

  app.delete('/users/:id/identities/:connection', {
    schema: {
      tags,
      summary: "Unbind a person's identity on a connection (admins): its next sign-in is judged as a new identity's",
      params: Type.Object({ id: IdParams.properties.id, connection: Type.String({ minLength: 1, maxLength: 40 }) }),
      response: { 204: Type.Null(), ...errors },
    },
  }, async (request, reply) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    await unlinkIdentity(ctx, request.params.id, request.params.connection);
    return reply.code(204).send(null);
  });

  app.patch('/users/:id', {
    schema: {
      tags,
      summary: 'Rename, change the email, disable or enable, or flag as break-glass (admins)',
      params: IdParams,
      body: Type.Object(
        {
          email: Type.Optional(Text(320, { minLength: 3, description: 'Refused (409) for accounts SCIM manages and for an address another account holds' })),
          displayName: Type.Optional(Text(200)),
          status: Type.Optional(StringEnum(['active', 'disabled'] as const)),
          breakGlass: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false, minProperties: 1 },
      ),
      response: { 200: UserSchema, 202: Pending, ...errors },
    },
  }, async (request, reply) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    if (request.body.breakGlass === undefined) return updateUser(ctx, request.params.id, request.body);
    const user = await getUser(ctx.db, ctx.tenant.id, request.params.id);
    const r = await governed<User>(ctx, deps.governance, {
      kind: 'user.update',
      params: { id: user.id, patch: request.body },
      summary: `${request.body.breakGlass ? 'make' : 'no longer make'} ${user.email} a break-glass account${Object.keys(request.body).length > 1 ? ', with other changes' : ''}`,
    });
    return r.pending ? reply.code(202).send({ pendingChange: r.pending }) : r.applied;
  });

  app.put('/users/:id/roles', {
    schema: {
      tags,
      summary: 'Set the roles granted by a person (admins). Rule-granted roles are kept.',
      params: IdParams,
      body: Type.Object({ roles: Type.Array(RoleSchema, { maxItems: 4 }) }, { additionalProperties: false }),
      response: { 200: UserSchema, 202: Pending, ...errors },
    },
  }, async (request, reply) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    const user = await getUser(ctx.db, ctx.tenant.id, request.params.id);
    const had = new Set((await listGrants(ctx.db, ctx.tenant.id, user.id)).filter((g) => g.origin === 'person' || g.origin === 'system').map((g) => g.role));
    const wanted = new Set(request.body.roles);
    const touched = (['admin', 'change_manager'] as const).filter((r) => had.has(r) !== wanted.has(r));
    if (!touched.length) return setPersonRoles(ctx, user.id, request.body.roles);
    const r = await governed<User>(ctx, deps.governance, {
      kind: 'user.roles',
      params: { id: user.id, roles: request.body.roles },
      summary: `${touched.map((role) => `${wanted.has(role) ? 'give' : 'take away'} ${role === 'admin' ? 'admin' : 'change manager'}`).join(' and ')} ${wanted.has(touched[0]!) ? 'to' : 'from'} ${user.email}`,
    });
    return r.pending ? reply.code(202).send({ pendingChange: r.pending }) : r.applied;
  });

  app.post('/users/:id/sessions/revoke', {
    schema: { tags, summary: "End all of a person's sessions and API tokens (admins)", params: IdParams, response: { 204: Type.Null(), ...errors } },
  }, async (request, reply) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    const user = await getUser(ctx.db, ctx.tenant.id, request.params.id);
    await ctx.db.transaction(async (tx) => {
      await revokeUserSessions(tx, ctx.tenant.id, user.id);
      await audit(ctx, tx, { action: 'user.sessions_revoked', targetType: 'user', targetId: user.id });
    });
    return reply.code(204).send(null);
  });
};
