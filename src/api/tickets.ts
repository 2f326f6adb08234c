import { Type } from 'typebox';
import type { ActorCtx } from '../context.js';
import { requireAuth } from '../http/auth.js';
import { decideApproval, listApprovals, listDecisions } from '../itsm/approvals.js';
import { ticketPolicy } from '../itsm/policy.js';
import {
  addComment,
  allowedTransitions,
  changeStatus,
  createTicket,
  getTicket,
  listComments,
  listEvents,
  listTickets,
  QUEUES,
  queueCounts,
  updateTicket,
  type QueueId,
  type Ticket,
} from '../itsm/tickets.js';
import { errors, type RoutePlugin } from './common.js';
import {
  ApprovalSchema,
  CommentSchema,
  EventSchema,
  IdParams,
  NewCommentBody,
  NewTicketBody,
  Page,
  StatusSchema,
  TicketPatchBody,
  TicketQuery,
  TicketSchema,
  StringEnum,
  Text,
} from './schemas.js';

/** Adds what the caller may do next, so clients need not re-implement the policy. */
function withActions(ctx: ActorCtx, t: Ticket) {
  return { ...t, allowedTransitions: allowedTransitions(ctx, t), canApprove: t.status === 'awaiting_approval' && ticketPolicy.canApprove(ctx.actor, t) };
}

export const ticketRoutes: RoutePlugin = async (app) => {
  const tags = ['tickets'];

  app.get('/tickets/queues', {
    schema: {
      tags,
      summary: "The workspace's queues and how many tickets each holds for the caller",
      response: { 200: Type.Object({ items: Type.Array(Type.Object({ id: StringEnum(Object.keys(QUEUES) as QueueId[]), count: Type.Integer() })) }), ...errors },
    },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    const counts = await queueCounts(ctx);
    return { items: (Object.keys(QUEUES) as QueueId[]).map((id) => ({ id, count: counts[id] })) };
  });

  app.get('/tickets', {
    schema: { tags, summary: 'Search and filter tickets (newest first, cursor-paginated)', querystring: TicketQuery, response: { 200: Page(TicketSchema), ...errors } },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    const page = await listTickets(ctx, request.query);
    return { items: page.items.map((t) => withActions(ctx, t)), nextCursor: page.nextCursor };
  });

  app.post('/tickets', {
    schema: { tags, summary: 'Raise a ticket', body: NewTicketBody, response: { 201: TicketSchema, ...errors } },
  }, async (request, reply) => {
    const { ctx } = requireAuth(request);
    const t = await createTicket(ctx, request.body);
    return reply.code(201).header('Location', `/api/v1/tickets/${t.id}`).send(withActions(ctx, t));
  });

  app.get('/tickets/:id', {
    schema: { tags, summary: 'One ticket, by id or reference (INC000123)', params: IdParams, response: { 200: TicketSchema, ...errors } },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    return withActions(ctx, await getTicket(ctx, request.params.id));
  });

  app.patch('/tickets/:id', {
    schema: { tags, summary: 'Edit fields and assignment (agents)', params: IdParams, body: TicketPatchBody, response: { 200: TicketSchema, ...errors } },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    return withActions(ctx, await updateTicket(ctx, request.params.id, request.body));
  });

  app.post('/tickets/:id/status', {
    schema: {
      tags,
      summary: 'Move a ticket along its lifecycle. Resolving an incident or fulfilling a request takes a resolution note, which the requester receives as a public reply (or `reply`).',
      params: IdParams,
      body: Type.Object(
        {
          status: StatusSchema,
          resolution: Type.Optional(Text(5000, { description: 'How it was resolved; required to reach resolved or fulfilled, refused otherwise' })),
          reply: Type.Optional(Text(20000, { description: 'The public reply to the requester that goes with resolving; the resolution note when absent' })),
        },
        { additionalProperties: false },
      ),
      response: { 200: TicketSchema, ...errors },
    },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    const { status, ...note } = request.body;
    return withActions(ctx, await changeStatus(ctx, request.params.id, status, note));
  });

  app.get('/tickets/:id/comments', {
    schema: { tags, summary: 'Comments (work notes only for staff)', params: IdParams, response: { 200: Type.Object({ items: Type.Array(CommentSchema) }), ...errors } },
  }, async (request) => ({ items: await listComments(requireAuth(request).ctx, request.params.id) }));

  app.post('/tickets/:id/comments', {
    schema: { tags, summary: 'Add a public comment or an internal work note', params: IdParams, body: NewCommentBody, response: { 201: CommentSchema, ...errors } },
  }, async (request, reply) => reply.code(201).send(await addComment(requireAuth(request).ctx, request.params.id, request.body)));

  app.get('/tickets/:id/events', {
    schema: { tags, summary: 'Activity history', params: IdParams, response: { 200: Type.Object({ items: Type.Array(EventSchema) }), ...errors } },
  }, async (request) => ({ items: await listEvents(requireAuth(request).ctx, request.params.id) }));

  app.get('/approvals', {
    schema: {
      tags: ['approvals'],
      summary: 'Every approval decision of the tenant, newest first (staff): the approvals inbox’s history',
      querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 100, default: 25 }), cursor: Type.Optional(Type.String({ maxLength: 200 })) }, { additionalProperties: false }),
      response: { 200: Page(Type.Intersect([ApprovalSchema, Type.Object({ change: Type.Object({ id: Type.String(), ref: Type.String(), title: Type.String(), status: Type.String() }) })])), ...errors },
    },
  }, async (request) => listDecisions(requireAuth(request).ctx, request.query));

  app.get('/tickets/:id/approvals', {
    schema: { tags: ['approvals'], summary: 'Approval decisions on a change', params: IdParams, response: { 200: Type.Object({ items: Type.Array(ApprovalSchema) }), ...errors } },
  }, async (request) => ({ items: await listApprovals(requireAuth(request).ctx, request.params.id) }));

  app.post('/tickets/:id/approvals', {
    schema: {
      tags: ['approvals'],
      summary: 'Approve or reject a change awaiting approval (change managers)',
      params: IdParams,
      body: Type.Object(
        {
          decision: StringEnum(['approved', 'rejected'] as const),
          comment: Text(5000),
        },
        { additionalProperties: false },
      ),
      response: { 200: TicketSchema, ...errors },
    },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    return withActions(ctx, await decideApproval(ctx, request.params.id, request.body));
  });
};
