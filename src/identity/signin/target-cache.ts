import type { Tenant } from '../../context.js';
import type { Db } from '../../db/db.js';
import { findTenantBySlug } from '../../tenancy/tenants.js';
import { findConnection, type Connection } from '../connections.js';

/**
 * The tenant and connection a sign-in URL names (/t/{tenant}/{protocol}/{conn}/…), kept in memory
 * for TTL_MS so that a sign-in does not spend two round trips finding them. A copy may be stale:
 * the sign-in's own transaction checks the connection's version (migration 019) and starts again
 * with the stored one when it moved, so a change made on any node holds for every sign-in from
 * its commit on; what may lag by TTL_MS is only what the public pages show (a display name).
 */
const TTL_MS = 30_000;
/** Entries per database; only URLs that exist are kept, so this bounds memory against nothing an attacker sends. */
const MAX_ENTRIES = 10_000;

interface Entry {
  tenant: Tenant;
  conn: Connection;
  at: number;
}

const cacheByDb = new WeakMap<Db, Map<string, Entry>>();

/**
 * The tenant and connection of a sign-in URL, from memory when a copy younger than TTL_MS is
 * there (unless `fresh`), else from the database (and then kept).
 * @returns null when either does not exist
 */
export async function findSigninTarget(db: Db, tenantSlug: string, connSlug: string, opts: { fresh?: boolean } = {}): Promise<{ tenant: Tenant; conn: Connection } | null> {
  let cache = cacheByDb.get(db);
  if (!cache) cacheByDb.set(db, (cache = new Map()));
  const key = `${tenantSlug}/${connSlug}`;
  const hit = cache.get(key);
  if (hit && !opts.fresh && Date.now() - hit.at < TTL_MS) return { tenant: hit.tenant, conn: hit.conn };
  cache.delete(key);
  const tenant = await findTenantBySlug(db, tenantSlug);
  const conn = tenant ? await findConnection(db, tenant.id, connSlug) : null;
  if (!tenant || !conn) return null;
  if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value!);
  cache.set(key, { tenant, conn, at: Date.now() });
  return { tenant, conn };
}
