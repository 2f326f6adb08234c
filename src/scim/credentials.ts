import type { Ctx, Tenant } from '../context.js';
import type { Queryable } from '../db/db.js';
import { audit } from '../audit/audit.js';
import { Conflict, NotFound, ValidationFailed } from '../http/errors.js';
import { hashToken, randomToken, safeEqual } from '../identity/secrets.js';
import { isUuid } from '../identity/users.js';
import { SLUG_PATTERN } from '../tenancy/tenants.js';

/**
 * What an identity provider's provisioning service authenticates with: a secret token (Entra's
 * "Secret Token" field) or an OAuth client (client credentials, which Entra's gallery asks for).
 * At most two of each kind, so one can replace the other without downtime; secrets are shown once
 * and stored hashed; each can be set inactive, renewed (new secret, same slot) or removed.
 */
export type CredentialKind = 'token' | 'client';

export interface ScimCredential {
  id: string;
  kind: CredentialKind;
  name: string;
  clientId: string | null;
  /** The secret's last four characters, so an admin can tell which one Entra holds. */
  hint: string;
  state: 'active' | 'inactive' | 'expired';
  createdAt: Date;
  createdBy: string;
  renewedAt: Date | null;
  lastUsedAt: Date | null;
  expiresAt: Date | null;
}

export const MAX_PER_KIND = 2;
export const DEFAULT_LIFETIME_DAYS = 365;
export const ACCESS_TOKEN_SECONDS = 3600;

const PREFIX: Record<CredentialKind, string> = { token: 'kdscim_', client: 'kdcs_' };
const ACCESS_PREFIX = 'kdsat_';

const COLUMNS = `id, kind, name, client_id AS "clientId", secret_hint AS hint,
  CASE WHEN expires_at IS NOT NULL AND expires_at <= now() THEN 'expired' WHEN active THEN 'active' ELSE 'inactive' END AS state,
  created_at AS "createdAt", created_by AS "createdBy", renewed_at AS "renewedAt", last_used_at AS "lastUsedAt", expires_at AS "expiresAt"`;

function lifetime(days: number | undefined): number {
  const d = days ?? DEFAULT_LIFETIME_DAYS;
  if (!Number.isInteger(d) || d < 1 || d > 730) throw new ValidationFailed('The lifetime is invalid.', [{ field: 'expiresInDays', message: 'use 1 to 730 days' }]);
  return d;
}

function newSecret(kind: CredentialKind): { plain: string; hash: string; hint: string } {
  const plain = PREFIX[kind] + randomToken();
  return { plain, hash: hashToken(plain), hint: plain.slice(-4) };
}

export async function listCredentials(ctx: Ctx): Promise<ScimCredential[]> {
  return ctx.db.query<ScimCredential>(`SELECT ${COLUMNS} FROM scim_credentials WHERE tenant_id = $1 ORDER BY kind DESC, created_at, id`, [ctx.tenant.id]);
}

