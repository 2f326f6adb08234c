import type { Ctx } from '../../context.js';
import { storable } from '../../db/storable.js';
import { ValidationFailed } from '../../http/errors.js';
import { CONNECTION_SLUG, defaultDisplayName, getOidcConnection, insertConnection, type OidcConnection } from '../connections.js';
import type { SecretBox } from '../secrets.js';
import { defaultTenants, isMultiTenant, normalizeTenants, type OidcConfig } from './config.js';
import * as oauth from 'oauth4webapi';
import { discoverProvider, requestOptions } from './provider.js';
import { makeClientKey } from './client-key.js';

export interface NewOidcConnection {
  slug: string;
  displayName?: string;
  issuer: string;
  clientId: string;
  /** The client secret; or none, with `clientAuth: 'private_key_jwt'`. */
  clientSecret?: string;
  /**
   * How Keydesk authenticates at the token endpoint: a secret (post or basic; the provider's first
   * supported by default), or `private_key_jwt` with a key Keydesk generates (or `privateKeyPem`).
   */
  clientAuth?: 'client_secret_post' | 'client_secret_basic' | 'private_key_jwt';
  /** private_key_jwt with the operator's own RSA key (the CLI's --private-key-file; never over the API). */
  privateKeyPem?: string;
  /** When the secret expires (Entra shows it under Certificates & secrets), for the 30/14/7-day notices. */
  secretExpiresAt?: string | null;
  /** Entra tenant ids allowed to sign in: required with a multi-tenant issuer. */
  allowedTenants?: string[];
  clockSkewSeconds?: number;
  jit?: boolean;
  waitingRoom?: boolean;
  /** Live at once, before any test (`oidc connect --publish`); audited as such. */
  publish?: boolean;
  /** Keydesk's redirect URI for it: when given, a secret is tried at the token endpoint before anything is stored. */
  redirectUri?: string;
}

function invalid(field: string, message: string): never {
  throw new ValidationFailed(message, [{ field, message }]);
}

/**
 * Connects an OpenID Connect provider: reads its discovery document, keeps the client secret sealed
 * (it is never shown again), and starts in testing like every connection.
 * @throws ValidationFailed naming the field (issuer, clientId, clientSecret, allowedTenants, …); Conflict `connection_exists`
 */
