import type { ActorCtx } from '../../context.js';
import type { Queryable } from '../../db/db.js';
import { audit } from '../../audit/audit.js';
import { NotFound } from '../../http/errors.js';
import { hashToken, randomToken } from '../secrets.js';
import { isUuid } from '../users.js';

export interface ApiToken {
  id: string;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

const TOKEN_PREFIX = 'kdp_';

/** `kdp_<tenant id without dashes>_<secret>`: the tenant part routes the lookup, only the hash is kept. */
export function parseApiToken(bearer: string): { tenantId: string; secret: string } | null {
  const m = /^kdp_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$/.exec(bearer);
  if (!m) return null;
  const h = m[1]!;
  return { tenantId: `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`, secret: m[2]! };
}

export async function createApiToken(ctx: ActorCtx, input: { name: string; expiresInDays?: number }): Promise<{ token: ApiToken; secret: string }> {
  const secret = randomToken();
  const plain = `${TOKEN_PREFIX}${ctx.tenant.id.replace(/-/g, '')}_${secret}`;
  return ctx.db.transaction(async (tx) => {
    const rows = await tx.query<ApiToken>(
      `INSERT INTO api_tokens (tenant_id, user_id, name, token_hash, expires_at)
       VALUES ($1, $2, $3, $4, CASE WHEN $5::int IS NULL THEN NULL ELSE now() + make_interval(days => $5::int) END)
       RETURNING id, name, created_at AS "createdAt", last_used_at AS "lastUsedAt", expires_at AS "expiresAt", revoked_at AS "revokedAt"`,
      [ctx.tenant.id, ctx.actor.userId, input.name, hashToken(secret), input.expiresInDays ?? null],
    );
    const token = rows[0]!;
    await audit(ctx, tx, { action: 'api_token.created', targetType: 'api_token', targetId: token.id, details: { name: input.name } });
    return { token, secret: plain };
  });
}

export async function listApiTokens(ctx: ActorCtx): Promise<ApiToken[]> {
  return ctx.db.query<ApiToken>(
    `SELECT id, name, created_at AS "createdAt", last_used_at AS "lastUsedAt", expires_at AS "expiresAt", revoked_at AS "revokedAt"
     FROM api_tokens WHERE tenant_id = $1 AND user_id = $2 ORDER BY created_at DESC`,
    [ctx.tenant.id, ctx.actor.userId],
  );
}

export async function revokeApiToken(ctx: ActorCtx, tokenId: string): Promise<void> {
  if (!isUuid(tokenId)) throw new NotFound('API token');
  await ctx.db.transaction(async (tx) => {
    const rows = await tx.query(
      `UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE tenant_id = $1 AND user_id = $2 AND id = $3 RETURNING id`,
      [ctx.tenant.id, ctx.actor.userId, tokenId],
    );
    if (!rows.length) throw new NotFound('API token');
    await audit(ctx, tx, { action: 'api_token.revoked', targetType: 'api_token', targetId: tokenId });
  });
}

/** Resolves a bearer token to its user; stamps last use at most once a minute. */
export async function findApiToken(q: Queryable, tenantId: string, secret: string): Promise<{ id: string; userId: string } | null> {
  const rows = await q.query<{ id: string; userId: string; stale: boolean }>(
    `SELECT id, user_id AS "userId", (last_used_at IS NULL OR last_used_at < now() - interval '1 minute') AS stale
     FROM api_tokens WHERE tenant_id = $1 AND token_hash = $2 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`,
    [tenantId, hashToken(secret)],
  );
  const t = rows[0];
  if (!t) return null;
  if (t.stale) await q.query('UPDATE api_tokens SET last_used_at = now() WHERE tenant_id = $1 AND id = $2', [tenantId, t.id]);
  return { id: t.id, userId: t.userId };
}
