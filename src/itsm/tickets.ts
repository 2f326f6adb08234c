import type { ActorCtx, Ctx } from '../context.js';
import { routeByCategory, categoryForRequest } from './categories.js';
import type { Queryable } from '../db/db.js';
import { BadRequest, Conflict, Forbidden, NotFound, ValidationFailed } from '../http/errors.js';
import { canonicalName } from '../http/text.js';
import { getUser, isUuid } from '../identity/users.js';
import { ticketPolicy } from './policy.js';
import {
  canTransition,
  formatNumber,
  isPaused,
  LIFECYCLE,
  parseNumber,
  REOPEN,
  RESOLUTION_STATUSES,
  RESOLVED_STATUSES,
  type TicketType,
} from './lifecycle.js';
import { priorityOf, SLA_SQL, slaTargets } from './sla.js';
import { teamIdsOf } from './teams.js';
import { publishTicketEvent } from '../webhooks/publish.js';
import { assertNotGovernedTicket } from '../governance/changes.js';
import { decodeCursor, encodeCursor } from './cursor.js';

interface PersonRef {
  id: string;
  displayName: string;
  email: string;
}

export interface Ticket {
  id: string;
  ref: string;
  type: TicketType;
  number: number;
  title: string;
  description: string;
  status: string;
  impact: number;
  urgency: number;
  priority: number;
  category: string | null;
  /** The request category it was raised in (categories.ts); null for free-text or no category. */
  categoryId: string | null;
  requester: PersonRef;
  assignee: PersonRef | null;
  /** Who must approve it before fulfilment (the requester's manager, set at submission); else null. */
  approver: PersonRef | null;
  team: { id: string; name: string } | null;
  createdAt: Date;
  updatedAt: Date;
  resolvedAt: Date | null;
  closedAt: Date | null;
  /** How it was resolved (incidents) or fulfilled (requests); null until then. */
  resolution: string | null;
  sla: {
    responseDueAt: Date | null;
    resolutionDueAt: Date | null;
    firstResponseAt: Date | null;
    paused: boolean;
    responseBreached: boolean;
    resolutionBreached: boolean;
  };
}

type Row = Omit<Ticket, 'ref' | 'sla' | 'requester' | 'assignee' | 'approver' | 'team'> & {
  requesterId: string;
  requesterName: string;
  requesterEmail: string;
  assigneeId: string | null;
  assigneeName: string | null;
  assigneeEmail: string | null;
  approverId: string | null;
  approverName: string | null;
  approverEmail: string | null;
  teamId: string | null;
  teamName: string | null;
  responseDueAt: Date | null;
  resolutionDueAt: Date | null;
  firstResponseAt: Date | null;
  slaPausedAt: Date | null;
  responseBreached: boolean;
  resolutionBreached: boolean;
  cursorTs: string;
};

const SELECT = `SELECT t.id, t.type, t.number, t.title, t.description, t.status, t.impact, t.urgency, t.priority, t.category, t.category_id AS "categoryId",
    t.created_at AS "createdAt", t.updated_at AS "updatedAt", t.resolved_at AS "resolvedAt", t.closed_at AS "closedAt", t.resolution,
    t.requester_id AS "requesterId", r.display_name AS "requesterName", r.email AS "requesterEmail",
    t.assignee_id AS "assigneeId", a.display_name AS "assigneeName", a.email AS "assigneeEmail",
    t.approver_id AS "approverId", ap.display_name AS "approverName", ap.email AS "approverEmail",
    t.team_id AS "teamId", tm.name AS "teamName",
    t.response_due_at AS "responseDueAt", t.resolution_due_at AS "resolutionDueAt", t.first_response_at AS "firstResponseAt",
    t.sla_paused_at AS "slaPausedAt",
    ${SLA_SQL.responseBreached} AS "responseBreached", ${SLA_SQL.resolutionBreached} AS "resolutionBreached",
    t.created_at::text AS "cursorTs"
  FROM tickets t
  JOIN users r ON r.tenant_id = t.tenant_id AND r.id = t.requester_id
  LEFT JOIN users a ON a.tenant_id = t.tenant_id AND a.id = t.assignee_id
  LEFT JOIN users ap ON ap.tenant_id = t.tenant_id AND ap.id = t.approver_id
  LEFT JOIN teams tm ON tm.tenant_id = t.tenant_id AND tm.id = t.team_id`;

