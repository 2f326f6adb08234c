import type { OidcConnection } from '../connections.js';
import { isMultiTenant } from './config.js';

/** Where every OpenID Connect URL of a tenant's connections starts (`{base}/{slug}/callback`, …). */
export function rpBaseUrl(publicUrl: string, tenantSlug: string): string {
  return `${publicUrl}/t/${tenantSlug}/oidc`;
}

/** Keydesk's OpenID Connect addresses for a connection: what the admin registers at the provider. */
export function rpUrls(publicUrl: string, tenantSlug: string, connSlug: string) {
  const base = `${rpBaseUrl(publicUrl, tenantSlug)}/${connSlug}`;
  return { loginUrl: `${base}/login`, redirectUri: `${base}/callback`, backchannelLogoutUri: `${base}/backchannel-logout`, postLogoutRedirectUri: `${publicUrl}/t/${tenantSlug}/login?signedOut=1` };
}

/** An OpenID Connect connection as the admin API and CLI show it: no secret, ever. */
export function oidcView(c: OidcConnection, publicUrl: string, tenantSlug: string) {
  const rp = rpUrls(publicUrl, tenantSlug, c.slug);
  return {
    issuer: c.config.issuer,
    clientId: c.config.clientId,
    clientAuth: c.config.clientAuth,
    hasClientSecret: c.config.clientSecretSealed !== null,
    /** private_key_jwt: what to upload at the provider (public material only). */
    clientCertificate: c.config.clientKey
      ? {
          pem: c.config.clientKey.certificatePem,
          thumbprintSha1: Buffer.from(c.config.clientKey.thumbprintS1, 'base64url').toString('hex').toUpperCase(),
          notAfter: c.config.clientKey.notAfter,
          publicJwk: c.config.clientKey.publicJwk,
        }
      : null,
    secretExpiresAt: c.config.secretExpiresAt,
    allowedTenants: c.config.allowedTenants,
    multiTenant: isMultiTenant(c.config),
    redirectUri: rp.redirectUri,
    backchannelLogoutUri: rp.backchannelLogoutUri,
    loginUrl: rp.loginUrl,
    postLogoutRedirectUri: rp.postLogoutRedirectUri,
    provider: {
      issuer: c.config.provider.issuer,
      authorizationEndpoint: c.config.provider.authorization_endpoint,
      tokenEndpoint: c.config.provider.token_endpoint,
      jwksUri: c.config.provider.jwks_uri,
      endSessionEndpoint: c.config.provider.end_session_endpoint ?? null,
    },
  };
}
