import { decodeJwt } from 'jose';
import { ENTRA_TENANT_ID, isMultiTenant, TENANT_PLACEHOLDER, type OidcConfig } from '../config.js';
import { OidcFailure } from '../failure.js';

/**
 * The token's issuer is exactly this connection's. For Entra's multi-tenant issuer, whose discovery
 * says `…/{tenantid}/v2.0`, the token's `tid` is put in its place and must give the token's `iss`,
 * and `tid` must be on the connection's allowed tenants; any `tid` must be, when the list is set.
 * Read before the signature is checked, to know which issuer to hold the token to; nothing is
 * trusted until every check has passed.
 * @returns the issuer the token is held to, and the Entra tenant
 * @throws OidcFailure issuer_mismatch | tenant_not_allowed | bad_claims
 */
export function resolveIssuer(token: string, config: Pick<OidcConfig, 'provider' | 'allowedTenants'>): { issuer: string; tenantId: string | null } {
  let claims: Record<string, unknown>;
  try {
    claims = decodeJwt(token) as Record<string, unknown>;
  } catch {
    throw new OidcFailure('bad_claims', 'The token payload is not readable JSON.');
  }
  const iss = typeof claims.iss === 'string' ? claims.iss : null;
  if (!iss) throw new OidcFailure('bad_claims', 'The token has no iss claim.');
  const tid = typeof claims.tid === 'string' ? claims.tid : null;
  if (isMultiTenant(config)) {
    if (!tid || !ENTRA_TENANT_ID.test(tid)) throw new OidcFailure('issuer_mismatch', 'The token comes through a multi-tenant issuer but names no Entra tenant (tid).');
    const expected = config.provider.issuer.replace(TENANT_PLACEHOLDER, tid);
    if (iss !== expected) throw new OidcFailure('issuer_mismatch', `The token's issuer is ${iss.slice(0, 200)}, but its tenant ${tid} gives ${expected}.`);
    if (!config.allowedTenants.some((t) => t.toLowerCase() === tid.toLowerCase())) throw new OidcFailure('tenant_not_allowed', `Entra tenant ${tid} is not among this connection's allowed tenants.`, { tid });
    return { issuer: expected, tenantId: tid };
  }
  if (iss !== config.provider.issuer) throw new OidcFailure('issuer_mismatch', `The token's issuer is ${iss.slice(0, 200)}, not ${config.provider.issuer}.`);
  if (tid && config.allowedTenants.length && !config.allowedTenants.some((t) => t.toLowerCase() === tid.toLowerCase())) {
    throw new OidcFailure('tenant_not_allowed', `Entra tenant ${tid} is not among this connection's allowed tenants.`, { tid });
  }
  return { issuer: iss, tenantId: tid };
}

/**
 * The issuer an authorization response's `iss` parameter (RFC 9207) is held to: the connection's,
 * or for Entra's multi-tenant issuer the template with the named tenant put in, which must be an
 * allowed one. Undefined when the provider sent no `iss` (the library then holds it to nothing).
 * @throws OidcFailure issuer_mismatch | tenant_not_allowed
 */
export function callbackIssuer(config: Pick<OidcConfig, 'provider' | 'allowedTenants'>, iss: string | null): string | undefined {
  if (iss === null || !isMultiTenant(config)) return undefined;
  const [before, after] = config.provider.issuer.split(TENANT_PLACEHOLDER) as [string, string];
  const tid = iss.startsWith(before) && iss.endsWith(after) ? iss.slice(before.length, iss.length - after.length) : null;
  if (!tid || !ENTRA_TENANT_ID.test(tid)) throw new OidcFailure('issuer_mismatch', `The callback's iss parameter (${iss.slice(0, 200)}) is not an issuer of this multi-tenant provider.`);
  if (!config.allowedTenants.some((t) => t.toLowerCase() === tid.toLowerCase())) throw new OidcFailure('tenant_not_allowed', `Entra tenant ${tid} is not among this connection's allowed tenants.`, { tid });
  return iss;
}
