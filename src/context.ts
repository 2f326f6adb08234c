import type { Db } from './db/db.js';
import type { Role } from './identity/roles.js';

export interface Tenant {
  id: string;
  slug: string;
  name: string;
}

/** Who is acting. `null` actor on a Ctx means the system itself (CLI, seeding, background jobs). */
export interface Actor {
  userId: string;
  email: string;
  displayName: string;
  roles: ReadonlySet<Role>;
}

/** What every domain function receives instead of a request: the tenant, the actor, the database. */
export interface Ctx {
  db: Db;
  tenant: Tenant;
  actor: Actor | null;
  ip?: string;
  /** Names a machine actor in the audit log when there is no user, e.g. `scim:Entra token`. */
  actorLabel?: string;
}

/** A Ctx whose actor is known: what signed-in routes hand to domain code. */
export interface ActorCtx extends Ctx {
  actor: Actor;
}
