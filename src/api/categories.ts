import { Type } from 'typebox';
import { requireAuth, requireRole } from '../http/auth.js';
import { createCategory, deleteCategory, getCategory, listCategories, updateCategory } from '../itsm/categories.js';
import { errors, type RoutePlugin } from './common.js';
import { IdParams, OptionalText, RequestCategorySchema, Text } from './schemas.js';

/** `/request-categories`: what requesters may ask for. Everyone signed in reads them; admins change them. */
export const categoryRoutes: RoutePlugin = async (app) => {
  const tags = ['request categories'];
  const fields = {
    name: Text(100),
    description: OptionalText(2000),
    teamId: Type.String({ format: 'uuid', description: 'The team that fulfils requests in this category' }),
    requiresManagerApproval: Type.Boolean({ description: "Requests wait for the requester's manager's approval before fulfilment" }),
  };

  app.get('/request-categories', {
    schema: { tags, summary: 'Request categories, by name (everyone signed in: the portal offers them)', response: { 200: Type.Object({ items: Type.Array(RequestCategorySchema) }), ...errors } },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    return { items: await listCategories(ctx.db, ctx.tenant.id) };
  });

  app.post('/request-categories', {
    schema: {
      tags,
      summary: 'Create a request category (admins)',
      body: Type.Object(
        { name: fields.name, description: Type.Optional(fields.description), teamId: fields.teamId, requiresManagerApproval: Type.Optional(fields.requiresManagerApproval) },
        { additionalProperties: false },
      ),
      response: { 201: RequestCategorySchema, ...errors },
    },
  }, async (request, reply) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    const c = await createCategory(ctx, request.body);
    return reply.code(201).header('Location', `/api/v1/request-categories/${c.id}`).send(c);
  });

  app.get('/request-categories/:id', {
    schema: { tags, summary: 'One request category', params: IdParams, response: { 200: RequestCategorySchema, ...errors } },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    return getCategory(ctx.db, ctx.tenant.id, request.params.id);
  });

  app.patch('/request-categories/:id', {
    schema: {
      tags,
      summary: 'Change a request category (admins); requests already raised keep their team and approval',
      params: IdParams,
      body: Type.Object(
        {
          name: Type.Optional(fields.name),
          description: Type.Optional(fields.description),
          teamId: Type.Optional(fields.teamId),
          requiresManagerApproval: Type.Optional(fields.requiresManagerApproval),
        },
        { additionalProperties: false, minProperties: 1 },
      ),
      response: { 200: RequestCategorySchema, ...errors },
    },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    return updateCategory(ctx, request.params.id, request.body);
  });

  app.delete('/request-categories/:id', {
    schema: { tags, summary: 'Delete a request category (admins); its requests keep its name', params: IdParams, response: { 204: Type.Null(), ...errors } },
  }, async (request, reply) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    await deleteCategory(ctx, request.params.id);
    return reply.code(204).send(null);
  });
};
