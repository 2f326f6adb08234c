import type { ActorCtx, Ctx } from '../context.js';
import type { Db, Queryable } from '../db/db.js';
import { audit } from '../audit/audit.js';
import { toStorable } from '../db/storable.js';
import { AppError, Conflict, NotFound } from '../http/errors.js';
import type { SecretBox } from '../identity/secrets.js';
import { isUuid } from '../identity/users.js';
import { enqueue } from '../jobs/queue.js';
import { formatNumber } from '../itsm/lifecycle.js';
import { applyStatus, insertTicket, recordEvent } from '../itsm/tickets.js';

/**
 * Governed identity configuration (four eyes): with the tenant's setting on, a change to role
 * rules, SSO enforcement or connections asked by an admin becomes a change ticket awaiting
 * approval, and takes effect only when a change manager other than the admin approves it (the
 * approval policy already refuses the requester). A break-glass account acts at once, audited as
 * `governance.bypassed`; so does the server operator (the CLI), whose commands are outside the
 * REST guard.
 */
export const GOVERNED_KINDS = [
  'role_rule.add',
  'role_rule.delete',
  'enforcement.set',
  'connection.update',
  'connection.delete',
  'governance.set',
  // The ways round four eyes: making the approver (an admin or change manager by hand), or the bypass (break-glass).
  'user.create',
  'user.roles',
  'user.update',
] as const;
export type GovernedKind = (typeof GOVERNED_KINDS)[number];

export interface GovernedChange {
  kind: GovernedKind;
  /** What the apply step needs; sealed at rest (it may hold a client secret). */
  params: Record<string, unknown>;
  /** The change in words, without secrets: the ticket's title and the admin page's line. */
  summary: string;
}

export interface PendingChange {
  id: string;
  kind: GovernedKind;
  summary: string;
  status: 'pending' | 'approved' | 'applied' | 'rejected' | 'failed';
  error: string | null;
  ticket: { id: string; ref: string; status: string };
  requestedBy: { id: string; displayName: string };
  createdAt: Date;
  decidedAt: Date | null;
  appliedAt: Date | null;
}

const COLUMNS = `r.id, r.kind, r.summary, r.status, r.error, r.created_at AS "createdAt", r.decided_at AS "decidedAt", r.applied_at AS "appliedAt",
  json_build_object('id', t.id, 'number', t.number, 'status', t.status) AS ticket, json_build_object('id', u.id, 'displayName', u.display_name) AS "requestedBy"`;
const FROM = `identity_change_requests r JOIN tickets t ON t.tenant_id = r.tenant_id AND t.id = r.ticket_id JOIN users u ON u.tenant_id = r.tenant_id AND u.id = r.requested_by`;

function present(row: Omit<PendingChange, 'ticket'> & { ticket: { id: string; number: number; status: string } }): PendingChange {
  return { ...row, ticket: { id: row.ticket.id, ref: formatNumber('change', row.ticket.number), status: row.ticket.status } };
}

export async function isGoverned(q: Queryable, tenantId: string): Promise<boolean> {
  const rows = await q.query<{ on: boolean }>('SELECT governed_identity AS on FROM tenants WHERE id = $1', [tenantId]);
  return rows[0]?.on ?? false;
}

/** The tenant's identity changes, pending first, then the latest decided ones. */
export async function listChanges(ctx: Ctx, limit = 50): Promise<PendingChange[]> {
  const rows = await ctx.db.query<Parameters<typeof present>[0]>(
    `SELECT ${COLUMNS} FROM ${FROM} WHERE r.tenant_id = $1 ORDER BY r.status IN ('pending', 'approved') DESC, r.created_at DESC LIMIT $2`,
    [ctx.tenant.id, limit],
  );
  return rows.map(present);
}

async function getChange(q: Queryable, tenantId: string, id: string): Promise<PendingChange> {
  const rows = isUuid(id) ? await q.query<Parameters<typeof present>[0]>(`SELECT ${COLUMNS} FROM ${FROM} WHERE r.tenant_id = $1 AND r.id = $2`, [tenantId, id]) : [];
  if (!rows[0]) throw new NotFound('Identity change');
  return present(rows[0]);
}

