import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Ctx } from '../context.js';
import type { Queryable } from '../db/db.js';
import { audit } from '../audit/audit.js';
import { Conflict, NotFound, ValidationFailed } from '../http/errors.js';
import { isPublicAddress } from '../http/outbound.js';
import { IDENTITY_EVENT_TYPES } from '../identity/events.js';
import type { SecretBox } from '../identity/secrets.js';
import { isUuid } from '../identity/users.js';
import { enqueue } from '../jobs/queue.js';
import { TICKET_EVENT_TYPES, WEBHOOK_MAX_ATTEMPTS } from './publish.js';
import { redactUrl } from './redact.js';

/**
 * Webhook endpoints: where a tenant wants to hear about events, signed per the Standard Webhooks
 * specification (https://www.standardwebhooks.com/, `whsec_` secrets, HMAC-SHA256).
 */

/** What an endpoint may subscribe to (`*`: everything). */
export const WEBHOOK_EVENT_TYPES: readonly string[] = [
  ...IDENTITY_EVENT_TYPES,
  ...TICKET_EVENT_TYPES,
  // Every audit event, as it is written (streaming the audit trail); webhook deliveries themselves are not streamed.
  'audit.event',
  'workflow.ticket_created',
  'workflow.manager_notification',
];

/** How long the previous secret keeps signing after a rotation (receivers switch in this window). */
export const ROTATION_OVERLAP_HOURS = 24;

/** Endpoints per tenant: each event is one delivery job per endpoint, so the fan-out is bounded. */
export const MAX_ENDPOINTS_PER_TENANT = 50;

export interface WebhookEndpoint {
  id: string;
  url: string;
  description: string;
  events: string[];
  enabled: boolean;
  disabledReason: string | null;
  /** Until when the previous secret still signs (after a rotation), or null. */
  previousSecretUntil: Date | null;
  createdAt: Date;
  lastDelivery: { at: Date; succeeded: boolean; statusCode: number | null } | null;
}

export interface WebhookDelivery {
  id: string;
  messageId: string;
  eventType: string;
  attempt: number;
  statusCode: number | null;
  durationMs: number | null;
  error: string | null;
  succeeded: boolean;
  createdAt: Date;
}

const COLUMNS = `w.id, w.url, w.description, w.events, w.enabled, w.disabled_reason AS "disabledReason",
  CASE WHEN w.previous_secret_until > now() THEN w.previous_secret_until END AS "previousSecretUntil", w.created_at AS "createdAt",
  (SELECT jsonb_build_object('at', d.created_at, 'succeeded', d.succeeded, 'statusCode', d.status_code) FROM webhook_deliveries d
   WHERE d.endpoint_id = w.id ORDER BY d.created_at DESC LIMIT 1) AS "lastDelivery"`;

/** A new signing secret: `whsec_` and 32 random bytes in base64, as Standard Webhooks libraries expect. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/**
 * Checks an endpoint URL before it is stored: absolute http(s), no credentials or fragment, and
 * (unless private targets are allowed) a name that resolves only to public addresses. The same
 * rule runs again at every delivery (src/http/outbound.ts), so a name re-pointed later is refused then.
 * @throws ValidationFailed naming the field `url`
 */
export async function checkEndpointUrl(raw: string, allowPrivate: boolean): Promise<string> {
  const bad = (message: string) => new ValidationFailed(`The webhook URL is not usable: ${message}.`, [{ field: 'url', message }]);
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw bad('it must be an absolute http or https URL');
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw bad('only http and https URLs can be called');
  if (u.username || u.password) throw bad('it must not carry a user name or password (put credentials in the receiver’s own check of the signature)');
  if (u.hash) throw bad('it must not have a #fragment');
  if (allowPrivate) return u.href;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(host) ? [host] : await lookup(host, { all: true }).then((a) => a.map((x) => x.address), () => null);
  if (!addresses?.length) throw bad(`${host} does not resolve`);
  const inside = addresses.find((a) => !isPublicAddress(a));
  if (inside) throw bad(`${inside === host ? `${host} is` : `${host} resolves to ${inside},`} a loopback, private or link-local address, which Keydesk does not call`);
  return u.href;
}

