import * as oauth from 'oauth4webapi';
import { decodeJwt } from 'jose';
import type { Config } from '../../config.js';
import type { Tenant } from '../../context.js';
import type { Db, Queryable } from '../../db/db.js';
import { safeLandingPath } from '../../http/redirects.js';
import { isLive, type OidcConnection } from '../connections.js';
import { hashToken, randomToken, type SecretBox } from '../secrets.js';
import { failedSignin, runSignin, type SigninOutcome, type VerifiedIdentity } from '../signin/complete.js';
import { AccountFailure, SigninFailure } from '../signin/failure.js';
import { allStorable, MAX_JSON_DEPTH } from '../../db/storable.js';
import { OidcFailure } from './failure.js';
import { failClosedChecks, SigninTrace } from '../signin/trace.js';
import { mapIdToken } from './claims.js';
import { consumePendingSignin, type PendingSignin } from './checks/callback-binding.js';
import { checkIdTokenClaims } from './checks/claims.js';
import { callbackIssuer, resolveIssuer } from './checks/issuer.js';
import { checkProviderResponse } from './checks/provider-response.js';
import { verifyTokenSignature } from './checks/signature.js';
import { exchangeCode } from './checks/token-exchange.js';
import { checkTokenHeader } from './checks/token-header.js';
import { isMultiTenant } from './config.js';
import { privateKeyJwtAuth } from './client-key.js';
import { rpUrls } from './view.js';

/** How long a started sign-in waits for its callback. */
const REQUEST_MINUTES = 10;
const SCOPE = 'openid profile email';

/** The provider and this client as oauth4webapi takes them; `issuer` is the one a token is held to. */
function parties(conn: OidcConnection, issuer = conn.config.provider.issuer): { as: oauth.AuthorizationServer; client: oauth.Client } {
  const p = conn.config.provider;
  const as: oauth.AuthorizationServer = {
    issuer,
    authorization_endpoint: p.authorization_endpoint,
    token_endpoint: p.token_endpoint,
    jwks_uri: p.jwks_uri,
    ...(p.id_token_signing_alg_values_supported ? { id_token_signing_alg_values_supported: p.id_token_signing_alg_values_supported } : {}),
    ...(p.authorization_response_iss_parameter_supported ? { authorization_response_iss_parameter_supported: true } : {}),
  };
  const client: oauth.Client = { client_id: conn.config.clientId, [oauth.clockTolerance]: conn.config.clockSkewSeconds };
  return { as, client };
}

/** How Keydesk proves itself at the token endpoint: its secret, or an assertion signed with its key. */
async function clientAuth(conn: OidcConnection, box: SecretBox): Promise<oauth.ClientAuth> {
  if (conn.config.clientAuth === 'private_key_jwt' && conn.config.clientKey) return privateKeyJwtAuth(box, conn.config.clientKey, conn.config.provider.token_endpoint);
  const secret = conn.config.clientSecretSealed ? box.open(conn.config.clientSecretSealed) : '';
  return conn.config.clientAuth === 'client_secret_basic' ? oauth.ClientSecretBasic(secret) : oauth.ClientSecretPost(secret);
}

/**
 * Starts an authorization code flow with PKCE (RFC 7636, S256), a one-use `state` bound to this
 * browser's cookie, and a nonce (OpenID Connect Core §3.1.2.1).
 * @param browser the browser's sign-in cookie, when it has one (a new one is made otherwise)
 * @returns the provider's authorization URL and the cookie to set
 * @throws AccountFailure connection_disabled | connection_unpublished
 */
