import { Type } from 'typebox';
import { requireAuth, requireRole } from '../http/auth.js';
import { governanceFor, governed, listChanges, withdrawChange, GOVERNED_KINDS } from '../governance/changes.js';
import { errors, type RoutePlugin } from './common.js';
import { DateTime, IdParams, Nullable, StringEnum } from './schemas.js';

export const PendingChangeSchema = Type.Object(
  {
    id: Type.String(),
    kind: StringEnum(GOVERNED_KINDS),
    summary: Type.String(),
    status: StringEnum(['pending', 'approved', 'applied', 'rejected', 'failed'] as const),
    error: Nullable(Type.String()),
    ticket: Type.Object({ id: Type.String(), ref: Type.String(), status: Type.String() }),
    requestedBy: Type.Object({ id: Type.String(), displayName: Type.String() }),
    createdAt: DateTime,
    decidedAt: Nullable(DateTime),
    appliedAt: Nullable(DateTime),
  },
  { $id: 'PendingIdentityChange' },
);

/** The answer of a governed route when the change waits for approval (202 Accepted). */
export const Pending = Type.Object({ pendingChange: PendingChangeSchema }, { description: 'The workspace governs identity configuration: the change waits for a change manager’s approval on its change ticket' });

/** `/governance`: four-eyes identity configuration (admins). */
export const governanceRoutes: RoutePlugin = async (app, { deps }) => {
  const tags = ['governance'];
  const State = Type.Object({
    enabled: Type.Boolean(),
    actorBreakGlass: Type.Boolean({ description: 'The caller is a break-glass account: their own changes take effect at once (audited)' }),
    changes: Type.Array(PendingChangeSchema),
  });

  app.get('/governance', {
    schema: { tags, summary: 'Whether identity configuration is governed, and its pending and latest changes (admins and change managers)', response: { 200: State, ...errors } },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    // Change managers read it too: it is what they are asked to approve.
    requireRole(ctx, 'admin', 'change_manager');
    const g = await governanceFor(ctx);
    return { enabled: g.governed, actorBreakGlass: g.breakGlass, changes: await listChanges(ctx) };
  });

  app.put('/governance', {
    schema: {
      tags,
      summary: 'Govern identity configuration (at once), or stop (itself a governed change)',
      body: Type.Object({ enabled: Type.Boolean() }, { additionalProperties: false }),
      response: { 200: Type.Object({ enabled: Type.Boolean() }), 202: Pending, ...errors },
    },
  }, async (request, reply) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    const { enabled } = request.body;
    const r = await governed<{ enabled: boolean }>(ctx, deps.governance, {
      kind: 'governance.set',
      params: { enabled },
      summary: enabled ? 'govern identity configuration' : 'stop governing identity configuration (changes take effect without approval)',
    });
    return r.pending ? reply.code(202).send({ pendingChange: r.pending }) : r.applied;
  });

  app.post('/governance/changes/:id/withdraw', {
    schema: { tags, summary: 'Withdraw a pending change; its ticket is closed', params: IdParams, response: { 200: PendingChangeSchema, ...errors } },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    return withdrawChange(ctx, request.params.id);
  });
};

export type PendingIdentityChangeT = import('typebox').Static<typeof PendingChangeSchema>;
