import { Type } from 'typebox';
import { requireAuth, requireRole } from '../http/auth.js';
import { listJobs, retryDeadJob } from '../jobs/admin.js';
import { errors, type RoutePlugin } from './common.js';
import { DateTime, IdParams, Nullable, StringEnum } from './schemas.js';

const STATES = ['pending', 'running', 'failed', 'dead', 'done'] as const;

const JobSchema = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  state: StringEnum(STATES),
  attempts: Type.Integer(),
  maxAttempts: Type.Integer(),
  runAt: DateTime,
  lastError: Nullable(Type.String()),
  createdAt: DateTime,
  finishedAt: Nullable(DateTime),
  summary: Type.String(),
});

/** `/jobs`: the tenant's background work (webhook deliveries, workflow runs) and the retry of dead jobs (admins). */
export const jobRoutes: RoutePlugin = async (app) => {
  const tags = ['jobs'];
  app.get('/jobs', {
    schema: {
      tags,
      summary: 'Background jobs in a state (default: all but done), newest first, with counts per state',
      querystring: Type.Object({ state: Type.Optional(StringEnum(STATES)), limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }) }, { additionalProperties: false }),
      response: {
        200: Type.Object({ items: Type.Array(JobSchema), counts: Type.Object(Object.fromEntries(STATES.map((s) => [s, Type.Integer()])) as Record<(typeof STATES)[number], ReturnType<typeof Type.Integer>>) }),
        ...errors,
      },
    },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    return listJobs(ctx, request.query);
  });

  app.post('/jobs/:id/retry', {
    schema: { tags, summary: 'Run a dead job again, now, with its attempts counted afresh', params: IdParams, response: { 202: Type.Object({ queued: Type.Boolean() }), ...errors } },
  }, async (request, reply) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    await retryDeadJob(ctx, request.params.id);
    return reply.code(202).send({ queued: true });
  });
};

export type JobT = import('typebox').Static<typeof JobSchema>;
