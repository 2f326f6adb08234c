export const TICKET_TYPES = ['incident', 'request', 'change'] as const;
export type TicketType = (typeof TICKET_TYPES)[number];

export const NUMBER_PREFIX: Record<TicketType, string> = { incident: 'INC', request: 'REQ', change: 'CHG' };

/**
 * Status machines per type. `approved` and `rejected` are reached only through an approval
 * decision (see approvals.ts), never through a plain status change. A request enters
 * `awaiting_approval` only when raised in a category that needs the requester's manager's approval
 * (see categories.ts), and leaves it only by that decision (approved, or closed when rejected) or
 * when the manager leaves (back to submitted, see reassign.ts).
 */
export const LIFECYCLE = {
  incident: {
    initial: 'new',
    transitions: {
      new: ['in_progress', 'on_hold', 'resolved'],
      in_progress: ['on_hold', 'resolved'],
      on_hold: ['in_progress', 'resolved'],
      resolved: ['closed', 'in_progress'],
      closed: [],
    },
  },
  request: {
    initial: 'submitted',
    transitions: {
      submitted: ['in_fulfilment', 'on_hold', 'fulfilled'],
      awaiting_approval: [],
      approved: ['in_fulfilment', 'on_hold', 'fulfilled'],
      in_fulfilment: ['on_hold', 'fulfilled'],
      on_hold: ['in_fulfilment', 'fulfilled'],
      fulfilled: ['closed', 'in_fulfilment'],
      closed: [],
    },
  },
  change: {
    initial: 'draft',
    transitions: {
      draft: ['assessment'],
      assessment: ['draft', 'awaiting_approval'],
      awaiting_approval: ['assessment'],
      approved: ['implementing'],
      rejected: ['draft', 'closed'],
      implementing: ['review'],
      review: ['closed'],
      closed: [],
    },
  },
} as const satisfies Record<TicketType, { initial: string; transitions: Record<string, readonly string[]> }>;

export const DECISION_STATUSES = ['approved', 'rejected'] as const;

export function statusesOf(type: TicketType): string[] {
  return Object.keys(LIFECYCLE[type].transitions);
}

export function allStatuses(): string[] {
  return [...new Set(TICKET_TYPES.flatMap(statusesOf))];
}

export function canTransition(type: TicketType, from: string, to: string): boolean {
  const next = (LIFECYCLE[type].transitions as Record<string, readonly string[]>)[from];
  return next?.includes(to) ?? false;
}

/** Statuses in which the SLA clock stands still. */
export const PAUSED_STATUSES: ReadonlySet<string> = new Set(['on_hold']);
/**
 * Whether a ticket's SLA clock stands still in a status: on hold, and a request waiting for its
 * requester's manager (the desk cannot act on it yet). A change awaiting approval keeps running.
 */
export function isPaused(type: TicketType, status: string): boolean {
  return PAUSED_STATUSES.has(status) || (type === 'request' && status === 'awaiting_approval');
}
/** Statuses that count as resolved for the resolution clock. */
export const RESOLVED_STATUSES: ReadonlySet<string> = new Set(['resolved', 'fulfilled', 'closed']);
/** Reaching these takes a resolution note: how the incident was resolved, the request fulfilled. */
export const RESOLUTION_STATUSES: ReadonlySet<string> = new Set(['resolved', 'fulfilled']);
/** A requester may reopen their own ticket from these, back to the given status. */
export const REOPEN: Partial<Record<TicketType, { from: string; to: string }>> = {
  incident: { from: 'resolved', to: 'in_progress' },
  request: { from: 'fulfilled', to: 'in_fulfilment' },
};

export function formatNumber(type: TicketType, n: number): string {
  return NUMBER_PREFIX[type] + String(n).padStart(6, '0');
}

export function parseNumber(ref: string): { type: TicketType; number: number } | null {
  const m = /^(INC|REQ|CHG)(\d{1,9})$/i.exec(ref.trim());
  if (!m) return null;
  const type = (Object.keys(NUMBER_PREFIX) as TicketType[]).find((t) => NUMBER_PREFIX[t] === m[1]!.toUpperCase())!;
  return { type, number: Number(m[2]) };
}
