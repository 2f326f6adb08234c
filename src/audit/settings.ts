import { isIP } from 'node:net';
import type { Ctx } from '../context.js';
import type { Db, Queryable } from '../db/db.js';
import { AppError, Conflict } from '../http/errors.js';
import { isPublicAddress } from '../http/outbound.js';
import { audit } from './audit.js';
import { enqueueSyslogRun, SEAL_JOB, SETTLE_SECONDS, SYSLOG_JOB } from './jobs.js';
import { insertCheckpoint, registeredCheckpointKey, sealTenant, type CheckpointKey } from './chain.js';
import { connectSyslog, frame, parseCaCertificates, SYSLOG_TLS_PORT, SyslogError, syslogMessage, type SyslogTarget } from './syslog.js';

/** The shortest retention a tenant may set, in days: a month covers any review cycle's lag. */
export const MIN_RETENTION_DAYS = 30;
/** The longest, in days (100 years); null keeps events forever. */
export const MAX_RETENTION_DAYS = 36_500;

export interface CaCertificateInfo {
  subject: string;
  notAfter: Date;
  /** SHA-256 fingerprint, colon-separated hex (as openssl prints it). */
  sha256: string;
}

/** A tenant's audit settings as admins see them. */
export interface AuditSettings {
  /** Days events are kept; null: forever. Events not yet streamed to an enabled SIEM are kept regardless. */
  retentionDays: number | null;
  syslog: {
    enabled: boolean;
    host: string | null;
    port: number;
    /** The PEM CA certificates trusted for the collector, or null for Node's usual roots. */
    caCertificate: string | null;
    caCertificates: CaCertificateInfo[];
    servername: string | null;
    /** The cursor: the id of the last event written and flushed to the collector. */
    lastDeliveredId: number | null;
    lastDeliveredAt: Date | null;
    lastError: string | null;
    lastErrorAt: Date | null;
    /** Events after the cursor (counted up to 10 001), while streaming is on. */
    pending: number;
  };
}

interface Row {
  retention_days: number | null;
  syslog_enabled: boolean;
  syslog_host: string | null;
  syslog_port: number;
  syslog_ca_pem: string | null;
  syslog_servername: string | null;
  syslog_cursor: number | null;
  syslog_generation: number;
  syslog_last_delivered_at: Date | null;
  syslog_last_error: string | null;
  syslog_last_error_at: Date | null;
}

const DEFAULT_ROW: Row = {
  retention_days: null,
  syslog_enabled: false,
  syslog_host: null,
  syslog_port: SYSLOG_TLS_PORT,
  syslog_ca_pem: null,
  syslog_servername: null,
  syslog_cursor: null,
  syslog_generation: 0,
  syslog_last_delivered_at: null,
  syslog_last_error: null,
  syslog_last_error_at: null,
};

// Named, not *: a prepared statement's result may not change shape when a migration adds a column.
const ROW_COLUMNS = Object.keys(DEFAULT_ROW).join(', ');

async function loadRow(q: Queryable, tenantId: string, forUpdate = false): Promise<Row> {
  const [row] = await q.query<Row>(`SELECT ${ROW_COLUMNS} FROM audit_settings WHERE tenant_id = $1${forUpdate ? ' FOR UPDATE' : ''}`, [tenantId]);
  return row ?? DEFAULT_ROW;
}

function caInfo(pem: string | null): CaCertificateInfo[] {
  if (!pem) return [];
  try {
    return parseCaCertificates(pem).certificates;
  } catch {
    return [];
  }
}

async function view(q: Queryable, tenantId: string, row: Row): Promise<AuditSettings> {
  let pending = 0;
  if (row.syslog_enabled && row.syslog_cursor !== null) {
    const [n] = await q.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM (SELECT 1 FROM audit_events WHERE tenant_id = $1 AND id > $2 LIMIT 10001) x',
      [tenantId, row.syslog_cursor],
    );
    pending = n?.n ?? 0;
  }
  return {
    retentionDays: row.retention_days,
    syslog: {
      enabled: row.syslog_enabled,
      host: row.syslog_host,
      port: row.syslog_port,
      caCertificate: row.syslog_ca_pem,
      caCertificates: caInfo(row.syslog_ca_pem),
      servername: row.syslog_servername,
      lastDeliveredId: row.syslog_cursor,
      lastDeliveredAt: row.syslog_last_delivered_at,
      lastError: row.syslog_last_error,
      lastErrorAt: row.syslog_last_error_at,
      pending,
    },
  };
}

