import { Type } from 'typebox';
import { requireAuth, requireRole } from '../http/auth.js';
import { listSlaPolicies, setSlaPolicies } from '../itsm/sla.js';
import { errors, type RoutePlugin } from './common.js';

const Policy = Type.Object(
  {
    priority: Type.Integer({ minimum: 1, maximum: 5 }),
    responseMinutes: Type.Integer({ minimum: 1, maximum: 525600 }),
    resolutionMinutes: Type.Integer({ minimum: 1, maximum: 525600 }),
  },
  { additionalProperties: false },
);

export const slaRoutes: RoutePlugin = async (app) => {
  app.get('/sla-policies', {
    schema: { tags: ['sla'], summary: 'Response and resolution targets per priority', response: { 200: Type.Object({ items: Type.Array(Policy) }), ...errors } },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    return { items: await listSlaPolicies(ctx.db, ctx.tenant.id) };
  });

  app.put('/sla-policies', {
    schema: {
      tags: ['sla'],
      summary: 'Replace the targets (admins); applies to tickets raised from now on',
      body: Type.Object({ items: Type.Array(Policy, { minItems: 5, maxItems: 5 }) }, { additionalProperties: false }),
      response: { 200: Type.Object({ items: Type.Array(Policy) }), ...errors },
    },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    return { items: await setSlaPolicies(ctx, request.body.items) };
  });
};