export async function beginOidcSignin(
  db: Queryable,
  config: Config,
  tenant: Tenant,
  conn: OidcConnection,
  input: { wanted: string | null; browser?: string; test?: boolean; loginHint?: string },
): Promise<{ url: string; browser: string }> {
  if (!conn.enabled) throw new AccountFailure('connection_disabled', `The connection "${conn.slug}" is disabled.`);
  if (!input.test && !isLive(conn)) throw new AccountFailure('connection_unpublished', `The connection "${conn.slug}" is not live yet.`);
  const browser = input.browser && /^[A-Za-z0-9_-]{43}$/.test(input.browser) ? input.browser : randomToken(32);
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  const codeVerifier = oauth.generateRandomCodeVerifier();
  await db.query(
    `INSERT INTO oidc_requests (tenant_id, state_hash, connection_id, browser_hash, nonce, code_verifier, relay_state, test, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() + make_interval(mins => $9))`,
    [tenant.id, hashToken(state), conn.id, hashToken(browser), nonce, codeVerifier, safeLandingPath(input.wanted, tenant.slug), input.test ?? false, REQUEST_MINUTES],
  );
  const url = new URL(conn.config.provider.authorization_endpoint);
  const params: Record<string, string> = {
    client_id: conn.config.clientId,
    response_type: 'code',
    redirect_uri: rpUrls(config.publicUrl, tenant.slug, conn.slug).redirectUri,
    scope: SCOPE,
    state,
    nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    ...(input.loginHint ? { login_hint: input.loginHint } : {}),
    // The admin's test signs in afresh, so the trace shows this person's claims, not a cached session's.
    ...(input.test ? { prompt: 'login' } : {}),
  };
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return { url: url.href, browser };
}

/**
 * The redirect URI: the provider's answer is checked in order, each check a trace step, then the
 * sign-in every protocol shares (account, group rules, session). The request is used up first, in
 * its own commit, so whatever follows, it answers once; the provider is talked to outside any
 * database transaction, so a slow provider holds no connection. A failure shows the person only a
 * reference the admin can look up.
 */
export async function completeOidcSignin(
  db: Db,
  config: Config,
  box: SecretBox,
  tenant: Tenant,
  conn: OidcConnection,
  input: { params: URLSearchParams; browser: string | undefined; ip?: string; userAgent?: string },
): Promise<SigninOutcome> {
  const trace = new SigninTrace();
  const ctx = { db, tenant, actor: null, ip: input.ip };
  const redirectUri = rpUrls(config.publicUrl, tenant.slug, conn.slug).redirectUri;
  const state = input.params.get('state');
  // Known before verification only to decide where a failure is shown (the admin's trace page).
  let test = state ? await isTestState(db, tenant.id, conn.id, state) : false;
  trace.data.callback = Object.fromEntries([...input.params].filter(([k]) => k !== 'code').map(([k, v]) => [k, v.slice(0, 2000)]));
  let verified: VerifiedIdentity;
  try {
    if (!conn.enabled) throw new AccountFailure('connection_disabled', `The connection "${conn.slug}" is disabled.`);
    const pending = await trace.step('Callback answers a sign-in this browser started', () =>
      db.transaction((tx) => consumePendingSignin(tx, { tenantId: tenant.id, connectionId: conn.id, state, browser: input.browser })),
    );
    test = pending.test;
    trace.dryRun = test;
    verified = await verifyCallback(conn, box, trace, { params: input.params, state: state!, redirectUri, pending });
  } catch (err) {
    if (!(err instanceof SigninFailure)) throw err;
    return failedSignin(ctx, conn, trace, test, err);
  }
  return runSignin({ db, config, tenant, conn, trace, test, ip: input.ip, userAgent: input.userAgent }, async () => verified);
}