/** Whether the tenant governs identity configuration, and whether the actor is a break-glass account (who bypasses it). */
export async function governanceFor(ctx: ActorCtx): Promise<{ governed: boolean; breakGlass: boolean }> {
  const [state] = (await ctx.db.query<{ governed: boolean; break_glass: boolean }>(
    'SELECT t.governed_identity AS governed, u.break_glass FROM tenants t JOIN users u ON u.tenant_id = t.id AND u.id = $2 WHERE t.id = $1',
    [ctx.tenant.id, ctx.actor.userId],
  )) as [{ governed: boolean; break_glass: boolean }];
  return { governed: state.governed, breakGlass: state.break_glass };
}

/**
 * For what cannot wait for an approval because it answers with a secret shown once (a SCIM
 * token) or would be live at once (a connection published as it is created): refused in a
 * governed workspace unless a break-glass account asks (then audited `governance.bypassed`).
 * @throws Conflict `governed` saying what to do instead
 */
export async function requireUngoverned(ctx: ActorCtx, what: string, instead: string): Promise<void> {
  const { governed, breakGlass } = await governanceFor(ctx);
  if (!governed) return;
  if (!breakGlass) throw new Conflict(`This workspace governs its identity configuration, so ${what} needs a break-glass account or the server's CLI. ${instead}`, 'governed');
  await audit(ctx, ctx.db, { action: 'governance.bypassed', targetType: 'tenant', targetId: ctx.tenant.id, details: { summary: what, breakGlass: true } });
}

/** What the guard needs: the box that seals requested changes, and what applies each kind. */
export interface Governance {
  box: SecretBox;
  apply: ApplyChange;
}

/**
 * The guard in front of every governed change a person asks through the REST API: applies it now
 * when the tenant does not govern identity configuration or the actor is a break-glass account
 * (audited `governance.bypassed`), else tries it (rolled back: a change that could not apply is
 * refused now, with the same error) and files it as a change ticket awaiting approval (audited
 * `governance.change_requested`).
 * @returns `{ applied }` with what the change's function returned, or `{ pending }` with the filed change
 * @throws whatever the change itself throws (validation, conflicts)
 */