function present(r: Row): Ticket {
  return {
    id: r.id,
    ref: formatNumber(r.type, r.number),
    type: r.type,
    number: r.number,
    title: r.title,
    description: r.description,
    status: r.status,
    impact: r.impact,
    urgency: r.urgency,
    priority: r.priority,
    category: r.category,
    categoryId: r.categoryId,
    requester: { id: r.requesterId, displayName: r.requesterName, email: r.requesterEmail },
    assignee: r.assigneeId ? { id: r.assigneeId, displayName: r.assigneeName!, email: r.assigneeEmail! } : null,
    approver: r.approverId ? { id: r.approverId, displayName: r.approverName!, email: r.approverEmail! } : null,
    team: r.teamId ? { id: r.teamId, name: r.teamName! } : null,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    resolvedAt: r.resolvedAt,
    closedAt: r.closedAt,
    resolution: r.resolution,
    sla: {
      responseDueAt: r.responseDueAt,
      resolutionDueAt: r.resolutionDueAt,
      firstResponseAt: r.firstResponseAt,
      paused: r.slaPausedAt !== null,
      responseBreached: r.responseBreached,
      resolutionBreached: r.resolutionBreached,
    },
  };
}

/** Loads a ticket by id or by reference (INC000123), applying the view policy: invisible is not found. */
export async function getTicket(ctx: ActorCtx, idOrRef: string, q: Queryable = ctx.db, lock = false): Promise<Ticket> {
  const byRef = parseNumber(idOrRef);
  let rows: Row[];
  const suffix = lock ? ' FOR UPDATE OF t' : '';
  if (byRef) {
    rows = await q.query<Row>(`${SELECT} WHERE t.tenant_id = $1 AND t.type = $2 AND t.number = $3${suffix}`, [ctx.tenant.id, byRef.type, byRef.number]);
  } else if (isUuid(idOrRef)) {
    rows = await q.query<Row>(`${SELECT} WHERE t.tenant_id = $1 AND t.id = $2${suffix}`, [ctx.tenant.id, idOrRef]);
  } else {
    throw new NotFound('Ticket');
  }
  const ticket = rows[0] ? present(rows[0]) : null;
  if (!ticket || !ticketPolicy.canView(ctx.actor, ticket)) throw new NotFound('Ticket');
  return ticket;
}

export interface TicketFilter {
  type?: TicketType;
  status?: string[];
  /** Not resolved or closed. */
  open?: boolean;
  assignee?: string | 'me' | 'none';
  team?: string | 'mine';
  requester?: string | 'me';
  /** Who must approve (a manager's inbox: `me`). */
  approver?: string | 'me';
  priority?: number[];
  breached?: boolean;
  q?: string;
  /** A workspace queue's filter, which the other fields narrow further. */
  queue?: QueueId;
  limit: number;
  cursor?: string;
}

type Bind = (v: unknown) => string;

/**
 * The SQL condition for a filter, as the actor may see it (requesters: their own tickets and those
 * they are asked to approve, as ticketPolicy.canView says).
 */
