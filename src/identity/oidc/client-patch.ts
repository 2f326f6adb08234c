import { ValidationFailed } from '../../http/errors.js';
import type { SecretBox } from '../secrets.js';
import { defaultTenants, isMultiTenant, normalizeTenants, type OidcConfig, type ProviderMetadata } from './config.js';

export interface OidcClientPatch {
  /** Another issuer (re-read by discovery; another provider, so the connection is tested again). */
  issuer?: string;
  /** Another client ID at the provider (tested again too). */
  clientId?: string;
  /** A new client secret (rotation): sealed, never shown again. */
  clientSecret?: string;
  secretExpiresAt?: string | null;
  allowedTenants?: string[];
}

function invalid(field: string, message: string): never {
  throw new ValidationFailed(message, [{ field, message }]);
}

/**
 * An OIDC connection's client settings changed: a new secret (sealed; its expiry forgotten unless
 * given again, since it belongs to the old one), the secret's expiry, the allowed Entra tenants.
 * @throws ValidationFailed naming the field
 */
export function applyOidcClientPatch(config: OidcConfig, patch: OidcClientPatch, box: SecretBox | undefined, discovered?: { issuer: string; provider: ProviderMetadata } | null): OidcConfig {
  const next = { ...config };
  if (discovered) {
    // The secret belongs to the old provider: it is never sent to another one.
    if (config.clientAuth !== 'private_key_jwt' && patch.clientSecret === undefined) {
      invalid('clientSecret', 'Another issuer needs the client secret registered there: enter it with the new issuer.');
    }
    Object.assign(next, discovered);
    // A single-tenant Entra issuer names its tenant; the old provider's tenants do not carry over.
    if (patch.allowedTenants === undefined) next.allowedTenants = defaultTenants(discovered.provider.issuer);
  }
  if (patch.clientId !== undefined) {
    const id = patch.clientId.trim();
    if (!id || id.length > 200 || /\s/.test(id)) invalid('clientId', 'The client ID is the application (client) ID the provider shows: up to 200 characters, no spaces.');
    next.clientId = id;
  }
  if (patch.clientSecret !== undefined) {
    if (config.clientAuth === 'private_key_jwt') invalid('clientSecret', 'This connection signs in with a key (private_key_jwt), not a secret.');
    if (!box) throw new Error('a SecretBox is needed to seal a client secret');
    if (!patch.clientSecret) invalid('clientSecret', 'Enter the new client secret’s value.');
    next.clientSecretSealed = box.seal(patch.clientSecret);
    next.secretExpiresAt = null;
  }
  if (patch.secretExpiresAt !== undefined) {
    const d = patch.secretExpiresAt === null ? null : new Date(patch.secretExpiresAt);
    if (d && Number.isNaN(d.getTime())) invalid('secretExpiresAt', 'The secret’s expiry is a date, such as 2027-11-30.');
    next.secretExpiresAt = d?.toISOString() ?? null;
  }
  if (patch.allowedTenants !== undefined) {
    const tenants = normalizeTenants(patch.allowedTenants);
    if (isMultiTenant(next) && !tenants.length) invalid('allowedTenants', 'A multi-tenant issuer needs at least one allowed tenant.');
    next.allowedTenants = tenants;
  }
  return next;
}

/** Does the patch point the connection at another provider or client (which must pass a test again)? */
export function changesParty(config: OidcConfig, next: OidcConfig): boolean {
  return next.issuer !== config.issuer || next.clientId !== config.clientId;
}