export async function governed<T>(ctx: ActorCtx, g: Governance, change: GovernedChange): Promise<{ applied: T; pending?: undefined } | { pending: PendingChange; applied?: undefined }> {
  const state = await governanceFor(ctx);
  // Turning governance on is never held back: only loosening it is governed.
  const tightening = change.kind === 'governance.set' && change.params.enabled === true;
  if (!state.governed || tightening) return { applied: (await g.apply(ctx, change)) as T };
  if (state.breakGlass) {
    const applied = (await g.apply(ctx, change)) as T;
    await audit(ctx, ctx.db, { action: 'governance.bypassed', targetType: 'tenant', targetId: ctx.tenant.id, details: { kind: change.kind, summary: change.summary, breakGlass: true } });
    return { applied };
  }
  const pending = await ctx.db.transaction(async (tx) => {
    // A dry run, undone: what would be refused later is refused now, with its reason.
    await tx.query('SAVEPOINT governed_dry_run');
    await g.apply({ ...ctx, db: inTransaction(tx, ctx.db) }, change);
    await tx.query('ROLLBACK TO SAVEPOINT governed_dry_run');
    const ticketId = await insertTicket(tx, ctx, {
      type: 'change',
      title: `Identity configuration: ${change.summary}`.slice(0, 200),
      description: [
        `${ctx.actor.displayName} <${ctx.actor.email}> asks for this change to the workspace's identity configuration:`,
        '',
        change.summary,
        '',
        'This workspace governs identity configuration: the change takes effect only when a change manager other than the person who asked approves this ticket. Keydesk then applies it and closes the ticket; a rejection discards it.',
      ].join('\n'),
      requesterId: ctx.actor.userId,
      impact: 2,
      urgency: 3,
    }, { governed: change.kind });
    await applyStatus(tx, ctx, { id: ticketId, type: 'change', status: 'draft' }, 'awaiting_approval');
    const [{ id }] = (await tx.query<{ id: string }>(
      `INSERT INTO identity_change_requests (tenant_id, ticket_id, kind, params_sealed, summary, requested_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
      [ctx.tenant.id, ticketId, change.kind, g.box.seal(JSON.stringify(change.params)), toStorable(change.summary).slice(0, 500), ctx.actor.userId],
    )) as [{ id: string }];
    await audit(ctx, tx, { action: 'governance.change_requested', targetType: 'tenant', targetId: ctx.tenant.id, details: { change: id, kind: change.kind, summary: change.summary } });
    return getChange(tx, ctx.tenant.id, id);
  });
  return { pending };
}

/**
 * Called in the transaction of an approval decision on any change ticket: a governed change
 * behind it is approved (and its application enqueued) or rejected. Nothing for other tickets.
 */
export async function governedChangeDecided(tx: Queryable, ctx: Ctx, ticketId: string, decision: 'approved' | 'rejected'): Promise<void> {
  const rows = await tx.query<{ id: string; summary: string }>(
    `UPDATE identity_change_requests SET status = $3, decided_by = $4, decided_at = now() WHERE tenant_id = $1 AND ticket_id = $2 AND status = 'pending' RETURNING id, summary`,
    [ctx.tenant.id, ticketId, decision, ctx.actor?.userId ?? null],
  );
  const change = rows[0];
  if (!change) return;
  if (decision === 'approved') await enqueue(tx, { tenantId: ctx.tenant.id, kind: 'governance.apply', payload: { changeId: change.id }, key: `governance:${change.id}`, maxAttempts: 5 });
  await audit(ctx, tx, { action: decision === 'approved' ? 'governance.change_approved' : 'governance.change_rejected', targetType: 'tenant', targetId: ctx.tenant.id, details: { change: change.id, summary: change.summary } });
}

/** A Db whose every statement and "transaction" runs in `tx`: domain functions applied inside one transaction. */
export function inTransaction(tx: Queryable, db: Db): Db {
  return { kind: db.kind, query: (sql, params) => tx.query(sql, params), transaction: (fn) => fn(tx), close: async () => {} };
}

/** Applies one kind of change with the given context; returns what the underlying function returned. */
export type ApplyChange = (ctx: Ctx, change: { kind: GovernedKind; params: Record<string, unknown> }) => Promise<unknown>;

/**
 * `governance.apply`: applies an approved change, as `governance` on behalf of the admin who asked,
 * in one transaction with its record and its ticket's closing. A change that no longer applies
 * (the rule exists, the connection is gone, enforcement would lock everyone out) is marked failed
 * with the reason, on the ticket and in the audit log, and not retried.
 */
export function applyApprovedChange({ box, apply: applyChange }: Governance) {
  return async (job: { tenantId: string | null; payload: Record<string, unknown> }, db: Db): Promise<void> => {
    const changeId = String(job.payload.changeId);
    const tenantRow = (await db.query<{ id: string; slug: string; name: string }>('SELECT id, slug, name FROM tenants WHERE id = $1', [job.tenantId]))[0];
    if (!tenantRow) return;
    const base: Ctx = { db, tenant: tenantRow, actor: null, actorLabel: 'governance' };
    try {
      await db.transaction(async (tx) => {
        const rows = await tx.query<{ kind: GovernedKind; params_sealed: string; ticket_id: string; summary: string; status: string }>(
          `SELECT kind, params_sealed, ticket_id, summary, status FROM identity_change_requests WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
          [tenantRow.id, changeId],
        );
        const r = rows[0];
        if (!r || r.status !== 'approved') return;
        const ctx: Ctx = { ...base, db: inTransaction(tx, db) };
        await applyChange(ctx, { kind: r.kind, params: JSON.parse(box.open(r.params_sealed)) as Record<string, unknown> });
        await tx.query(`UPDATE identity_change_requests SET status = 'applied', applied_at = now() WHERE tenant_id = $1 AND id = $2`, [tenantRow.id, changeId]);
        await tx.query(`UPDATE tickets SET resolution = $3 WHERE tenant_id = $1 AND id = $2`, [tenantRow.id, r.ticket_id, 'Applied by Keydesk after approval.']);
        await applyStatus(tx, ctx, { id: r.ticket_id, type: 'change', status: 'approved' }, 'closed');
        await audit(ctx, tx, { action: 'governance.change_applied', targetType: 'tenant', targetId: tenantRow.id, details: { change: changeId, kind: r.kind, summary: r.summary } });
      });
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      await db.transaction(async (tx) => {
        const [r] = (await tx.query<{ ticket_id: string; summary: string }>(
          `UPDATE identity_change_requests SET status = 'failed', error = $3 WHERE tenant_id = $1 AND id = $2 RETURNING ticket_id, summary`,
          [tenantRow.id, changeId, toStorable(err.message).slice(0, 1000)],
        )) as [{ ticket_id: string; summary: string }];
        await recordEvent(tx, base, r.ticket_id, 'governed_change_failed', { error: err.message });
        await audit(base, tx, { action: 'governance.change_failed', outcome: 'failure', reason: err.code, targetType: 'tenant', targetId: tenantRow.id, details: { change: changeId, summary: r.summary, error: err.message } });
      });
    }
  };
}

