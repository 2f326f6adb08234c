import type { Tenant } from '../context.js';
import type { Db, Queryable } from '../db/db.js';
import { isUniqueViolation } from '../db/db.js';
import { Conflict, ValidationFailed } from '../http/errors.js';
import { createUser } from '../identity/users.js';
import { randomToken } from '../identity/secrets.js';
import { audit } from '../audit/audit.js';
import { DEFAULT_SLA_TARGETS } from '../itsm/sla.js';

export const SLUG_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;
/** Path segments the app uses itself; a tenant cannot take them. */
const RESERVED_SLUGS = new Set(['api', 'docs', 'login', 'assets', 'static', 'admin', 'healthz', 'readyz', 'metrics', 't']);

export async function findTenantBySlug(q: Queryable, slug: string): Promise<Tenant | null> {
  if (!SLUG_PATTERN.test(slug)) return null;
  const rows = await q.query<Tenant>('SELECT id, slug, name FROM tenants WHERE slug = $1', [slug]);
  return rows[0] ?? null;
}

export async function findTenantById(q: Queryable, id: string): Promise<Tenant | null> {
  const rows = await q.query<Tenant>('SELECT id, slug, name FROM tenants WHERE id = $1', [id]);
  return rows[0] ?? null;
}

export interface CreatedTenant {
  tenant: Tenant;
  admin: { id: string; email: string; oneTimePassword: string };
}

/** Creates a tenant with its default SLA policies and a first administrator holding a one-time password. */
export async function createTenant(
  db: Db,
  input: { slug: string; name: string; adminEmail: string; adminName?: string; adminPassword?: string },
): Promise<CreatedTenant> {
  const slug = input.slug.toLowerCase();
  if (!SLUG_PATTERN.test(slug) || RESERVED_SLUGS.has(slug)) {
    throw new ValidationFailed('The tenant slug is not allowed.', [
      { field: 'slug', message: 'use 1-40 lowercase letters, digits or inner hyphens, and not a reserved word' },
    ]);
  }
  const password = input.adminPassword ?? randomToken(15);
  return db.transaction(async (tx) => {
    let tenant: Tenant;
    try {
      [tenant] = (await tx.query<Tenant>('INSERT INTO tenants (slug, name) VALUES ($1, $2) RETURNING id, slug, name', [
        slug,
        input.name,
      ])) as [Tenant];
    } catch (err) {
      if (isUniqueViolation(err)) throw new Conflict(`A tenant with slug "${slug}" already exists.`, 'tenant_exists');
      throw err;
    }
    for (const [priority, t] of Object.entries(DEFAULT_SLA_TARGETS)) {
      await tx.query('INSERT INTO sla_policies (tenant_id, priority, response_minutes, resolution_minutes) VALUES ($1, $2, $3, $4)', [
        tenant.id,
        Number(priority),
        t.responseMinutes,
        t.resolutionMinutes,
      ]);
    }
    const ctx = { db, tenant, actor: null };
    const admin = await createUser(ctx, tx, {
      email: input.adminEmail,
      displayName: input.adminName ?? 'Administrator',
      password,
      roles: ['requester', 'admin'],
      breakGlass: true,
      grantOrigin: 'system',
    });
    await audit(ctx, tx, { action: 'tenant.created', targetType: 'tenant', targetId: tenant.id, details: { slug } });
    return { tenant, admin: { id: admin.id, email: admin.email, oneTimePassword: password } };
  });
}