/** The tenant's retention and SIEM streaming settings (defaults when never set). */
export async function getAuditSettings(ctx: Ctx): Promise<AuditSettings> {
  return view(ctx.db, ctx.tenant.id, await loadRow(ctx.db, ctx.tenant.id));
}

export interface AuditSettingsChange {
  /** Days (MIN_RETENTION_DAYS to MAX_RETENTION_DAYS), or null to keep events forever. */
  retentionDays?: number | null;
  syslog?: {
    enabled?: boolean;
    /** A DNS name or an IP address (IPv6 with or without brackets). */
    host?: string | null;
    port?: number;
    /** PEM CA certificate(s), or null for Node's usual roots. */
    caCertificate?: string | null;
    servername?: string | null;
  };
}

const invalid = (field: string, message: string) =>
  new AppError(400, 'invalid_request', `The body is invalid: ${field} ${message}.`, { errors: [{ field, message }] });

const DNS_NAME = /^(?=.{1,253}\.?$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.?$/;

/**
 * A collector host as stored: a DNS name in lower case, or an IP address without brackets. A
 * literal address must be public unless the operator allows private ones; a name is checked when
 * connecting (DNS may change).
 * @throws AppError 400 naming `field`
 */
export function normaliseHost(raw: string, field: string, allowPrivate: boolean): string {
  const host = raw.trim().toLowerCase();
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  if (isIP(bare)) {
    if (!allowPrivate && !isPublicAddress(bare)) throw invalid(field, `is ${bare}, which is not a public address (the operator can allow private addresses with KEYDESK_WEBHOOK_ALLOW_PRIVATE)`);
    return bare;
  }
  if (!DNS_NAME.test(host)) throw invalid(field, 'must be a DNS name (letters, digits, hyphens and dots) or an IP address');
  return host.replace(/\.$/, '');
}

function normaliseServername(raw: string, field: string): string {
  const name = raw.trim().toLowerCase().replace(/\.$/, '');
  if (isIP(name.replace(/^\[(.*)\]$/, '$1')) || !DNS_NAME.test(name)) throw invalid(field, 'must be a DNS name, the one the certificate carries');
  return name;
}

/** What the audit log records about the streaming settings: no certificate text, its fingerprints. */
function streamingSummary(r: Row) {
  return {
    enabled: r.syslog_enabled,
    host: r.syslog_host,
    port: r.syslog_port,
    servername: r.syslog_servername,
    caCertificates: caInfo(r.syslog_ca_pem).map((c) => c.sha256),
  };
}

/**
 * Changes the retention and/or the SIEM streaming settings (admins), in one transaction, audited as
 * `audit.retention_changed` and `audit.streaming_changed` (before and after; certificates by
 * fingerprint). Turning streaming on, or changing where it goes while it is on, starts a new stream
 * chain (a job enqueued in the same transaction); the first time it is turned on, the stream starts
 * after the newest settled event (older events: use the export). A change to nothing writes nothing.
 * @throws AppError 400 `invalid_request` (field named) for a bad host, server name, CA text or days,
 *   or for turning streaming on without a host
 */
export async function updateAuditSettings(ctx: Ctx, change: AuditSettingsChange, opts: { allowPrivate: boolean }): Promise<AuditSettings> {
  const c = change.syslog ?? {};
  if (change.retentionDays != null && (!Number.isInteger(change.retentionDays) || change.retentionDays < MIN_RETENTION_DAYS || change.retentionDays > MAX_RETENTION_DAYS)) {
    throw invalid('retentionDays', `must be a whole number of days from ${MIN_RETENTION_DAYS} to ${MAX_RETENTION_DAYS}, or null to keep events forever`);
  }
  if (c.port !== undefined && (!Number.isInteger(c.port) || c.port < 1 || c.port > 65535)) throw invalid('syslog.port', 'must be a port number from 1 to 65535');
  const host = c.host == null ? c.host : normaliseHost(c.host, 'syslog.host', opts.allowPrivate);
  const servername = c.servername == null || c.servername.trim() === '' ? (c.servername === undefined ? undefined : null) : normaliseServername(c.servername, 'syslog.servername');
  let caPem: string | null | undefined = c.caCertificate === undefined ? undefined : null;
  if (c.caCertificate != null && c.caCertificate.trim() !== '') {
    try {
      caPem = parseCaCertificates(c.caCertificate).pem;
    } catch (err) {
      throw invalid('syslog.caCertificate', (err as Error).message);
    }
  }

  return ctx.db.transaction(async (tx) => {
    await tx.query('INSERT INTO audit_settings (tenant_id) VALUES ($1) ON CONFLICT (tenant_id) DO NOTHING', [ctx.tenant.id]);
    const before = await loadRow(tx, ctx.tenant.id, true);
    const next: Row = {
      ...before,
      retention_days: change.retentionDays === undefined ? before.retention_days : change.retentionDays,
      syslog_enabled: c.enabled ?? before.syslog_enabled,
      syslog_host: host === undefined ? before.syslog_host : host,
      syslog_port: c.port ?? before.syslog_port,
      syslog_ca_pem: caPem === undefined ? before.syslog_ca_pem : caPem,
      syslog_servername: servername === undefined ? before.syslog_servername : servername,
    };
    if (next.syslog_enabled && !next.syslog_host) throw invalid('syslog.host', 'is needed to turn streaming on');
    const retentionChanged = next.retention_days !== before.retention_days;
    const connectionChanged =
      next.syslog_host !== before.syslog_host || next.syslog_port !== before.syslog_port || next.syslog_ca_pem !== before.syslog_ca_pem || next.syslog_servername !== before.syslog_servername;
    const streamingChanged = connectionChanged || next.syslog_enabled !== before.syslog_enabled;
    if (!retentionChanged && !streamingChanged) return view(tx, ctx.tenant.id, before);

    // A new chain when streaming starts or its destination changes: the old chain's next run sees
    // the new generation and ends, and the new one starts at once (not after an old backoff).
    const restart = next.syslog_enabled && (!before.syslog_enabled || connectionChanged);
    if (restart) {
      next.syslog_generation = before.syslog_generation + 1;
      if (next.syslog_cursor === null) {
        // Newest first by the primary key: only the events younger than the window are stepped over.
        const [newest] = await tx.query<{ id: number }>(
          'SELECT id FROM audit_events WHERE tenant_id = $1 AND occurred_at <= now() - make_interval(secs => $2) ORDER BY id DESC LIMIT 1',
          [ctx.tenant.id, SETTLE_SECONDS],
        );
        next.syslog_cursor = newest?.id ?? 0;
      }
    }
    await tx.query(
      `UPDATE audit_settings SET retention_days = $2, syslog_enabled = $3, syslog_host = $4, syslog_port = $5, syslog_ca_pem = $6, syslog_servername = $7,
         syslog_cursor = $8, syslog_generation = $9, syslog_failures = CASE WHEN $10 THEN 0 ELSE syslog_failures END, updated_at = now()
       WHERE tenant_id = $1`,
      [ctx.tenant.id, next.retention_days, next.syslog_enabled, next.syslog_host, next.syslog_port, next.syslog_ca_pem, next.syslog_servername, next.syslog_cursor, next.syslog_generation, restart],
    );
    if (restart) await enqueueSyslogRun(tx, ctx.tenant.id, next.syslog_generation, 0);
    if (retentionChanged) {
      await audit(ctx, tx, { action: 'audit.retention_changed', targetType: 'tenant', targetId: ctx.tenant.id, details: { before: before.retention_days, after: next.retention_days } });
    }
    if (streamingChanged) {
      await audit(ctx, tx, { action: 'audit.streaming_changed', targetType: 'tenant', targetId: ctx.tenant.id, details: { before: streamingSummary(before), after: streamingSummary(next) } });
    }
    return view(tx, ctx.tenant.id, next);
  });
}

export interface SyslogTestResult {
  ok: boolean;
  /** What happened, in plain words: the TLS version used, or why it failed. */
  message: string;
  /** On failure, a stable code: `untrusted_certificate`, `name_mismatch`, `connection_refused`… */
  code: string | null;
  /** Milliseconds from the first lookup to the message flushed. */
  ms: number;
}

/**
 * "Send test message": connects to the stored collector (on or off) as the stream would, sends one
 * RFC 5424 message (MSGID `audit.streaming_test`) and closes. The outcome is audited as
 * `audit.streaming_tested` (reason: the failure code).
 * @throws Conflict 409 `not_configured` when no host is set
 */
export async function testSyslog(ctx: Ctx, opts: { allowPrivate: boolean; hostname: string }): Promise<SyslogTestResult> {
  const row = await loadRow(ctx.db, ctx.tenant.id);
  if (!row.syslog_host) throw new Conflict('Set the SIEM host first, then send a test message.', 'not_configured');
  const target: SyslogTarget = { host: row.syslog_host, port: row.syslog_port, caPem: row.syslog_ca_pem, servername: row.syslog_servername };
  const started = performance.now();
  let result: SyslogTestResult;
  try {
    const conn = await connectSyslog(target, { allowPrivate: opts.allowPrivate });
    try {
      const message = syslogMessage(
        {
          id: 0,
          occurredAt: new Date(),
          actorId: ctx.actor?.userId ?? null,
          actorLabel: ctx.actor?.email ?? ctx.actorLabel ?? 'system',
          action: 'audit.streaming_test',
          outcome: 'success',
          reason: null,
          targetType: 'tenant',
          targetId: ctx.tenant.id,
          targetLabel: ctx.tenant.name,
          ip: ctx.ip ?? null,
          details: { test: true, text: 'Keydesk test message: streaming to this collector works.' },
        },
        { tenant: ctx.tenant.slug, hostname: opts.hostname },
      );
      await conn.send(frame(message));
    } finally {
      await conn.close();
    }
    const ms = Math.round(performance.now() - started);
    result = { ok: true, code: null, ms, message: `Connected to ${target.host}:${target.port} over ${conn.protocol}, verified its certificate and sent a test message.` };
  } catch (err) {
    if (!(err instanceof SyslogError)) throw err;
    result = { ok: false, code: err.code, ms: Math.round(performance.now() - started), message: err.message };
  }
  await audit(ctx, ctx.db, {
    action: 'audit.streaming_tested',
    outcome: result.ok ? 'success' : 'failure',
    reason: result.code ?? undefined,
    targetType: 'tenant',
    targetId: ctx.tenant.id,
    details: { host: target.host, port: target.port, message: result.message },
  });
  return result;
}

/**
 * Enforces every tenant's retention (run by the housekeeping timer, any node, idempotent). Events
 * leave from the start of the tenant's audit chain (chain.ts), so what remains still verifies:
 * 1. the tenant's waiting events are sealed first (so old events are in the chain);
 * 2. under the chain head's lock, the prunable start is found: every position before the first
 *    event that must stay (younger than the retention, or not yet streamed to an enabled SIEM:
 *    after its cursor), at most 20 × `batch` events a call;
 * 3. a `prune` checkpoint is signed for its last position (with `checkpointKey`, or the key the app
 *    registered for this database; without either it is stored unsigned and verification reports
 *    it), which anchors the chain that remains;
 * 4. the events up to it are deleted in batches of `batch`, lowest positions first (an interruption
 *    leaves a shorter prefix, which the checkpoint still anchors), then the checkpoints before it.
 * Each tenant's deletion is recorded as `audit.pruned` (how many, the cut-off, the highest id
 * deleted, and the chain position and hash it now starts after). Unsealed events are never deleted.
 * Also forgets finished stream and sealing jobs after an hour (each schedules a step every few seconds).
 * @returns the number of events deleted
 */
export async function pruneAudit(db: Db, opts: { batch?: number; checkpointKey?: CheckpointKey } = {}): Promise<number> {
  const batch = opts.batch ?? 5000;
  const key = opts.checkpointKey ?? registeredCheckpointKey(db);
  const tenants = await db.query<{ id: string; slug: string; name: string; days: number; cutoff: Date }>(
    `SELECT t.id, t.slug, t.name, s.retention_days AS days, now() - make_interval(days => s.retention_days) AS cutoff
     FROM audit_settings s JOIN tenants t ON t.id = s.tenant_id WHERE s.retention_days IS NOT NULL`,
  );
  let total = 0;
  for (const t of tenants) {
    await sealTenant(db, t.id);
    const plan = await db.transaction(async (tx) => {
      const [head] = await tx.query<{ seq: number; now: Date }>('SELECT seq, now() AS now FROM audit_chain WHERE tenant_id = $1 FOR UPDATE', [t.id]);
      const [first] = await tx.query<{ seq: number }>(
        'SELECT chain_seq AS seq FROM audit_events WHERE tenant_id = $1 AND chain_seq IS NOT NULL ORDER BY chain_seq LIMIT 1',
        [t.id],
      );
      if (!head || !first) return null;
      const [keep] = await tx.query<{ seq: number }>(
        `SELECT a.chain_seq AS seq FROM audit_events a JOIN audit_settings s ON s.tenant_id = a.tenant_id
         WHERE a.tenant_id = $1 AND a.chain_seq IS NOT NULL AND (a.occurred_at >= $2 OR (s.syslog_enabled AND a.id > coalesce(s.syslog_cursor, 0)))
         ORDER BY a.chain_seq LIMIT 1`,
        [t.id, t.cutoff],
      );
      const bound = Math.min(keep ? Number(keep.seq) - 1 : Number(head.seq), Number(first.seq) + 20 * batch - 1);
      if (bound < Number(first.seq)) return null;
      const [at] = await tx.query<{ hash: string }>('SELECT hash FROM audit_events WHERE tenant_id = $1 AND chain_seq = $2 ORDER BY id LIMIT 1', [t.id, bound]);
      if (!at) return null; // a hole in the chain: leave it for verification to report
      await insertCheckpoint(tx, key, { tenantId: t.id, kind: 'prune', chainSeq: bound, hash: at.hash, signedAt: head.now });
      return { bound, hash: at.hash };
    });
    if (!plan) continue;
    let deleted = 0;
    let highest = 0;
    for (;;) {
      const rows = await db.query<{ id: number }>(
        `DELETE FROM audit_events WHERE tenant_id = $1 AND id IN (
           SELECT id FROM audit_events WHERE tenant_id = $1 AND chain_seq IS NOT NULL AND chain_seq <= $2 ORDER BY chain_seq LIMIT $3)
         RETURNING id`,
        [t.id, plan.bound, batch],
      );
      deleted += rows.length;
      for (const r of rows) highest = Math.max(highest, Number(r.id));
      if (rows.length < batch) break;
    }
    await db.query('DELETE FROM audit_checkpoints WHERE tenant_id = $1 AND chain_seq < $2', [t.id, plan.bound]);
    if (deleted) {
      await audit({ db, tenant: { id: t.id, slug: t.slug, name: t.name }, actor: null, actorLabel: 'system' }, db, {
        action: 'audit.pruned',
        targetType: 'tenant',
        targetId: t.id,
        details: { deleted, retentionDays: t.days, before: new Date(t.cutoff).toISOString(), highestId: highest, chain: { prunedThrough: plan.bound, hash: plan.hash } },
      });
    }
    total += deleted;
  }
  await db.query(`DELETE FROM jobs WHERE kind = ANY($1) AND status = 'done' AND finished_at < now() - interval '1 hour'`, [[SYSLOG_JOB, SEAL_JOB]]);
  return total;
}