export async function createCredential(
  ctx: Ctx,
  input: { kind: CredentialKind; name?: string; expiresInDays?: number },
): Promise<{ credential: ScimCredential; secret: string }> {
  const days = lifetime(input.expiresInDays);
  const secret = newSecret(input.kind);
  const name = (input.name ?? '').trim() || (input.kind === 'token' ? 'Secret token' : 'OAuth client');
  if (name.length > 100) throw new ValidationFailed('The name is too long.', [{ field: 'name', message: 'use at most 100 characters' }]);
  return ctx.db.transaction(async (tx) => {
    // The tenant row is the lock that makes "at most two" hold under concurrent requests.
    await tx.query('SELECT id FROM tenants WHERE id = $1 FOR UPDATE', [ctx.tenant.id]);
    const n = (await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM scim_credentials WHERE tenant_id = $1 AND kind = $2', [ctx.tenant.id, input.kind]))[0]!.n;
    if (n >= MAX_PER_KIND) {
      throw new Conflict(`A tenant has at most ${MAX_PER_KIND} ${input.kind === 'token' ? 'secret tokens' : 'OAuth clients'}. Remove one first (or renew it).`, 'credential_limit');
    }
    const clientId = input.kind === 'client' ? `kdc_${randomToken(12)}` : null;
    const [credential] = (await tx.query<ScimCredential>(
      `INSERT INTO scim_credentials (tenant_id, kind, name, client_id, secret_hash, secret_hint, created_by, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(days => $8::int)) RETURNING ${COLUMNS}`,
      [ctx.tenant.id, input.kind, name, clientId, secret.hash, secret.hint, ctx.actor?.email ?? ctx.actorLabel ?? 'system', days],
    )) as [ScimCredential];
    await audit(ctx, tx, { action: 'scim.credential_created', targetType: 'scim_credential', targetId: credential.id, details: { kind: input.kind, name, clientId, expiresInDays: days } });
    return { credential, secret: secret.plain };
  });
}

export async function setCredentialActive(ctx: Ctx, id: string, active: boolean): Promise<ScimCredential> {
  return ctx.db.transaction(async (tx) => {
    const credential = await change(ctx, tx, id, 'active = $3', [active]);
    // An inactive client's access tokens stop with it (they are checked against it on every call).
    await audit(ctx, tx, { action: active ? 'scim.credential_activated' : 'scim.credential_deactivated', targetType: 'scim_credential', targetId: id, details: { name: credential.name } });
    return credential;
  });
}

/** A new secret in the same slot: the old one stops working now, and issued access tokens with it. */
export async function renewCredential(ctx: Ctx, id: string, expiresInDays?: number): Promise<{ credential: ScimCredential; secret: string }> {
  const days = lifetime(expiresInDays);
  return ctx.db.transaction(async (tx) => {
    const kind = await kindOf(ctx, tx, id);
    const secret = newSecret(kind);
    const credential = await change(ctx, tx, id, `secret_hash = $3, secret_hint = $4, renewed_at = now(), expires_at = now() + make_interval(days => $5::int)`, [secret.hash, secret.hint, days]);
    await tx.query('DELETE FROM scim_access_tokens WHERE tenant_id = $1 AND credential_id = $2', [ctx.tenant.id, id]);
    await audit(ctx, tx, { action: 'scim.credential_renewed', targetType: 'scim_credential', targetId: id, details: { name: credential.name, expiresInDays: days } });
    return { credential, secret: secret.plain };
  });
}

export async function removeCredential(ctx: Ctx, id: string): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    if (!isUuid(id)) throw new NotFound('Credential');
    const rows = await tx.query<{ name: string; kind: string }>('DELETE FROM scim_credentials WHERE tenant_id = $1 AND id = $2 RETURNING name, kind', [ctx.tenant.id, id]);
    if (!rows[0]) throw new NotFound('Credential');
    await audit(ctx, tx, { action: 'scim.credential_removed', targetType: 'scim_credential', targetId: id, details: { name: rows[0].name, kind: rows[0].kind } });
  });
}

async function kindOf(ctx: Ctx, tx: Queryable, id: string): Promise<CredentialKind> {
  if (!isUuid(id)) throw new NotFound('Credential');
  const rows = await tx.query<{ kind: CredentialKind }>('SELECT kind FROM scim_credentials WHERE tenant_id = $1 AND id = $2 FOR UPDATE', [ctx.tenant.id, id]);
  if (!rows[0]) throw new NotFound('Credential');
  return rows[0].kind;
}

async function change(ctx: Ctx, tx: Queryable, id: string, set: string, params: unknown[]): Promise<ScimCredential> {
  if (!isUuid(id)) throw new NotFound('Credential');
  const rows = await tx.query<ScimCredential>(`UPDATE scim_credentials SET ${set} WHERE tenant_id = $1 AND id = $2 RETURNING ${COLUMNS}`, [ctx.tenant.id, id, ...params]);
  if (!rows[0]) throw new NotFound('Credential');
  return rows[0];
}

export interface Caller {
  credentialId: string;
  name: string;
}

const USABLE = `c.active AND (c.expires_at IS NULL OR c.expires_at > now())`;