async function filterSql(ctx: ActorCtx, f: Omit<TicketFilter, 'limit' | 'cursor'>, p: Bind): Promise<string> {
  const where = ['t.tenant_id = $1'];
  if (!ticketPolicy.canSeeInternal(ctx.actor)) {
    const me = p(ctx.actor.userId);
    where.push(`(t.requester_id = ${me} OR t.approver_id = ${me})`);
  }
  if (f.type) where.push(`t.type = ${p(f.type)}`);
  if (f.status?.length) where.push(`t.status = ANY(${p(f.status)})`);
  if (f.open) where.push(`t.status <> ALL(${p([...RESOLVED_STATUSES, 'rejected'])})`);
  if (f.assignee === 'none') where.push('t.assignee_id IS NULL');
  else if (f.assignee) where.push(`t.assignee_id = ${p(f.assignee === 'me' ? ctx.actor.userId : checkUuid(f.assignee, 'assignee'))}`);
  if (f.team === 'mine') where.push(`t.team_id = ANY(${p(await teamIdsOf(ctx.db, ctx.tenant.id, ctx.actor.userId))})`);
  else if (f.team) where.push(`t.team_id = ${p(checkUuid(f.team, 'team'))}`);
  if (f.requester) where.push(`t.requester_id = ${p(f.requester === 'me' ? ctx.actor.userId : checkUuid(f.requester, 'requester'))}`);
  if (f.approver) where.push(`t.approver_id = ${p(f.approver === 'me' ? ctx.actor.userId : checkUuid(f.approver, 'approver'))}`);
  if (f.priority?.length) where.push(`t.priority = ANY(${p(f.priority)})`);
  if (f.breached !== undefined) where.push(`${f.breached ? '' : 'NOT '}(${SLA_SQL.responseBreached} OR ${SLA_SQL.resolutionBreached})`);
  if (f.q) {
    const ref = parseNumber(f.q);
    if (ref) where.push(`(t.type = ${p(ref.type)} AND t.number = ${p(ref.number)})`);
    else where.push(`t.search @@ websearch_to_tsquery('simple', ${p(f.q)})`);
  }
  return where.join(' AND ');
}

function binder(params: unknown[]): Bind {
  return (v) => {
    params.push(v);
    return `$${params.length}`;
  };
}

/** Lists tickets visible to the actor, newest first, with keyset pagination. */
export async function listTickets(ctx: ActorCtx, f: TicketFilter): Promise<{ items: Ticket[]; nextCursor: string | null }> {
  const params: unknown[] = [ctx.tenant.id];
  const p = binder(params);
  const given = Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined));
  const where = [await filterSql(ctx, { ...QUEUES[f.queue ?? 'all'], ...given }, p)];
  if (f.cursor) {
    const c = decodeCursor(f.cursor);
    where.push(`(t.created_at, t.id) < (${p(c.ts)}::timestamptz, ${p(c.id)}::uuid)`);
  }
  const rows = await ctx.db.query<Row>(
    `${SELECT} WHERE ${where.join(' AND ')} ORDER BY t.created_at DESC, t.id DESC LIMIT ${p(f.limit + 1)}`,
    params,
  );
  const more = rows.length > f.limit;
  const page = rows.slice(0, f.limit);
  const last = page[page.length - 1];
  return { items: page.map(present), nextCursor: more && last ? encodeCursor({ ts: last.cursorTs, id: last.id }) : null };
}

/** The agent workspace's queues: named filters, one definition for the list and its count. */
export const QUEUES = {
  unassigned: { open: true, assignee: 'none' },
  mine: { open: true, assignee: 'me' },
  teams: { open: true, team: 'mine' },
  open: { open: true },
  breached: { open: true, breached: true },
  all: {},
} as const satisfies Record<string, Omit<TicketFilter, 'limit' | 'cursor' | 'queue'>>;
export type QueueId = keyof typeof QUEUES;

/** How many tickets each queue holds for the actor, in one statement. */
export async function queueCounts(ctx: ActorCtx): Promise<Record<QueueId, number>> {
  const params: unknown[] = [ctx.tenant.id];
  const p = binder(params);
  const columns: string[] = [];
  for (const [id, f] of Object.entries(QUEUES)) columns.push(`count(*) FILTER (WHERE ${await filterSql(ctx, f, p)})::int AS "${id}"`);
  const [row] = await ctx.db.query<Record<QueueId, number>>(`SELECT ${columns.join(', ')} FROM tickets t WHERE t.tenant_id = $1`, params);
  return row!;
}