/** The provider's answer, its code exchanged and its ID token checked: who signed in, or a SigninFailure. */
async function verifyCallback(
  conn: OidcConnection,
  box: SecretBox,
  trace: SigninTrace,
  input: { params: URLSearchParams; state: string; redirectUri: string; pending: PendingSignin },
): Promise<VerifiedIdentity> {
  const step = failClosedChecks(trace, (reason) => new OidcFailure('malformed', `Keydesk could not process the provider's answer (${reason}), so it is refused.`));
  const callbackParams = await step('Identity provider reported success', () => {
    const { as: callbackAs, client: callbackClient } = parties(conn, callbackIssuer(conn.config, input.params.get('iss')));
    return checkProviderResponse(callbackAs, callbackClient, input.params, input.state, { redirectUri: input.redirectUri });
  });
  const { as, client } = parties(conn);
  const auth = await clientAuth(conn, box);
  const { response, idToken } = await step('Code exchanged at the token endpoint', () =>
    exchangeCode(as, client, auth, { callbackParams, redirectUri: input.redirectUri, codeVerifier: input.pending.codeVerifier }),
  );
  trace.data.idToken = redactedToken(idToken);
  // Shown to the admin as received, before any check has passed; identity comes only from the checked claims below.
  try {
    trace.data.idTokenClaims = decodeJwt(idToken);
  } catch {
    // an unreadable token: the header check says so
  }
  const alg = await step('ID token signed with an accepted algorithm, carrying no key of its own', () => checkTokenHeader(idToken, conn.config.provider), (a) => a);
  const { issuer, tenantId } = await step(
    isMultiTenant(conn.config) ? 'Issued by this provider, for an allowed Entra tenant' : 'Issued by this provider',
    () => resolveIssuer(idToken, conn.config),
    (r) => (r.tenantId ? `${r.issuer} (tenant ${r.tenantId})` : r.issuer),
  );
  await step('Signature verifies with a key the provider publishes', () => verifyTokenSignature(idToken, { jwksUri: conn.config.provider.jwks_uri, alg }));
  const claims = await step('Audience, validity window and nonce', async () => usableClaims(await checkIdTokenClaims(parties(conn, issuer).as, client, response, input.pending.nonce)));
  return {
    claims: mapIdToken(claims, { entra: isEntra(conn, claims), homeTenant: isMultiTenant(conn.config) ? (conn.config.allowedTenants[0] ?? null) : null, tenantId }),
    test: input.pending.test,
    landing: input.pending.relayState,
    idpSession: { nameId: claims.sub, nameIdFormat: 'oidc', sessionIndex: typeof claims.sid === 'string' ? claims.sid : null, idTokenSealed: box.seal(idToken) },
    details: { initiatedBy: 'rp' },
  };
}

/** The token is from Entra: Entra's rules for email proof and groups apply. */
function isEntra(conn: OidcConnection, claims: oauth.IDToken): boolean {
  return /^https:\/\/login\.microsoftonline\.com\//.test(conn.config.issuer) || typeof claims.tid === 'string';
}

/** Claims Keydesk can store and look people up by: text without NUL, sane nesting, a subject and session id of sane length. */
function usableClaims(claims: oauth.IDToken): oauth.IDToken {
  if (!allStorable(claims)) throw new OidcFailure('bad_claims', `The ID token carries text that cannot be stored (a NUL character or an unpaired surrogate), or claims nested more than ${MAX_JSON_DEPTH} levels deep.`);
  if (claims.sub.length > 255) throw new OidcFailure('bad_claims', `The ID token's sub is ${claims.sub.length} characters long (at most 255).`);
  if (claims.sid !== undefined && (typeof claims.sid !== 'string' || claims.sid.length > 200)) throw new OidcFailure('bad_claims', 'The ID token’s sid is not a session id of at most 200 characters.');
  return claims;
}

/** The token as the admin sees it in a trace: header and claims readable, the signature elided. */
function redactedToken(token: string): string {
  const [header, payload] = token.split('.');
  return `${header ?? ''}.${payload ?? ''}.…signature elided…`;
}

async function isTestState(db: Db, tenantId: string, connectionId: string, state: string): Promise<boolean> {
  if (state.length > 200) return false;
  const rows = await db.query<{ test: boolean }>(
    'SELECT test FROM oidc_requests WHERE tenant_id = $1 AND state_hash = $2 AND connection_id = $3 AND consumed_at IS NULL AND expires_at > now()',
    [tenantId, hashToken(state), connectionId],
  );
  return rows[0]?.test ?? false;
}
