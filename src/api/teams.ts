import { Type } from 'typebox';
import { requireAuth, requireRole } from '../http/auth.js';
import { createTeam, getTeam, listTeams, updateTeam } from '../itsm/teams.js';
import { errors, type RoutePlugin } from './common.js';
import { IdParams, TeamSchema, Text, Uuid } from './schemas.js';

export const teamRoutes: RoutePlugin = async (app) => {
  const tags = ['teams'];
  const Members = Type.Array(Uuid, { maxItems: 500 });

  app.get('/teams', {
    schema: { tags, summary: 'Assignment teams', response: { 200: Type.Object({ items: Type.Array(TeamSchema) }), ...errors } },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    return { items: await listTeams(ctx.db, ctx.tenant.id) };
  });

  app.post('/teams', {
    schema: {
      tags,
      summary: 'Create a team (admins)',
      body: Type.Object({ name: Text(100), memberIds: Type.Optional(Members) }, { additionalProperties: false }),
      response: { 201: TeamSchema, ...errors },
    },
  }, async (request, reply) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    return reply.code(201).send(await createTeam(ctx, request.body));
  });

  app.get('/teams/:id', {
    schema: { tags, summary: 'One team', params: IdParams, response: { 200: TeamSchema, ...errors } },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    return getTeam(ctx.db, ctx.tenant.id, request.params.id);
  });

  app.patch('/teams/:id', {
    schema: {
      tags,
      summary: 'Rename a team or set its members (admins)',
      params: IdParams,
      body: Type.Object(
        { name: Type.Optional(Text(100)), memberIds: Type.Optional(Members) },
        { additionalProperties: false, minProperties: 1 },
      ),
      response: { 200: TeamSchema, ...errors },
    },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    return updateTeam(ctx, request.params.id, request.body);
  });
};