function checkUuid(v: string, field: string): string {
  if (!isUuid(v)) throw new ValidationFailed(`The ${field} filter is invalid.`, [{ field, message: 'must be a UUID' }]);
  return v;
}

export interface NewTicket {
  type: TicketType;
  title: string;
  description?: string;
  impact?: number;
  urgency?: number;
  category?: string | null;
  /** A request category (categories.ts): names the category, sets the team, may ask the manager first. */
  categoryId?: string | null;
  requesterId?: string;
  assigneeId?: string | null;
  teamId?: string | null;
}

/**
 * Raises a ticket for the actor (or, for staff, on someone's behalf). A request raised in a request
 * category takes the category's name and team (unless staff chose a team), and when the category
 * needs the manager's approval it waits for the requester's manager (`awaiting_approval`) or, with
 * no manager to ask, goes to the team with an internal note saying why.
 * @throws Forbidden raising a change as a requester; setting requester or assignment without being an agent
 * @throws ValidationFailed an unknown or inactive person, an unknown team or category, a category on
 *   anything but a request, or both `category` and `categoryId`
 */
export async function createTicket(ctx: ActorCtx, input: NewTicket): Promise<Ticket> {
  if (!ticketPolicy.canRaise(ctx.actor, input.type)) throw new Forbidden(`You cannot raise a ${input.type}.`);
  const staffFields = input.requesterId !== undefined || input.assigneeId != null || input.teamId != null;
  if (staffFields && !ticketPolicy.canRaiseFor(ctx.actor)) throw new Forbidden('Only agents can set the requester or the assignment.');
  const id = await ctx.db.transaction(async (tx) => {
    const requesterId = input.requesterId ?? ctx.actor.userId;
    await checkPerson(tx, ctx, requesterId, 'requesterId', false);
    if (input.assigneeId) await checkPerson(tx, ctx, input.assigneeId, 'assigneeId', true);
    if (input.teamId) await checkTeam(tx, ctx, input.teamId);
    const category = await categoryForRequest(tx, ctx.tenant.id, input);
    const id = await insertTicket(tx, ctx, {
      ...input,
      requesterId,
      ...(category ? { category: category.name, categoryId: category.id, teamId: input.teamId ?? category.teamId } : {}),
    });
    if (category) await routeByCategory(tx, ctx, id, requesterId, category);
    return id;
  });
  return getTicket(ctx, id);
}

/**
 * Writes a new ticket in the caller's transaction, with its SLA targets and its `created` event,
 * for a person (createTicket, after its checks) or for the system (a workflow: `ctx.actor` null).
 * The people and team are the caller's to check. The counter row stays locked until COMMIT, so
 * it is taken last: concurrent creations in one tenant wait on each other only for two INSERTs.
 * @returns the ticket's id
 */
export async function insertTicket(tx: Queryable, ctx: Ctx, input: NewTicket & { requesterId: string }, eventData: Record<string, unknown> = {}): Promise<string> {
  const impact = input.impact ?? 3;
  const urgency = input.urgency ?? 3;
  const priority = priorityOf(impact, urgency);
  const targets = await slaTargets(tx, ctx.tenant.id, priority);
  const [{ last_number: number }] = (await tx.query<{ last_number: number }>(
    `INSERT INTO ticket_counters (tenant_id, type, last_number) VALUES ($1, $2, 1)
     ON CONFLICT (tenant_id, type) DO UPDATE SET last_number = ticket_counters.last_number + 1 RETURNING last_number`,
    [ctx.tenant.id, input.type],
  )) as [{ last_number: number }];
  const [{ id }] = (await tx.query<{ id: string }>(
    `INSERT INTO tickets (tenant_id, type, number, title, description, status, requester_id, assignee_id, team_id, category,
                          impact, urgency, priority, response_due_at, resolution_due_at, category_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,
             now() + make_interval(mins => $14::int), now() + make_interval(mins => $15::int), $16)
     RETURNING id`,
    [
      ctx.tenant.id,
      input.type,
      number,
      input.title.trim(),
      input.description ?? '',
      LIFECYCLE[input.type].initial,
      input.requesterId,
      input.assigneeId ?? null,
      input.teamId ?? null,
      input.category == null ? null : canonicalName(input.category) || null,
      impact,
      urgency,
      priority,
      targets?.response_minutes ?? null,
      targets?.resolution_minutes ?? null,
      input.categoryId ?? null,
    ],
  )) as [{ id: string }];
  await recordEvent(tx, ctx, id, 'created', { priority, ...eventData });
  return id;
}