/**
 * Withdraws a pending change (the admin who asked, or another admin): the ticket is closed as
 * rejected. Audited `governance.change_withdrawn`.
 * @throws NotFound; Conflict when it is no longer pending
 */
export async function withdrawChange(ctx: ActorCtx, id: string): Promise<PendingChange> {
  return ctx.db.transaction(async (tx) => {
    const change = await getChange(tx, ctx.tenant.id, id);
    if (change.status !== 'pending') throw new Conflict(`The change is ${change.status}, not pending.`, 'not_pending');
    await tx.query(`UPDATE identity_change_requests SET status = 'rejected', decided_by = $3, decided_at = now(), error = 'Withdrawn.' WHERE tenant_id = $1 AND id = $2`, [ctx.tenant.id, id, ctx.actor.userId]);
    await applyStatus(tx, ctx, { id: change.ticket.id, type: 'change', status: change.ticket.status }, 'closed');
    await audit(ctx, tx, { action: 'governance.change_withdrawn', targetType: 'tenant', targetId: ctx.tenant.id, details: { change: id, summary: change.summary } });
    return getChange(tx, ctx.tenant.id, id);
  });
}

/** Turns governance on (at once) or off (itself governed: call through `governed`). Audited. */
export async function setGoverned(ctx: Ctx, enabled: boolean): Promise<{ enabled: boolean }> {
  await ctx.db.transaction(async (tx) => {
    const before = await isGoverned(tx, ctx.tenant.id);
    if (before === enabled) return;
    if (enabled) {
      // Someone must be able to approve, or every change waits for ever.
      const approvers = await tx.query(
        `SELECT 1 FROM users u JOIN role_grants g ON g.tenant_id = u.tenant_id AND g.user_id = u.id AND g.role = 'change_manager'
         WHERE u.tenant_id = $1 AND u.status = 'active' AND u.deleted_at IS NULL AND u.id IS DISTINCT FROM $2 LIMIT 1`,
        [ctx.tenant.id, ctx.actor?.userId ?? null],
      );
      if (!approvers.length) throw new Conflict('Four eyes needs a change manager other than you to approve changes, and this workspace has none. Give someone the change manager role first.', 'no_approver');
    }
    await tx.query('UPDATE tenants SET governed_identity = $2 WHERE id = $1', [ctx.tenant.id, enabled]);
    await audit(ctx, tx, { action: enabled ? 'governance.enabled' : 'governance.disabled', targetType: 'tenant', targetId: ctx.tenant.id });
  });
  return { enabled };
}

/**
 * A change ticket carrying a governed identity change: its title and description are what the
 * approver reads, so nobody edits them (the requester could otherwise approve-bait with harmless
 * words over a dangerous change).
 * @throws Conflict `governed_change` when the ticket carries one
 */
export async function assertNotGovernedTicket(tx: Queryable, tenantId: string, ticketId: string): Promise<void> {
  const rows = await tx.query('SELECT 1 FROM identity_change_requests WHERE tenant_id = $1 AND ticket_id = $2', [tenantId, ticketId]);
  if (rows.length) {
    throw new Conflict('This change ticket carries a governed identity change: its title and description say what will be applied and cannot be edited. Withdraw the change (Single sign-on › Governance) and ask again.', 'governed_change');
  }
}
