import type { Actor } from '../context.js';
import { isStaff } from '../identity/roles.js';
import type { TicketType } from './lifecycle.js';

/**
 * Who may do what with tickets. Small predicates, one per act, so every route and query asks the
 * same question the same way.
 */
export const ticketPolicy = {
  /**
   * Staff see every ticket; anyone else sees the tickets they requested and those they are asked
   * to approve as the requester's manager (tickets.ts lists by the same rule).
   */
  canView: (actor: Actor, t: { requester: { id: string }; approver: { id: string } | null }) =>
    isStaff(actor.roles) || t.requester.id === actor.userId || t.approver?.id === actor.userId,
  /** Agents and admins work any ticket; change managers also work changes. */
  canWork: (actor: Actor, t: { type: TicketType }) =>
    actor.roles.has('agent') || actor.roles.has('admin') || (t.type === 'change' && actor.roles.has('change_manager')),
  canSeeInternal: (actor: Actor) => isStaff(actor.roles),
  /** Raising a ticket on someone else's behalf, or setting assignment at creation, is for staff. */
  canRaiseFor: (actor: Actor) => actor.roles.has('agent') || actor.roles.has('admin'),
  /** Changes are raised by staff; incidents and requests by anyone signed in. */
  canRaise: (actor: Actor, type: TicketType) =>
    type === 'change' ? actor.roles.has('agent') || actor.roles.has('change_manager') || actor.roles.has('admin') : actor.roles.size > 0,
  /**
   * Change managers decide on changes, never on one they raised themselves (separation of duties).
   * A request in a category that needs it is decided by the requester's manager it was sent to,
   * and by nobody else: not the requester, not an administrator (see docs/decisions.md).
   */
  canApprove: (actor: Actor, t: { type: TicketType; requester: { id: string }; approver: { id: string } | null }) =>
    t.requester.id !== actor.userId &&
    (t.type === 'change' ? actor.roles.has('change_manager') : t.type === 'request' && t.approver?.id === actor.userId),
  canReopen: (actor: Actor, t: { requester: { id: string } }) => t.requester.id === actor.userId,
};