function checkEvents(events: string[]): string[] {
  const known = new Set<string>([...WEBHOOK_EVENT_TYPES, '*']);
  const list = [...new Set(events.map((e) => e.trim()).filter(Boolean))];
  const unknown = list.filter((e) => !known.has(e));
  if (!list.length) throw new ValidationFailed('Subscribe to at least one event.', [{ field: 'events', message: 'must name at least one event' }]);
  if (unknown.length) {
    throw new ValidationFailed(`Unknown event${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}. Known: ${[...WEBHOOK_EVENT_TYPES].join(', ')}, or * for all.`, [
      { field: 'events', message: `unknown: ${unknown.join(', ')}` },
    ]);
  }
  return list;
}

export async function listEndpoints(ctx: Ctx): Promise<WebhookEndpoint[]> {
  return ctx.db.query<WebhookEndpoint>(`SELECT ${COLUMNS} FROM webhook_endpoints w WHERE w.tenant_id = $1 ORDER BY w.created_at`, [ctx.tenant.id]);
}

/**
 * One endpoint of the tenant; `lock` holds its row until the transaction ends (for changes that
 * check its state first).
 * @throws NotFound
 */
export async function getEndpoint(ctx: Ctx, id: string, q: Queryable = ctx.db, opts: { lock?: boolean } = {}): Promise<WebhookEndpoint> {
  const rows = isUuid(id) ? await q.query<WebhookEndpoint>(`SELECT ${COLUMNS} FROM webhook_endpoints w WHERE w.tenant_id = $1 AND w.id = $2${opts.lock ? ' FOR UPDATE OF w' : ''}`, [ctx.tenant.id, id]) : [];
  if (!rows[0]) throw new NotFound('Webhook endpoint');
  return rows[0];
}

/**
 * Adds an endpoint and its signing secret (audited as `webhook.created`).
 * @returns the endpoint and the secret, which is shown this once
 * @throws ValidationFailed for a URL Keydesk will not call or an unknown event; Conflict (`too_many_endpoints`) past MAX_ENDPOINTS_PER_TENANT
 */
