import { randomBytes } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import type { Ctx, Tenant } from '../context.js';
import type { Queryable } from '../db/db.js';
import { isUniqueViolation } from '../db/db.js';
import { audit } from '../audit/audit.js';
import { Conflict, NotFound, ValidationFailed } from '../http/errors.js';

export interface Domain {
  domain: string;
  verified: boolean;
  verifiedAt: Date | null;
  txtRecordName: string;
  txtRecordValue: string;
}

const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
export const TXT_PREFIX = '_keydesk-verification';

/** Looks up TXT records. Tests point it at their own DNS server (KEYDESK_DNS_SERVERS). */
export type TxtLookup = (name: string) => Promise<string[]>;

export function dnsTxtLookup(servers?: string[]): TxtLookup {
  const resolver = new Resolver({ timeout: 3000, tries: 2 });
  if (servers?.length) resolver.setServers(servers);
  return async (name) => {
    try {
      return (await resolver.resolveTxt(name)).map((chunks) => chunks.join(''));
    } catch {
      return [];
    }
  };
}

function present(row: { domain: string; verification_token: string; verified_at: Date | null }): Domain {
  return {
    domain: row.domain,
    verified: row.verified_at !== null,
    verifiedAt: row.verified_at,
    txtRecordName: `${TXT_PREFIX}.${row.domain}`,
    txtRecordValue: `keydesk-verification=${row.verification_token}`,
  };
}

export async function listDomains(ctx: Ctx): Promise<Domain[]> {
  const rows = await ctx.db.query<{ domain: string; verification_token: string; verified_at: Date | null }>(
    'SELECT domain, verification_token, verified_at FROM tenant_domains WHERE tenant_id = $1 ORDER BY domain',
    [ctx.tenant.id],
  );
  return rows.map(present);
}

export async function addDomain(ctx: Ctx, domainInput: string): Promise<Domain> {
  const domain = domainInput.trim().toLowerCase().replace(/\.$/, '');
  if (!DOMAIN.test(domain)) throw new ValidationFailed('That is not a domain name.', [{ field: 'domain', message: 'use a domain such as contoso.com' }]);
  return ctx.db.transaction(async (tx) => {
    const token = randomBytes(16).toString('hex');
    try {
      await tx.query('INSERT INTO tenant_domains (tenant_id, domain, verification_token) VALUES ($1, $2, $3)', [ctx.tenant.id, domain, token]);
    } catch (err) {
      if (isUniqueViolation(err)) throw new Conflict(`${domain} is already added.`, 'domain_exists');
      throw err;
    }
    await audit(ctx, tx, { action: 'sso.domain_added', targetType: 'domain', targetId: domain });
    return present({ domain, verification_token: token, verified_at: null });
  });
}

/**
 * Proves the tenant controls the domain: the TXT record must carry its token. A domain routes
 * sign-ins to one tenant only, so a domain verified elsewhere cannot be verified again.
 */
export async function verifyDomain(ctx: Ctx, domain: string, lookup: TxtLookup): Promise<Domain> {
  const rows = await ctx.db.query<{ domain: string; verification_token: string; verified_at: Date | null }>(
    'SELECT domain, verification_token, verified_at FROM tenant_domains WHERE tenant_id = $1 AND domain = $2',
    [ctx.tenant.id, domain.toLowerCase()],
  );
  const row = rows[0];
  if (!row) throw new NotFound('Domain');
  if (row.verified_at) return present(row);
  const expected = present(row);
  const found = await lookup(expected.txtRecordName);
  if (!found.includes(expected.txtRecordValue)) {
    throw new ValidationFailed(
      found.length
        ? `The TXT record ${expected.txtRecordName} holds ${found.map((v) => `"${v}"`).join(', ')}, not "${expected.txtRecordValue}".`
        : `No TXT record found at ${expected.txtRecordName} yet. DNS changes can take a few minutes to appear.`,
      [{ field: 'domain', message: 'TXT record not found' }],
    );
  }
  return ctx.db.transaction(async (tx) => {
    try {
      await tx.query('UPDATE tenant_domains SET verified_at = now() WHERE tenant_id = $1 AND domain = $2', [ctx.tenant.id, row.domain]);
    } catch (err) {
      if (isUniqueViolation(err)) throw new Conflict(`${row.domain} is verified by another Keydesk workspace.`, 'domain_taken');
      throw err;
    }
    await audit(ctx, tx, { action: 'sso.domain_verified', targetType: 'domain', targetId: row.domain });
    return present({ ...row, verified_at: new Date() });
  });
}

export async function deleteDomain(ctx: Ctx, domain: string): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    const rows = await tx.query('DELETE FROM tenant_domains WHERE tenant_id = $1 AND domain = $2 RETURNING domain', [ctx.tenant.id, domain.toLowerCase()]);
    if (!rows.length) throw new NotFound('Domain');
    await audit(ctx, tx, { action: 'sso.domain_removed', targetType: 'domain', targetId: domain.toLowerCase() });
  });
}

/** Home realm discovery: the tenant whose verified domain matches the email's. */
export async function tenantForEmail(q: Queryable, email: string): Promise<Tenant | null> {
  const domain = email.trim().toLowerCase().split('@')[1];
  if (!domain || !DOMAIN.test(domain)) return null;
  const rows = await q.query<Tenant>(
    `SELECT t.id, t.slug, t.name FROM tenant_domains d JOIN tenants t ON t.id = d.tenant_id WHERE d.domain = $1 AND d.verified_at IS NOT NULL`,
    [domain],
  );
  return rows[0] ?? null;
}
