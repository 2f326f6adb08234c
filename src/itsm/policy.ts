import type { Actor } from '../context.js';
import { isStaff } from '../identity/roles.js';
import type { TicketType } from './lifecycle.js';

/**
 * Who may do what with tickets. Small predicates, one per act, so every route and query asks the
 * same question the same way.
 */
export const ticketPolicy = {
  /** Staff see every ticket; anyone else sees the tickets they requested. */
  canView: (actor: Actor, t: { requester: { id: string } }) => isStaff(actor.roles) || t.requester.id === actor.userId,
  /** Agents and admins work any ticket; change managers also work changes. */
  canWork: (actor: Actor, t: { type: TicketType }) =>
    actor.roles.has('agent') || actor.roles.has('admin') || (t.type === 'change' && actor.roles.has('change_manager')),
  canSeeInternal: (actor: Actor) => isStaff(actor.roles),
  /** Raising a ticket on someone else's behalf, or setting assignment at creation, is for staff. */
  canRaiseFor: (actor: Actor) => actor.roles.has('agent') || actor.roles.has('admin'),
  /** Changes are raised by staff; incidents and requests by anyone signed in. */
  canRaise: (actor: Actor, type: TicketType) =>
    type === 'change' ? actor.roles.has('agent') || actor.roles.has('change_manager') || actor.roles.has('admin') : actor.roles.size > 0,
  /** Change managers decide, but never on a change they raised themselves (separation of duties). */
  canApprove: (actor: Actor, t: { type: TicketType; requester: { id: string } }) =>
    t.type === 'change' && actor.roles.has('change_manager') && t.requester.id !== actor.userId,
  canReopen: (actor: Actor, t: { requester: { id: string } }) => t.requester.id === actor.userId,
};