export async function createEndpoint(
  ctx: Ctx,
  box: SecretBox,
  input: { url: string; events: string[]; description?: string },
  opts: { allowPrivate: boolean },
): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
  const url = await checkEndpointUrl(input.url, opts.allowPrivate);
  const events = checkEvents(input.events);
  const secret = newWebhookSecret();
  return ctx.db.transaction(async (tx) => {
    // The tenant row is the lock that keeps two concurrent adds from both passing the count.
    await tx.query('SELECT 1 FROM tenants WHERE id = $1 FOR NO KEY UPDATE', [ctx.tenant.id]);
    const [{ n }] = (await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM webhook_endpoints WHERE tenant_id = $1', [ctx.tenant.id])) as [{ n: number }];
    if (n >= MAX_ENDPOINTS_PER_TENANT) throw new Conflict(`A workspace can have at most ${MAX_ENDPOINTS_PER_TENANT} webhook endpoints. Delete one you no longer use, or subscribe an existing endpoint to more events.`, 'too_many_endpoints');
    const [{ id }] = (await tx.query<{ id: string }>(
      `INSERT INTO webhook_endpoints (tenant_id, url, description, events, secret_sealed, created_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
      [ctx.tenant.id, url, input.description ?? '', events, box.seal(secret), ctx.actor?.userId ?? null],
    )) as [{ id: string }];
    await audit(ctx, tx, { action: 'webhook.created', targetType: 'webhook', targetId: id, details: { url: redactUrl(url), events } });
    return { endpoint: await getEndpoint(ctx, id, tx), secret };
  });
}

/** Changes an endpoint's URL, events, description or state; re-enabling clears why it stopped. Audited. */
export async function updateEndpoint(
  ctx: Ctx,
  id: string,
  patch: { url?: string; events?: string[]; description?: string; enabled?: boolean },
  opts: { allowPrivate: boolean },
): Promise<WebhookEndpoint> {
  const url = patch.url === undefined ? null : await checkEndpointUrl(patch.url, opts.allowPrivate);
  const events = patch.events === undefined ? null : checkEvents(patch.events);
  return ctx.db.transaction(async (tx) => {
    await getEndpoint(ctx, id, tx);
    await tx.query(
      `UPDATE webhook_endpoints SET url = coalesce($3, url), events = coalesce($4, events), description = coalesce($5, description),
         enabled = coalesce($6, enabled), disabled_reason = CASE WHEN $6 IS NULL THEN disabled_reason WHEN $6 THEN NULL ELSE 'Disabled by an administrator.' END,
         updated_at = now()
       WHERE tenant_id = $1 AND id = $2`,
      [ctx.tenant.id, id, url, events, patch.description ?? null, patch.enabled ?? null],
    );
    await audit(ctx, tx, { action: 'webhook.updated', targetType: 'webhook', targetId: id, details: Object.fromEntries(Object.entries({ url: url && redactUrl(url), events, description: patch.description, enabled: patch.enabled }).filter(([, v]) => v !== null && v !== undefined)) });
    return getEndpoint(ctx, id, tx);
  });
}

export async function deleteEndpoint(ctx: Ctx, id: string): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    const e = await getEndpoint(ctx, id, tx);
    await tx.query('DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2', [ctx.tenant.id, id]);
    await audit(ctx, tx, { action: 'webhook.deleted', targetType: 'webhook', targetId: id, details: { url: redactUrl(e.url) } });
  });
}

/**
 * A new signing secret; the previous one keeps signing for ROTATION_OVERLAP_HOURS (each message
 * carries both signatures), so a receiver can switch without dropping a message. Audited.
 * With `immediate`, no overlap: every earlier secret stops signing now (for a leaked secret).
 * @returns the new secret, shown this once, and until when the previous one signs (null: it does not)
 * @throws Conflict (`rotation_in_progress`) while the previous secret still signs, unless immediate
 */
export async function rotateSecret(ctx: Ctx, box: SecretBox, id: string, opts: { immediate?: boolean } = {}): Promise<{ secret: string; previousSecretUntil: Date | null }> {
  const secret = newWebhookSecret();
  return ctx.db.transaction(async (tx) => {
    const endpoint = await getEndpoint(ctx, id, tx, { lock: true });
    // A second rotation in the overlap would retire the secret receivers are still switching from;
    // an immediate one (the secret leaked) retires every earlier secret at once, on purpose.
    if (endpoint.previousSecretUntil && !opts.immediate) {
      throw new Conflict(
        `The previous secret still signs until ${endpoint.previousSecretUntil.toISOString()}; rotate again after that, once receivers use the current secret, or rotate immediately if a secret leaked.`,
        'rotation_in_progress',
      );
    }
    const [row] = (await tx.query<{ until: Date | null }>(
      `UPDATE webhook_endpoints SET previous_secret_sealed = CASE WHEN $5 THEN NULL ELSE secret_sealed END, secret_sealed = $3,
         previous_secret_until = CASE WHEN $5 THEN NULL ELSE now() + make_interval(hours => $4) END, updated_at = now()
       WHERE tenant_id = $1 AND id = $2 RETURNING previous_secret_until AS until`,
      [ctx.tenant.id, id, box.seal(secret), ROTATION_OVERLAP_HOURS, opts.immediate ?? false],
    )) as [{ until: Date | null }];
    await audit(ctx, tx, { action: 'webhook.secret_rotated', targetType: 'webhook', targetId: id, details: { previousSecretUntil: row.until, ...(opts.immediate ? { immediate: true } : {}) } });
    return { secret, previousSecretUntil: row.until };
  });
}

/** The endpoint's attempts, newest first (at most 200). */
export async function listDeliveries(ctx: Ctx, id: string, limit = 50): Promise<WebhookDelivery[]> {
  await getEndpoint(ctx, id);
  return ctx.db.query<WebhookDelivery>(
    `SELECT id, message_id AS "messageId", event_type AS "eventType", attempt, status_code AS "statusCode", duration_ms AS "durationMs", error, succeeded, created_at AS "createdAt"
     FROM webhook_deliveries WHERE tenant_id = $1 AND endpoint_id = $2 ORDER BY created_at DESC, id LIMIT $3`,
    [ctx.tenant.id, id, Math.min(limit, 200)],
  );
}

/**
 * Refuses a test message while another is still queued or running: clicking twice sends once.
 * @throws Conflict (`delivery_pending`)
 */
async function refuseWhileTestPending(tx: Queryable, ctx: Ctx, endpointId: string): Promise<void> {
  const pending = await tx.query(
    `SELECT 1 FROM jobs WHERE tenant_id = $1 AND kind = 'webhook.deliver' AND status IN ('pending', 'running') AND payload ->> 'endpointId' = $2
       AND payload ->> 'type' = 'webhook.test' LIMIT 1`,
    [ctx.tenant.id, endpointId],
  );
  if (pending.length) throw new Conflict('A test message to this endpoint is still on its way; wait for its attempt in the delivery log.', 'delivery_pending');
}

/**
 * Sends a logged message again, by hand: same webhook-id (receivers deduplicate on it), a fresh
 * timestamp and signature. Enqueued now, or, when the message is waiting for a retry, tried now;
 * audited as `webhook.redelivered`.
 * @throws NotFound when the endpoint never got that message; Conflict when the endpoint is turned
 *   off (`endpoint_disabled`) or the message is on its way already (`delivery_pending`)
 */
export async function redeliver(ctx: Ctx, id: string, messageId: string): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    const endpoint = await getEndpoint(ctx, id, tx, { lock: true });
    if (!endpoint.enabled) throw disabled(endpoint, 'redeliver a message');
    const jobs = await tx.query<{ id: string; payload: Record<string, unknown>; status: string; attempts: number }>(
      `SELECT j.id, j.payload, j.status, j.attempts FROM jobs j
       WHERE j.tenant_id = $1 AND j.kind = 'webhook.deliver' AND j.payload ->> 'endpointId' = $2 AND j.payload ->> 'messageId' = $3
       ORDER BY j.created_at`,
      [ctx.tenant.id, id, messageId],
    );
    if (!jobs[0]) throw new NotFound('Message (its delivery record may have aged out)');
    const live = jobs.filter((j) => j.status === 'pending' || j.status === 'running');
    // A message waiting for its next retry (the receiver was down) is tried now instead: the
    // admin who fixed the receiver should not wait out the backoff, nor get a second copy later.
    const waiting = live.find((j) => j.status === 'pending' && j.attempts > 0 && !j.payload.redelivery);
    if (live.length && !waiting) throw new Conflict('That message is already on its way to this endpoint; its attempt shows in the delivery log.', 'delivery_pending');
    if (waiting) {
      await tx.query(`UPDATE jobs SET run_at = now(), updated_at = now() WHERE id = $1 AND status = 'pending'`, [waiting.id]);
    } else {
      await enqueue(tx, { tenantId: ctx.tenant.id, kind: 'webhook.deliver', payload: { ...jobs[0].payload, redelivery: true }, key: `webhook-redeliver:${id}:${messageId}:${randomBytes(6).toString('hex')}`, maxAttempts: WEBHOOK_MAX_ATTEMPTS });
    }
    await audit(ctx, tx, { action: 'webhook.redelivered', targetType: 'webhook', targetId: id, details: { messageId, ...(waiting ? { retriedNow: true } : {}) } });
  });
}

/** The refusal of a by-hand send to a turned-off endpoint, saying why it is off and what to do. */
const disabled = (endpoint: WebhookEndpoint, what: string) =>
  new Conflict(`The endpoint is turned off${endpoint.disabledReason ? ` (${endpoint.disabledReason.replace(/\.$/, '')})` : ''}; turn it on to ${what}.`, 'endpoint_disabled');

/**
 * Sends a `webhook.test` message now (through the queue, like any other), so the admin sees the
 * receiver's answer in the delivery log. Endpoints get it whatever they subscribe to.
 * @returns the message id
 * @throws Conflict when the endpoint is turned off (`endpoint_disabled`) or a test is still queued (`delivery_pending`)
 */
export async function sendTestMessage(ctx: Ctx, id: string): Promise<string> {
  return ctx.db.transaction(async (tx) => {
    const endpoint = await getEndpoint(ctx, id, tx, { lock: true });
    if (!endpoint.enabled) throw disabled(endpoint, 'send a test message');
    await refuseWhileTestPending(tx, ctx, id);
    const messageId = `msg_test_${randomBytes(9).toString('base64url')}`;
    await enqueue(tx, {
      tenantId: ctx.tenant.id,
      kind: 'webhook.deliver',
      payload: { endpointId: id, messageId, type: 'webhook.test', timestamp: new Date().toISOString(), data: { tenant: ctx.tenant.slug, message: 'A test message from Keydesk.' } },
      key: `webhook:${id}:${messageId}`,
      maxAttempts: 1,
    });
    return messageId;
  });
}