async function checkPerson(tx: Queryable, ctx: ActorCtx, userId: string, field: string, mustWork: boolean) {
  const user = await getUser(tx, ctx.tenant.id, userId).catch(() => null);
  const ok = user && user.status === 'active' && (!mustWork || user.roles.some((r) => r === 'agent' || r === 'admin' || r === 'change_manager'));
  if (!ok) {
    throw new ValidationFailed(`The ${field} does not name ${mustWork ? 'an active agent' : 'an active user'} of this tenant.`, [
      { field, message: mustWork ? 'must be an active agent' : 'must be an active user' },
    ]);
  }
}

async function checkTeam(tx: Queryable, ctx: ActorCtx, teamId: string) {
  const rows = isUuid(teamId) ? await tx.query('SELECT 1 FROM teams WHERE tenant_id = $1 AND id = $2', [ctx.tenant.id, teamId]) : [];
  if (!rows.length) throw new ValidationFailed('The teamId does not name a team of this tenant.', [{ field: 'teamId', message: 'unknown team' }]);
}

/** A line in the ticket's history; the system (a workflow, a deactivation) acts with `ctx.actor` null. */
export async function recordEvent(tx: Queryable, ctx: Ctx, ticketId: string, kind: string, data: Record<string, unknown>, internal = false) {
  const [{ id }] = (await tx.query<{ id: string }>('INSERT INTO ticket_events (tenant_id, ticket_id, actor_id, kind, internal, data) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id::text', [
    ctx.tenant.id,
    ticketId,
    ctx.actor?.userId ?? null,
    kind,
    internal,
    JSON.stringify(data),
  ])) as [{ id: string }];
  if (!internal) await publishTicketEvent(tx, ctx.tenant.id, ticketId, kind, id, data);
}

export interface TicketPatch {
  title?: string;
  description?: string;
  category?: string | null;
  impact?: number;
  urgency?: number;
  assigneeId?: string | null;
  teamId?: string | null;
}

