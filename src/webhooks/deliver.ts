import { Webhook } from 'standardwebhooks';
import { audit } from '../audit/audit.js';
import type { Db } from '../db/db.js';
import { toStorable } from '../db/storable.js';
import { postOutbound, OutboundRefused } from '../http/outbound.js';
import type { SecretBox } from '../identity/secrets.js';
import type { Handler, Job } from '../jobs/queue.js';
import { findTenantById } from '../tenancy/tenants.js';
import { redactUrl } from './redact.js';
import type { WebhookMessage } from './publish.js';

interface DeliverPayload extends WebhookMessage {
  endpointId: string;
  redelivery?: boolean;
}

/** Why an attempt did not count as delivered, for the log and the job's retry. */
class DeliveryFailed extends Error {}

/**
 * The Standard Webhooks headers for one attempt: the message's stable id, this attempt's time, and
 * one `v1,` signature per live secret (two during a rotation's overlap), space-separated (§ Signature).
 */
export function signMessage(secrets: string[], messageId: string, at: Date, body: string): Record<string, string> {
  return {
    'webhook-id': messageId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': secrets.map((s) => new Webhook(s).sign(messageId, at, body)).join(' '),
  };
}

/**
 * `webhook.deliver`: one attempt to POST a message to its endpoint. A 2xx answer delivers it; 410
 * Gone disables the endpoint (the receiver says it is gone for good); any other answer, a redirect
 * (never followed), a timeout or a network error is a failure the queue retries with backoff. Every
 * attempt is logged; a delivered message and the last failed attempt are audited. An endpoint deleted or disabled meanwhile is
 * not called.
 */
export function deliverWebhook(box: SecretBox, opts: { allowPrivate: boolean }): Handler {
  return async (job: Job, db: Db) => {
    const p = job.payload as unknown as DeliverPayload;
    const rows = await db.query<{ url: string; enabled: boolean; secret_sealed: string; previous_secret_sealed: string | null; previous_live: boolean }>(
      `SELECT url, enabled, secret_sealed, previous_secret_sealed, coalesce(previous_secret_until > now(), false) AS previous_live
       FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2`,
      [job.tenantId, p.endpointId],
    );
    const endpoint = rows[0];
    if (!endpoint || !endpoint.enabled) return;
    const secrets = [box.open(endpoint.secret_sealed), ...(endpoint.previous_live && endpoint.previous_secret_sealed ? [box.open(endpoint.previous_secret_sealed)] : [])];
    const body = JSON.stringify({ type: p.type, timestamp: p.timestamp, data: p.data });
    let status: number | null = null;
    let ms: number | null = null;
    let error: string | null = null;
    const started = performance.now();
    try {
      ({ status, ms } = await postOutbound(endpoint.url, body, { ...signMessage(secrets, p.messageId, new Date(), body), 'user-agent': 'Keydesk-Webhooks/1' }, opts));
      if (status === 410) error = 'The receiver answered 410 Gone: the endpoint was disabled.';
      else if (status < 200 || status >= 300) error = `The receiver answered ${status}${status >= 300 && status < 400 ? ' (redirects are not followed: use the final URL)' : ''}.`;
    } catch (err) {
      ms = Math.round(performance.now() - started);
      error = err instanceof OutboundRefused ? `Not called: ${err.message}.` : `No answer: ${describeNetworkError(err)}.`;
    }
    const succeeded = error === null;
    await db.query(
      `INSERT INTO webhook_deliveries (tenant_id, endpoint_id, job_id, message_id, event_type, attempt, status_code, duration_ms, error, succeeded)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [job.tenantId, p.endpointId, job.id, p.messageId, p.type, job.attempts, status, ms, error === null ? null : toStorable(error).slice(0, 500), succeeded],
    );
    const tenant = job.tenantId ? await findTenantById(db, job.tenantId) : null;
    const ctx = tenant ? { db, tenant, actor: null, actorLabel: 'webhooks' } : null;
    if (succeeded) {
      // One audit line per delivered message (the attempts are in the delivery log).
      if (ctx) await audit(ctx, db, { action: 'webhook.delivered', targetType: 'webhook', targetId: p.endpointId, details: { url: redactUrl(endpoint.url), messageId: p.messageId, type: p.type, status, attempt: job.attempts } });
      return;
    }
    if (status === 410) {
      await db.transaction(async (tx) => {
        await tx.query(`UPDATE webhook_endpoints SET enabled = false, disabled_reason = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2`, [job.tenantId, p.endpointId, error]);
        if (ctx) await audit(ctx, tx, { action: 'webhook.disabled', outcome: 'failure', reason: 'gone', targetType: 'webhook', targetId: p.endpointId, details: { url: redactUrl(endpoint.url) } });
      });
      return;
    }
    if (job.attempts >= job.maxAttempts && ctx) {
      await audit(ctx, db, {
        action: 'webhook.delivery_failed',
        outcome: 'failure',
        reason: status === null ? 'no_answer' : `http_${status}`,
        targetType: 'webhook',
        targetId: p.endpointId,
        details: { url: redactUrl(endpoint.url), messageId: p.messageId, type: p.type, attempts: job.attempts, error },
      });
    }
    throw new DeliveryFailed(error ?? 'failed');
  };
}

function describeNetworkError(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code;
  const known: Record<string, string> = {
    ECONNREFUSED: 'the connection was refused',
    ENOTFOUND: 'the name does not resolve',
    EAI_AGAIN: 'the name could not be resolved just now',
    UND_ERR_CONNECT_TIMEOUT: 'connecting timed out',
    UND_ERR_HEADERS_TIMEOUT: 'the receiver did not answer within 15 seconds',
    UND_ERR_BODY_TIMEOUT: 'the receiver did not finish its answer within 15 seconds',
    UND_ERR_SOCKET: 'the connection was closed',
    ECONNRESET: 'the connection was reset',
    CERT_HAS_EXPIRED: 'the receiver’s TLS certificate has expired',
    DEPTH_ZERO_SELF_SIGNED_CERT: 'the receiver’s TLS certificate is self-signed',
    UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the receiver’s TLS certificate is not trusted',
    ERR_TLS_CERT_ALTNAME_INVALID: 'the receiver’s TLS certificate is for another name',
  };
  return (code && known[code]) ?? e.message ?? String(err);
}
