import { Type } from 'typebox';
import { requireAuth, requireRole } from '../http/auth.js';
import {
  createEndpoint,
  deleteEndpoint,
  getEndpoint,
  listDeliveries,
  listEndpoints,
  redeliver,
  rotateSecret,
  sendTestMessage,
  updateEndpoint,
  WEBHOOK_EVENT_TYPES,
} from '../webhooks/endpoints.js';
import { errors, type RoutePlugin } from './common.js';
import { DateTime, IdParams, Nullable, OneLine, OptionalText } from './schemas.js';

const EventName = Type.String({ minLength: 1, maxLength: 60, pattern: '^(\\*|[a-z_]+\\.[a-z_]+)$' });

export const WebhookEndpointSchema = Type.Object(
  {
    id: Type.String(),
    url: Type.String(),
    description: Type.String(),
    events: Type.Array(Type.String()),
    enabled: Type.Boolean(),
    disabledReason: Nullable(Type.String()),
    previousSecretUntil: Nullable(DateTime),
    createdAt: DateTime,
    lastDelivery: Nullable(Type.Object({ at: DateTime, succeeded: Type.Boolean(), statusCode: Nullable(Type.Integer()) })),
  },
  { $id: 'WebhookEndpoint' },
);

const DeliverySchema = Type.Object({
  id: Type.String(),
  messageId: Type.String(),
  eventType: Type.String(),
  attempt: Type.Integer(),
  statusCode: Nullable(Type.Integer()),
  durationMs: Nullable(Type.Integer()),
  error: Nullable(Type.String()),
  succeeded: Type.Boolean(),
  createdAt: DateTime,
});

/** `/webhooks`: endpoints, their delivery log, redelivery, secret rotation (admins). */
export const webhookRoutes: RoutePlugin = async (app, { deps }) => {
  const tags = ['webhooks'];
  const opts = { allowPrivate: deps.config.webhookAllowPrivate };
  const admin = (request: Parameters<typeof requireAuth>[0]) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    return ctx;
  };

  app.get('/webhooks', {
    schema: {
      tags,
      summary: 'Webhook endpoints, and the events one can subscribe to (admins)',
      response: { 200: Type.Object({ items: Type.Array(WebhookEndpointSchema), eventTypes: Type.Array(Type.String()) }), ...errors },
    },
  }, async (request) => ({ items: await listEndpoints(admin(request)), eventTypes: [...WEBHOOK_EVENT_TYPES] }));

  app.post('/webhooks', {
    schema: {
      tags,
      summary: 'Add a webhook endpoint; the answer carries its signing secret (whsec_…), shown this once',
      body: Type.Object(
        { url: OneLine(2000, { minLength: 8 }), events: Type.Array(EventName, { minItems: 1, maxItems: 50 }), description: Type.Optional(OptionalText(200)) },
        { additionalProperties: false },
      ),
      response: { 201: Type.Object({ endpoint: WebhookEndpointSchema, secret: Type.String() }), ...errors },
    },
  }, async (request, reply) => reply.code(201).send(await createEndpoint(admin(request), deps.webhookBox, request.body, opts)));

  app.get('/webhooks/:id', {
    schema: { tags, summary: 'One webhook endpoint', params: IdParams, response: { 200: WebhookEndpointSchema, ...errors } },
  }, async (request) => getEndpoint(admin(request), request.params.id));

  app.patch('/webhooks/:id', {
    schema: {
      tags,
      summary: 'Change an endpoint’s URL, events, description, or turn it on or off',
      params: IdParams,
      body: Type.Object(
        {
          url: Type.Optional(OneLine(2000, { minLength: 8 })),
          events: Type.Optional(Type.Array(EventName, { minItems: 1, maxItems: 50 })),
          description: Type.Optional(OptionalText(200)),
          enabled: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false, minProperties: 1 },
      ),
      response: { 200: WebhookEndpointSchema, ...errors },
    },
  }, async (request) => updateEndpoint(admin(request), request.params.id, request.body, opts));

  app.delete('/webhooks/:id', {
    schema: { tags, summary: 'Remove an endpoint (its pending deliveries are dropped)', params: IdParams, response: { 204: Type.Null(), ...errors } },
  }, async (request, reply) => {
    await deleteEndpoint(admin(request), request.params.id);
    return reply.code(204).send(null);
  });

  app.post('/webhooks/:id/rotate-secret', {
    schema: {
      tags,
      summary: 'A new signing secret; the previous one also signs for 24 hours (immediate: no overlap, for a leaked secret)',
      params: IdParams,
      body: Type.Optional(Type.Object({ immediate: Type.Optional(Type.Boolean({ description: 'Retire every earlier secret now instead of after 24 hours' })) }, { additionalProperties: false })),
      response: { 200: Type.Object({ secret: Type.String(), previousSecretUntil: Type.Union([DateTime, Type.Null()]) }), ...errors },
    },
  }, async (request) => rotateSecret(admin(request), deps.webhookBox, request.params.id, { immediate: request.body?.immediate }));

  app.get('/webhooks/:id/deliveries', {
    schema: {
      tags,
      summary: 'The endpoint’s delivery log, newest first: one entry per attempt',
      params: IdParams,
      querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }) }, { additionalProperties: false }),
      response: { 200: Type.Object({ items: Type.Array(DeliverySchema) }), ...errors },
    },
  }, async (request) => ({ items: await listDeliveries(admin(request), request.params.id, request.query.limit) }));

  app.post('/webhooks/:id/deliveries/:messageId/redeliver', {
    schema: {
      tags,
      summary: 'Send a message again (same webhook-id, new timestamp and signature)',
      params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }), messageId: Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_-]+$' }) }),
      response: { 202: Type.Object({ queued: Type.Boolean() }), ...errors },
    },
  }, async (request, reply) => {
    await redeliver(admin(request), request.params.id, request.params.messageId);
    return reply.code(202).send({ queued: true });
  });

  app.post('/webhooks/:id/test', {
    schema: {
      tags,
      summary: 'Send a webhook.test message now; its result shows in the delivery log',
      params: IdParams,
      response: { 202: Type.Object({ messageId: Type.String() }), ...errors },
    },
  }, async (request, reply) => reply.code(202).send({ messageId: await sendTestMessage(admin(request), request.params.id) }));
};

export type WebhookEndpointT = import('typebox').Static<typeof WebhookEndpointSchema>;
export type WebhookDeliveryT = import('typebox').Static<typeof DeliverySchema>;