/** Edits fields and assignment (staff). A priority change re-targets the SLA clocks from creation time. */
export async function updateTicket(ctx: ActorCtx, idOrRef: string, patch: TicketPatch): Promise<Ticket> {
  return ctx.db.transaction(async (tx) => {
    const t = await getTicket(ctx, idOrRef, tx, true);
    if (!ticketPolicy.canWork(ctx.actor, t)) throw new Forbidden('Only agents can edit tickets.');
    if (t.status === 'closed') throw new Conflict('A closed ticket cannot be changed.', 'ticket_closed');
    if (t.type === 'change' && (patch.title !== undefined || patch.description !== undefined)) await assertNotGovernedTicket(tx, ctx.tenant.id, t.id);
    if (patch.assigneeId) await checkPerson(tx, ctx, patch.assigneeId, 'assigneeId', true);
    if (patch.teamId) await checkTeam(tx, ctx, patch.teamId);
    const impact = patch.impact ?? t.impact;
    const urgency = patch.urgency ?? t.urgency;
    const priority = priorityOf(impact, urgency);
    const next = {
      title: patch.title?.trim() ?? t.title,
      description: patch.description ?? t.description,
      // A category is a name: stored in the form names are compared in (canonicalName).
      category: patch.category !== undefined ? (patch.category === null ? null : canonicalName(patch.category) || null) : t.category,
      assigneeId: patch.assigneeId !== undefined ? patch.assigneeId : (t.assignee?.id ?? null),
      teamId: patch.teamId !== undefined ? patch.teamId : (t.team?.id ?? null),
    };
    // A category edited by hand names the request category of that name, if there is one.
    await tx.query(
      `UPDATE tickets SET title = $3, description = $4, category = $5, assignee_id = $6, team_id = $7,
         impact = $8, urgency = $9, priority = $10, updated_at = now(),
         category_id = CASE WHEN category IS NOT DISTINCT FROM $5 THEN category_id
           ELSE (SELECT c.id FROM request_categories c WHERE c.tenant_id = $1 AND tickets.type = 'request' AND lower(c.name) = lower($5)) END
       WHERE tenant_id = $1 AND id = $2`,
      [ctx.tenant.id, t.id, next.title, next.description, next.category, next.assigneeId, next.teamId, impact, urgency, priority],
    );
    if (priority !== t.priority) {
      const targets = await slaTargets(tx, ctx.tenant.id, priority);
      await tx.query(
        `UPDATE tickets SET
           response_due_at = created_at + make_interval(mins => $3::int, secs => sla_paused_seconds),
           resolution_due_at = created_at + make_interval(mins => $4::int, secs => sla_paused_seconds)
         WHERE tenant_id = $1 AND id = $2`,
        [ctx.tenant.id, t.id, targets?.response_minutes ?? null, targets?.resolution_minutes ?? null],
      );
      await recordEvent(tx, ctx, t.id, 'priority_changed', { from: t.priority, to: priority });
    }
    const after = await getTicket(ctx, t.id, tx);
    // Names travel with the ids: the history must read well to people who cannot look users up.
    if (after.assignee?.id !== t.assignee?.id) {
      await recordEvent(tx, ctx, t.id, 'assigned', {
        from: t.assignee?.id ?? null,
        fromName: t.assignee?.displayName ?? null,
        to: after.assignee?.id ?? null,
        toName: after.assignee?.displayName ?? null,
      });
    }
    if (after.team?.id !== t.team?.id) {
      await recordEvent(tx, ctx, t.id, 'team_changed', { from: t.team?.id ?? null, fromName: t.team?.name ?? null, to: after.team?.id ?? null, toName: after.team?.name ?? null });
    }
    const edited = (['title', 'description', 'category'] as const).filter((k) => after[k] !== t[k]);
    if (edited.length) await recordEvent(tx, ctx, t.id, 'edited', { fields: edited });
    return after;
  });
}

/**
 * Moves a ticket along its lifecycle. Staff follow the type's machine; a requester may only reopen
 * their own resolved ticket. Approval statuses are set by approvals.ts alone. Resolving an incident
 * or fulfilling a request takes a resolution note, kept on the ticket (the requester sees it there)
 * and sent to them as a public reply (`reply`, else the note itself); reopening clears it (the
 * reply and the history keep it).
 * @throws ValidationFailed `resolution` missing when resolving, or given when not
 */
export async function changeStatus(ctx: ActorCtx, idOrRef: string, to: string, note: { resolution?: string; reply?: string } = {}): Promise<Ticket> {
  const resolves = RESOLUTION_STATUSES.has(to);
  const resolution = note.resolution?.trim() || null;
  if (resolves && !resolution) {
    throw new ValidationFailed('Say how it was resolved.', [{ field: 'resolution', message: 'is required to resolve: the note is kept on the ticket and sent to the requester' }]);
  }
  if (!resolves && (note.resolution !== undefined || note.reply !== undefined)) {
    throw new ValidationFailed('A resolution note goes with resolving only.', [{ field: note.resolution !== undefined ? 'resolution' : 'reply', message: `is not taken when moving to ${to}` }]);
  }
  return ctx.db.transaction(async (tx) => {
    const t = await getTicket(ctx, idOrRef, tx, true);
    const reopen = REOPEN[t.type];
    const isReopen = reopen?.from === t.status && reopen.to === to;
    if (!ticketPolicy.canWork(ctx.actor, t) && !(isReopen && ticketPolicy.canReopen(ctx.actor, t))) {
      throw new Forbidden('You cannot change the status of this ticket.');
    }
    if (!canTransition(t.type, t.status, to)) {
      throw new Conflict(`A ${t.type} cannot go from ${t.status} to ${to}.`, 'invalid_transition');
    }
    if (t.type === 'change' && to === 'implementing') await assertApproved(tx, ctx, t.id);
    await applyStatus(tx, ctx, t, to);
    if (resolution) {
      await tx.query('UPDATE tickets SET resolution = $3 WHERE tenant_id = $1 AND id = $2', [ctx.tenant.id, t.id, resolution]);
      await insertComment(tx, ctx, t, { body: note.reply?.trim() || resolution, visibility: 'public' });
    }
    return getTicket(ctx, t.id, tx);
  });
}