/**
 * The tenant a SCIM URL names, and the credential behind its bearer token: a secret token, or an
 * access token issued to a client that is still active (RFC 7644 §2). Lookup is by hash within the
 * tenant named in the URL, so a token of one tenant opens nothing of another. Last use is stamped
 * at most once a minute.
 * @returns `tenant` null when there is no such tenant; `caller` null when the token (if any) is not valid there
 */
export async function authenticateScimBearer(q: Queryable, tenantSlug: string, bearer: string | null): Promise<{ tenant: Tenant | null; caller: Caller | null }> {
  // The tenant and the credential in one statement: a SCIM request's fixed cost is what Entra pays
  // on every one of thousands of provisioning calls.
  const kind = bearer === null || bearer.length > 200 ? null : bearer.startsWith(PREFIX.token) ? 'token' : bearer.startsWith(ACCESS_PREFIX) ? 'access' : null;
  const credential =
    kind === 'token'
      ? `SELECT c.id, c.name, c.last_used_at FROM scim_credentials c WHERE c.tenant_id = t.id AND c.secret_hash = $2 AND c.kind = 'token' AND ${USABLE}`
      : kind === 'access'
        ? `SELECT c.id, c.name, c.last_used_at FROM scim_access_tokens a JOIN scim_credentials c ON c.tenant_id = a.tenant_id AND c.id = a.credential_id
           WHERE a.tenant_id = t.id AND a.token_hash = $2 AND a.expires_at > now() AND ${USABLE}`
        : 'SELECT NULL::uuid AS id, NULL::text AS name, NULL::timestamptz AS last_used_at WHERE $2::text IS NOT NULL AND false';
  if (!SLUG_PATTERN.test(tenantSlug)) return { tenant: null, caller: null };
  const [row] = await q.query<{ tenant_id: string; slug: string; tenant_name: string; id: string | null; name: string | null; stale: boolean }>(
    `SELECT t.id AS tenant_id, t.slug, t.name AS tenant_name, c.id, c.name, (c.last_used_at IS NULL OR c.last_used_at < now() - interval '1 minute') AS stale
     FROM tenants t LEFT JOIN LATERAL (${credential}) c ON true WHERE t.slug = $1`,
    [tenantSlug, kind ? hashToken(bearer!) : null],
  );
  if (!row) return { tenant: null, caller: null };
  const tenant: Tenant = { id: row.tenant_id, slug: row.slug, name: row.tenant_name };
  if (!row.id) return { tenant, caller: null };
  if (row.stale) await q.query('UPDATE scim_credentials SET last_used_at = now() WHERE tenant_id = $1 AND id = $2', [tenant.id, row.id]);
  return { tenant, caller: { credentialId: row.id, name: row.name! } };
}

/** OAuth 2.0 client credentials grant: an access token for an active client whose secret matches. */
export async function issueAccessToken(q: Queryable, tenantId: string, clientId: string, clientSecret: string): Promise<{ token: string; caller: Caller } | null> {
  const rows = await q.query<{ id: string; name: string; secret_hash: string }>(
    `SELECT c.id, c.name, c.secret_hash FROM scim_credentials c WHERE c.tenant_id = $1 AND c.client_id = $2 AND c.kind = 'client' AND ${USABLE}`,
    [tenantId, clientId],
  );
  const c = rows[0];
  // Compare hashes in constant time; an unknown client costs the same as a wrong secret.
  const ok = safeEqual(hashToken(clientSecret), c?.secret_hash ?? hashToken(''));
  if (!c || !ok) return null;
  const token = ACCESS_PREFIX + randomToken();
  await q.query(
    `INSERT INTO scim_access_tokens (tenant_id, token_hash, credential_id, expires_at) VALUES ($1, $2, $3, now() + make_interval(secs => $4))`,
    [tenantId, hashToken(token), c.id, ACCESS_TOKEN_SECONDS],
  );
  await q.query('UPDATE scim_credentials SET last_used_at = now() WHERE tenant_id = $1 AND id = $2', [tenantId, c.id]);
  return { token, caller: { credentialId: c.id, name: c.name } };
}

/** Housekeeping: access tokens past their hour. */
export async function pruneAccessTokens(q: Queryable): Promise<void> {
  await q.query(`DELETE FROM scim_access_tokens WHERE expires_at < now() - interval '1 day'`);
}
