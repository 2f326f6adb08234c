import { compactVerify, errors, jwtVerify } from 'jose';
import { allStorable } from '../../db/storable.js';
import type { Ctx } from '../../context.js';
import type { Queryable } from '../../db/db.js';
import { audit } from '../../audit/audit.js';
import type { OidcConnection } from '../connections.js';
import { resolveIssuer } from './checks/issuer.js';
import { checkTokenHeader } from './checks/token-header.js';
import { OidcFailure } from './failure.js';
import { providerKeys } from './keys.js';
import { rpUrls } from './view.js';

/** The event a logout token must announce (OpenID Connect Back-Channel Logout 1.0 §2.4). */
const LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/**
 * RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2): the provider's end_session_endpoint
 * with the session's ID token as `id_token_hint` and the sign-in page as `post_logout_redirect_uri`.
 * Null when the provider has no such endpoint.
 */
export function endSessionUrl(conn: OidcConnection, publicUrl: string, tenantSlug: string, idToken: string | null): string | null {
  const endpoint = conn.config.provider.end_session_endpoint;
  if (!endpoint) return null;
  const url = new URL(endpoint);
  if (idToken) url.searchParams.set('id_token_hint', idToken);
  url.searchParams.set('client_id', conn.config.clientId);
  url.searchParams.set('post_logout_redirect_uri', rpUrls(publicUrl, tenantSlug, conn.slug).postLogoutRedirectUri);
  return url.href;
}

/**
 * Back-channel logout (OpenID Connect Back-Channel Logout 1.0 §2.6): the provider says a session
 * ended. The logout token must be signed by a key the provider publishes, with an accepted
 * algorithm and no key of its own, by this connection's issuer, for this client, fresh, announce
 * the logout event, name a `sid` or `sub`, carry no `nonce`, and not have been used before. The
 * Keydesk sessions it names end, in the same transaction as the replay record.
 * @returns how many sessions ended
 * @throws OidcFailure with what was wrong (answered 400 with `invalid_request`)
 */
export async function handleBackchannelLogout(ctx: Ctx, tx: Queryable, conn: OidcConnection, logoutToken: string): Promise<number> {
  const alg = checkTokenHeader(logoutToken, conn.config.provider);
  // The signature first: until the provider is known to have said it, nothing in the token is
  // looked at (and nothing about the connection's settings is told back to an anonymous caller).
  try {
    await compactVerify(logoutToken, providerKeys(conn.config.provider.jwks_uri), { algorithms: [alg] });
  } catch (err) {
    throw new OidcFailure('untrusted_key', `The logout token's signature was refused: ${(err as Error).message}.`);
  }
  const { issuer } = resolveIssuer(logoutToken, conn.config);
  let claims: Record<string, unknown>;
  try {
    ({ payload: claims } = await jwtVerify(logoutToken, providerKeys(conn.config.provider.jwks_uri), {
      algorithms: [alg],
      issuer,
      audience: conn.config.clientId,
      clockTolerance: conn.config.clockSkewSeconds,
      requiredClaims: ['iat', 'exp', 'jti'],
      maxTokenAge: '10 minutes',
    }));
  } catch (err) {
    // The audited reason names the claim, as for ID tokens (checks/claims.ts): an expired token or
    // another client's is not "a claim missing or of the wrong type", and its fix says what to check.
    const claim = err instanceof errors.JWTClaimValidationFailed && err.reason !== 'missing' ? err.claim : null;
    const code = err instanceof errors.JWTExpired ? 'expired' : claim === 'aud' ? 'audience_mismatch' : claim === 'iss' ? 'issuer_mismatch' : claim === 'nbf' || claim === 'iat' ? 'not_yet_valid' : 'bad_claims';
    throw new OidcFailure(code, `The logout token was refused: ${(err as Error).message}.`);
  }
  if (!allStorable(claims) || typeof claims.jti !== 'string' || claims.jti.length > 200 || (claims.sid !== undefined && (typeof claims.sid !== 'string' || claims.sid.length > 200)) || (claims.sub !== undefined && (typeof claims.sub !== 'string' || claims.sub.length > 255))) {
    throw new OidcFailure('bad_claims', 'The logout token carries a jti, sid or sub Keydesk cannot use (not text, too long, or with a NUL).');
  }
  // A logout token lives minutes (maxTokenAge on iat): an exp beyond a day is no expiry to keep.
  const exp = Math.min(Number(claims.exp), Math.floor(Date.now() / 1000) + 86_400);
  const events = claims.events;
  if (!events || typeof events !== 'object' || Array.isArray(events) || typeof (events as Record<string, unknown>)[LOGOUT_EVENT] !== 'object') {
    throw new OidcFailure('bad_claims', `The logout token does not announce the ${LOGOUT_EVENT} event.`);
  }
  if ('nonce' in claims) throw new OidcFailure('bad_claims', 'A logout token must not carry a nonce: this is an ID token, not a logout token.');
  const sid = typeof claims.sid === 'string' ? claims.sid : null;
  const sub = typeof claims.sub === 'string' ? claims.sub : null;
  if (!sid && !sub) throw new OidcFailure('bad_claims', 'The logout token names neither a session (sid) nor a user (sub).');
  const jti = String(claims.jti).slice(0, 200);
  const fresh = await tx.query(
    `INSERT INTO oidc_logout_tokens (tenant_id, connection_id, jti, expires_at) VALUES ($1, $2, $3, to_timestamp($4) + make_interval(secs => $5))
     ON CONFLICT DO NOTHING RETURNING 1`,
    [ctx.tenant.id, conn.id, jti, exp, conn.config.clockSkewSeconds],
  );
  if (!fresh.length) throw new OidcFailure('bad_claims', 'This logout token was used before.');
  const ended = await tx.query(
    `UPDATE sessions SET revoked_at = now() WHERE tenant_id = $1 AND connection_id = $2 AND revoked_at IS NULL
       AND ($3::text IS NULL OR idp_session_index = $3) AND ($4::text IS NULL OR idp_name_id = $4) RETURNING id`,
    [ctx.tenant.id, conn.id, sid, sub],
  );
  await audit(ctx, tx, {
    action: 'signout.oidc_backchannel',
    actorId: null,
    actorLabel: `oidc:${conn.slug}`,
    details: { connection: conn.slug, sessionsEnded: ended.length, ...(sid ? { sid } : {}), ...(sub ? { sub } : {}) },
  });
  return ended.length;
}

/** Forgets logout tokens that can no longer be replayed, and sign-ins that were never finished. */
export async function pruneOidcState(q: Queryable): Promise<void> {
  await q.query('DELETE FROM oidc_logout_tokens WHERE expires_at < now()');
  await q.query(`DELETE FROM oidc_requests WHERE expires_at < now() - interval '1 day'`);
}
