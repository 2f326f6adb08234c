import type { Config } from '../config.js';
import { openDatabase, type Db } from '../db/db.js';
import { migrate } from '../db/migrate.js';
import type { Ctx } from '../context.js';
import { findTenantBySlug } from '../tenancy/tenants.js';

/** A mistake in how the command was called: printed with the usage, exit code 2. */
export class UsageError extends Error {}

/**
 * Opens the configured database, brings it up to date (unless `migrateFirst` is false: the
 * `migrate` command does that itself, to say what it applied), runs `fn`, closes it.
 */
export async function withDb<T>(config: Config, fn: (db: Db) => Promise<T>, migrateFirst = true): Promise<T> {
  const db = await openDatabase(config);
  try {
    if (migrateFirst) await migrate(db);
    return await fn(db);
  } finally {
    await db.close();
  }
}

/** Like withDb, with the tenant `slug` as a system context (the audit log names the actor `cli`). */
export async function withTenant<T>(config: Config, slug: string, fn: (ctx: Ctx) => Promise<T>): Promise<T> {
  return withDb(config, async (db) => {
    const tenant = await findTenantBySlug(db, slug);
    if (!tenant) throw new UsageError(`No tenant "${slug}".`);
    return fn({ db, tenant, actor: null, actorLabel: 'cli' });
  });
}

/** Prints `data` as JSON with --json, else the human text. */
export function print(json: boolean, data: unknown, text: string) {
  process.stdout.write((json ? JSON.stringify(data, null, 2) : text) + '\n');
}
