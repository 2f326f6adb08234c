import { ValidationFailed } from '../../http/errors.js';
import type { ClientKey } from './client-key.js';

/**
 * The identity provider's side of an OpenID Connect connection, as stored in
 * `sso_connections.config`. Secrets are sealed with the deployment's SecretBox, never stored plain.
 */
export interface OidcConfig {
  /** As the admin gave it: `https://login.microsoftonline.com/<tid>/v2.0`, Okta's org or custom authorization server, … */
  issuer: string;
  /** What discovery said (OpenID Connect Discovery 1.0 §3), kept so a sign-in needs no round trip to it. */
  provider: ProviderMetadata;
  clientId: string;
  clientAuth: 'client_secret_post' | 'client_secret_basic' | 'private_key_jwt';
  /** The client secret, sealed; null with private_key_jwt. */
  clientSecretSealed: string | null;
  /** private_key_jwt: Keydesk's key (sealed) and the certificate and JWK offered for upload. */
  clientKey?: ClientKey | null;
  /**
   * When the credential expires, for the 30/14/7-day notices: the date the admin gave for a secret
   * (Entra: at most 24 months), or the client certificate's end.
   */
  secretExpiresAt: string | null;
  /**
   * Entra tenant ids (`tid`) allowed to sign in. Required when the issuer is multi-tenant
   * (`organizations`, `common`); with a single-tenant issuer, the issuer's own tenant.
   */
  allowedTenants: string[];
  clockSkewSeconds: number;
}

/** The discovery document's fields Keydesk uses. */
export interface ProviderMetadata {
  /** Discovery's issuer; Entra's multi-tenant endpoints say `https://login.microsoftonline.com/{tenantid}/v2.0`. */
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
  end_session_endpoint?: string;
  id_token_signing_alg_values_supported?: string[];
  token_endpoint_auth_methods_supported?: string[];
  response_modes_supported?: string[];
  backchannel_logout_supported?: boolean;
  backchannel_logout_session_supported?: boolean;
  authorization_response_iss_parameter_supported?: boolean;
}

/** An Entra tenant id (`tid`): a GUID. */
export const ENTRA_TENANT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Allowed tenants as the admin typed them, as stored: trimmed, lower-case, each once.
 * @throws ValidationFailed `allowedTenants` naming the value that is no tenant id
 */
export function normalizeTenants(list: string[]): string[] {
  const tenants = [...new Set(list.map((t) => t.trim().toLowerCase()).filter(Boolean))];
  const bad = tenants.find((t) => !ENTRA_TENANT_ID.test(t));
  if (bad !== undefined) {
    const message = `"${bad.slice(0, 60)}" is not an Entra tenant ID (a GUID, as Entra shows under Overview › Tenant ID).`;
    throw new ValidationFailed(message, [{ field: 'allowedTenants', message }]);
  }
  return tenants;
}

/** The tenants a new issuer allows by default: a single-tenant Entra issuer's own (`…/<tid>/v2.0`), else none. */
export function defaultTenants(providerIssuer: string): string[] {
  const tid = providerIssuer.split('/')[3] ?? '';
  return ENTRA_TENANT_ID.test(tid) ? [tid.toLowerCase()] : [];
}

/** Entra's placeholder for the signing-in person's tenant in a multi-tenant issuer. */
export const TENANT_PLACEHOLDER = '{tenantid}';

export function isMultiTenant(c: Pick<OidcConfig, 'provider'>): boolean {
  return c.provider.issuer.includes(TENANT_PLACEHOLDER);
}