/**
 * Writes a status change with its SLA effects and history. Shared with approval decisions and with
 * the system (a manager who left: `ctx.actor` null, which never counts as a first response).
 */
export async function applyStatus(tx: Queryable, ctx: Ctx, t: Pick<Ticket, 'id' | 'type' | 'status'>, to: string): Promise<void> {
  const pausing = isPaused(t.type, to) && !isPaused(t.type, t.status);
  const resuming = !isPaused(t.type, to) && isPaused(t.type, t.status);
  const resolving = RESOLVED_STATUSES.has(to) && !RESOLVED_STATUSES.has(t.status);
  const reopening = !RESOLVED_STATUSES.has(to) && RESOLVED_STATUSES.has(t.status);
  await tx.query(
    `UPDATE tickets SET status = $3, updated_at = now(),
       sla_paused_at = CASE WHEN $4 THEN now() WHEN $5 THEN NULL ELSE sla_paused_at END,
       sla_paused_seconds = sla_paused_seconds + CASE WHEN $5 THEN floor(extract(epoch FROM now() - sla_paused_at))::int ELSE 0 END,
       response_due_at = CASE WHEN $5 THEN response_due_at + (now() - sla_paused_at) ELSE response_due_at END,
       resolution_due_at = CASE WHEN $5 THEN resolution_due_at + (now() - sla_paused_at) ELSE resolution_due_at END,
       resolved_at = CASE WHEN $6 THEN now() WHEN $7 THEN NULL ELSE resolved_at END,
       resolution = CASE WHEN $7 THEN NULL ELSE resolution END,
       closed_at = CASE WHEN $3 = 'closed' THEN now() ELSE closed_at END,
       first_response_at = CASE WHEN $8 THEN coalesce(first_response_at, now()) ELSE first_response_at END
     WHERE tenant_id = $1 AND id = $2`,
    [ctx.tenant.id, t.id, to, pausing, resuming, resolving, reopening, ctx.actor !== null && ticketPolicy.canWork(ctx.actor, t)],
  );
  await recordEvent(tx, ctx, t.id, 'status_changed', { from: t.status, to });
}

async function assertApproved(tx: Queryable, ctx: ActorCtx, ticketId: string) {
  const rows = await tx.query<{ decision: string }>(
    'SELECT decision FROM change_approvals WHERE tenant_id = $1 AND ticket_id = $2 ORDER BY decided_at DESC LIMIT 1',
    [ctx.tenant.id, ticketId],
  );
  if (rows[0]?.decision !== 'approved') throw new Conflict('The change has not been approved.', 'not_approved');
}

export interface Comment {
  id: string;
  body: string;
  visibility: 'public' | 'internal';
  author: PersonRef;
  createdAt: Date;
}

export async function addComment(ctx: ActorCtx, idOrRef: string, input: { body: string; visibility: 'public' | 'internal' }): Promise<Comment> {
  return ctx.db.transaction(async (tx) => {
    const t = await getTicket(ctx, idOrRef, tx, true);
    if (input.visibility === 'internal' && !ticketPolicy.canSeeInternal(ctx.actor)) throw new Forbidden('Only staff can add work notes.');
    if (t.status === 'closed') throw new Conflict('A closed ticket takes no more comments.', 'ticket_closed');
    if (!input.body.trim()) throw new BadRequest('A comment cannot be empty.');
    const id = await insertComment(tx, ctx, t, input);
    return (await listComments(ctx, t.id, tx)).find((c) => c.id === id)!;
  });
}

