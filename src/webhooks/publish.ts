import type { Queryable } from '../db/db.js';
import { storableJson } from '../db/storable.js';

/**
 * Attempts per webhook message before its job is dead: with the queue's backoff (10 s doubling,
 * at most an hour between tries) about ten hours, so a receiver down for a night's maintenance
 * still gets every message.
 */
export const WEBHOOK_MAX_ATTEMPTS = 15;

/** A message for webhook subscribers: Standard Webhooks' `{type, timestamp, data}` body and its id. */
export interface WebhookMessage {
  /** The webhook-id header: the same for every attempt and redelivery of this message. */
  messageId: string;
  type: string;
  /** ISO 8601: when the event happened (not when it is sent). */
  timestamp: string;
  data: Record<string, unknown>;
}

/**
 * Enqueues, in the caller's transaction, one `webhook.deliver` job per enabled endpoint of the
 * tenant subscribed to each message's type (or to `*`). One statement, whatever the number of
 * endpoints; nothing when no endpoint listens. A message enqueued twice is delivered once.
 */
export async function publishWebhookMessages(tx: Queryable, tenantId: string, messages: WebhookMessage[]): Promise<void> {
  if (!messages.length) return;
  await tx.query(
    `INSERT INTO jobs (tenant_id, kind, max_attempts, payload, idempotency_key)
     SELECT $1, 'webhook.deliver', ${WEBHOOK_MAX_ATTEMPTS},
       jsonb_build_object('endpointId', w.id, 'messageId', m.message_id, 'type', m.type, 'timestamp', m.timestamp, 'data', m.data),
       'webhook:' || w.id || ':' || m.message_id
     FROM jsonb_to_recordset($2::jsonb) AS m(message_id text, type text, timestamp text, data jsonb)
     JOIN webhook_endpoints w ON w.tenant_id = $1 AND w.enabled AND (m.type = ANY (w.events) OR '*' = ANY (w.events))
     ON CONFLICT (idempotency_key) DO NOTHING`,
    [tenantId, storableJson(messages.map((m) => ({ message_id: m.messageId, type: m.type, timestamp: m.timestamp, data: m.data })))],
  );
}

/** Ticket history kinds that subscribers hear about, by webhook event type. */
const TICKET_EVENTS: Record<string, string> = { created: 'ticket.created', status_changed: 'ticket.status_changed', assigned: 'ticket.assigned' };
export const TICKET_EVENT_TYPES = Object.values(TICKET_EVENTS);

/**
 * Publishes a line of a ticket's history to subscribed endpoints (`ticket.created`,
 * `ticket.status_changed`, …) with the ticket as it is in this transaction; other kinds and
 * internal lines are not published. One statement; nothing when no endpoint listens.
 */
export async function publishTicketEvent(tx: Queryable, tenantId: string, ticketId: string, kind: string, eventId: string, data: Record<string, unknown>): Promise<void> {
  const type = TICKET_EVENTS[kind];
  if (!type) return;
  await tx.query(
    `INSERT INTO jobs (tenant_id, kind, max_attempts, payload, idempotency_key)
     SELECT $1, 'webhook.deliver', ${WEBHOOK_MAX_ATTEMPTS},
       jsonb_build_object('endpointId', w.id, 'messageId', 'tev_' || $4, 'type', $3::text, 'timestamp', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
         'data', jsonb_build_object('ticket', jsonb_build_object('id', t.id, 'type', t.type, 'number', t.number, 'title', t.title, 'status', t.status,
           'priority', t.priority, 'category', t.category, 'teamId', t.team_id, 'assigneeId', t.assignee_id, 'requesterId', t.requester_id), 'change', $5::jsonb)),
       'webhook:' || w.id || ':tev_' || $4
     FROM tickets t JOIN webhook_endpoints w ON w.tenant_id = t.tenant_id AND w.enabled AND ($3 = ANY (w.events) OR '*' = ANY (w.events))
     WHERE t.tenant_id = $1 AND t.id = $2
     ON CONFLICT (idempotency_key) DO NOTHING`,
    [tenantId, ticketId, type, eventId, storableJson(data)],
  );
}