export async function createOidcConnection(ctx: Ctx, box: SecretBox, input: NewOidcConnection): Promise<OidcConnection> {
  const slug = input.slug.toLowerCase();
  if (!CONNECTION_SLUG.test(slug)) invalid('slug', 'Use 1-40 lowercase letters, digits or inner hyphens, for example "entra" or "okta".');
  const clientId = input.clientId.trim();
  if (!clientId || clientId.length > 200 || /\s/.test(clientId) || !storable(clientId)) invalid('clientId', 'The client ID is the application (client) ID the provider shows: up to 200 characters, no spaces.');
  const withKey = input.clientAuth === 'private_key_jwt' || input.privateKeyPem !== undefined;
  if (withKey && input.clientSecret !== undefined) invalid('clientSecret', 'Give a client secret or use a key (private_key_jwt), not both.');
  if (!withKey && (!input.clientSecret || input.clientSecret.length > 1000 || !storable(input.clientSecret))) invalid('clientSecret', 'Enter the client secret (Entra: Certificates & secrets › the secret’s Value, not its ID).');
  const expires = input.secretExpiresAt ? new Date(input.secretExpiresAt) : null;
  if (expires && (Number.isNaN(expires.getTime()) || expires.getUTCFullYear() > 9999)) invalid('secretExpiresAt', 'The secret’s expiry is a date, such as 2027-11-30.');
  const tenants = normalizeTenants(input.allowedTenants ?? []);

  // The discovery document's own address pasted as the issuer: its issuer is what comes before.
  const issuer = input.issuer.trim().replace(/\/\.well-known\/openid-configuration\/?$/, '');
  const provider = await discoverProvider(issuer);
  const clientKey = withKey ? await makeClientKey(box, `Keydesk ${ctx.tenant.slug}/${slug}`, input.privateKeyPem) : null;
  const config: OidcConfig = {
    issuer,
    provider,
    clientId,
    clientAuth: withKey ? 'private_key_jwt' : (input.clientAuth as OidcConfig['clientAuth'] | undefined) ?? chooseClientAuth(provider.token_endpoint_auth_methods_supported),
    clientSecretSealed: withKey ? null : box.seal(input.clientSecret!),
    clientKey,
    secretExpiresAt: clientKey?.notAfter ?? expires?.toISOString() ?? null,
    // A single-tenant Entra issuer names its tenant: that is the one allowed, unless the admin says more.
    allowedTenants: tenants.length ? tenants : defaultTenants(provider.issuer),
    clockSkewSeconds: input.clockSkewSeconds ?? 180,
  };
  if (isMultiTenant(config) && !config.allowedTenants.length) {
    invalid('allowedTenants', 'A multi-tenant issuer (organizations, common) lets any Entra tenant in: list the tenant IDs allowed to sign in.');
  }
  const methods = provider.token_endpoint_auth_methods_supported;
  if (methods && !methods.includes(config.clientAuth)) invalid('clientAuth', `The provider takes client credentials as ${methods.join(', ')}, not ${config.clientAuth}.`);
  if (!withKey && input.redirectUri) await checkClientCredentials(config, input.clientSecret!, input.redirectUri);

  const id = await insertConnection(ctx, {
    slug,
    protocol: 'oidc',
    displayName: input.displayName ?? defaultDisplayName(config.issuer),
    config,
    jit: input.jit,
    waitingRoom: input.waitingRoom,
    publish: input.publish,
    audited: { issuer: config.issuer, clientId, clientAuth: config.clientAuth, allowedTenants: config.allowedTenants },
  });
  return getOidcConnection(ctx.db, ctx.tenant.id, id);
}

function chooseClientAuth(methods: string[] | undefined): 'client_secret_post' | 'client_secret_basic' {
  if (!methods || methods.includes('client_secret_post')) return 'client_secret_post';
  return 'client_secret_basic';
}

/**
 * Tries the client credentials at the token endpoint with a code that cannot exist: a provider
 * authenticates the client first, so `invalid_client` means a wrong client ID or secret, and any
 * other answer (`invalid_grant`) that they are good. Without it, a mistyped secret shows only at
 * the first sign-in, after the admin has left for the provider's page.
 * @throws ValidationFailed `clientSecret` when the provider refuses them
 */
export async function checkClientCredentials(config: OidcConfig, secret: string, redirectUri: string): Promise<void> {
  const as: oauth.AuthorizationServer = { issuer: config.provider.issuer, token_endpoint: config.provider.token_endpoint };
  const auth = config.clientAuth === 'client_secret_basic' ? oauth.ClientSecretBasic(secret) : oauth.ClientSecretPost(secret);
  let answer: { error?: unknown; error_description?: unknown } = {};
  try {
    const client = { client_id: config.clientId };
    const params = oauth.validateAuthResponse(as, client, new URLSearchParams({ code: 'keydesk-credential-check', state: 'check' }), 'check');
    const res = await oauth.authorizationCodeGrantRequest(as, client, auth, params, redirectUri, 'keydesk-credential-check-verifier-00000000000000', requestOptions(config.provider.token_endpoint));
    answer = (await res.json().catch(() => ({}))) as typeof answer;
  } catch (err) {
    invalid('issuer', `The provider's token endpoint could not be reached: ${(err as Error).message}.`);
  }
  if (answer.error === 'invalid_client' || answer.error === 'unauthorized_client') {
    const detail = typeof answer.error_description === 'string' ? ` (${answer.error_description.slice(0, 200)})` : '';
    invalid('clientSecret', `The provider refused this client ID and secret${detail}. Check the client ID, and that the secret is its Value (Entra shows the Value only right after creating it).`);
  }
}