/** A comment, the first-response clock it may stop, and its history entry. Returns its id. */
async function insertComment(tx: Queryable, ctx: ActorCtx, t: Ticket, input: { body: string; visibility: 'public' | 'internal' }): Promise<string> {
  const [{ id }] = (await tx.query<{ id: string }>(
    'INSERT INTO ticket_comments (tenant_id, ticket_id, author_id, visibility, body) VALUES ($1, $2, $3, $4, $5) RETURNING id',
    [ctx.tenant.id, t.id, ctx.actor.userId, input.visibility, input.body],
  )) as [{ id: string }];
  // A public reply from staff is the first response the SLA waits for.
  const responds = input.visibility === 'public' && ticketPolicy.canWork(ctx.actor, t) && t.requester.id !== ctx.actor.userId;
  await tx.query(
    `UPDATE tickets SET updated_at = now(), first_response_at = CASE WHEN $3 THEN coalesce(first_response_at, now()) ELSE first_response_at END
     WHERE tenant_id = $1 AND id = $2`,
    [ctx.tenant.id, t.id, responds],
  );
  await recordEvent(tx, ctx, t.id, input.visibility === 'internal' ? 'work_note' : 'comment', { commentId: id }, input.visibility === 'internal');
  return id;
}

export async function listComments(ctx: ActorCtx, idOrRef: string, q: Queryable = ctx.db): Promise<Comment[]> {
  const t = await getTicket(ctx, idOrRef, q);
  const internal = ticketPolicy.canSeeInternal(ctx.actor);
  return q.query<Comment>(
    `SELECT c.id, c.body, c.visibility, c.created_at AS "createdAt",
            json_build_object('id', u.id, 'displayName', u.display_name, 'email', u.email) AS author
     FROM ticket_comments c JOIN users u ON u.tenant_id = c.tenant_id AND u.id = c.author_id
     WHERE c.tenant_id = $1 AND c.ticket_id = $2 AND ($3 OR c.visibility = 'public')
     ORDER BY c.created_at, c.id`,
    [ctx.tenant.id, t.id, internal],
  );
}

export interface TicketEvent {
  id: number;
  kind: string;
  data: Record<string, unknown>;
  actor: { id: string; displayName: string } | null;
  createdAt: Date;
}

export async function listEvents(ctx: ActorCtx, idOrRef: string): Promise<TicketEvent[]> {
  const t = await getTicket(ctx, idOrRef);
  return ctx.db.query<TicketEvent>(
    `SELECT e.id, e.kind, e.data, e.created_at AS "createdAt",
            CASE WHEN u.id IS NULL THEN NULL ELSE json_build_object('id', u.id, 'displayName', u.display_name) END AS actor
     FROM ticket_events e LEFT JOIN users u ON u.tenant_id = e.tenant_id AND u.id = e.actor_id
     WHERE e.tenant_id = $1 AND e.ticket_id = $2 AND ($3 OR NOT e.internal)
     ORDER BY e.id`,
    [ctx.tenant.id, t.id, ticketPolicy.canSeeInternal(ctx.actor)],
  );
}

/** The statuses the actor may move this ticket to now: what the UI offers. */
export function allowedTransitions(ctx: ActorCtx, t: Ticket): string[] {
  const next = (LIFECYCLE[t.type].transitions as Record<string, readonly string[]>)[t.status] ?? [];
  if (ticketPolicy.canWork(ctx.actor, t)) return [...next];
  const reopen = REOPEN[t.type];
  return reopen && reopen.from === t.status && ticketPolicy.canReopen(ctx.actor, t) ? [reopen.to] : [];
}
