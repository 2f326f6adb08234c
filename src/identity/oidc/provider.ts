import * as oauth from 'oauth4webapi';
import { ValidationFailed } from '../../http/errors.js';
import { storable } from '../../db/storable.js';
import { TENANT_PLACEHOLDER, type ProviderMetadata } from './config.js';

/** The signing algorithms Keydesk accepts for ID and logout tokens: never `none`, never HMAC. */
export const ACCEPTED_ALGORITHMS = ['RS256', 'PS256', 'ES256'] as const;

const MAX_DOCUMENT_BYTES = 256 * 1024;
const TIMEOUT_MS = 10_000;

/** 127.0.0.0/8, ::1 and localhost: the only places an http issuer is accepted (tests, local providers). */
export function isLoopback(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127(?:\.\d{1,3}){3}$/.test(host);
}

/**
 * An issuer or endpoint URL Keydesk will talk to: https, or http on a loopback address.
 * @throws ValidationFailed naming `field`
 */
export function checkProviderUrl(value: string, field: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ValidationFailed(`${field === 'issuer' ? 'The issuer' : `The provider's ${field}`} is not an absolute URL.`, [{ field, message: 'is not an absolute URL' }]);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url))) {
    throw new ValidationFailed(`${field === 'issuer' ? 'The issuer' : `The provider's ${field}`} must be an https URL (http only on a loopback address).`, [{ field, message: 'must be https' }]);
  }
  if (url.username || url.password || url.hash) throw new ValidationFailed(`The ${field} must not carry credentials or a fragment.`, [{ field, message: 'must not carry credentials or a fragment' }]);
  return url;
}

/**
 * Every request to a provider (discovery, token endpoint, JWKS): a time limit, no redirects, and a
 * cap on what is read, so a slow or huge answer cannot hold a sign-in or fill memory.
 */
export const providerFetch: typeof fetch = async (input, init) => {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`no answer within ${TIMEOUT_MS / 1000} seconds`)), TIMEOUT_MS);
  try {
    const res = await fetch(input, { ...init, redirect: 'manual', signal: controller.signal });
    const tooLarge = () => new Error(`the answer is larger than ${MAX_DOCUMENT_BYTES / 1024} KiB`);
    if (Number(res.headers.get('content-length') ?? 0) > MAX_DOCUMENT_BYTES) throw tooLarge();
    // Read chunk by chunk and stop at the cap: a chunked answer declares no length.
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = res.body?.getReader();
    for (;;) {
      const chunk = reader ? await reader.read() : { done: true as const, value: undefined };
      if (chunk.done) break;
      size += chunk.value.byteLength;
      if (size > MAX_DOCUMENT_BYTES) {
        controller.abort();
        throw tooLarge();
      }
      chunks.push(chunk.value);
    }
    const body = Buffer.concat(chunks);
    return new Response(res.status === 204 || res.status === 304 ? null : body, { status: res.status, statusText: res.statusText, headers: res.headers });
  } finally {
    clearTimeout(timer);
  }
};

/** oauth4webapi's request options for a provider: our fetch, and plain http only on loopback. */
export function requestOptions(url: string): { [oauth.customFetch]: typeof fetch; [oauth.allowInsecureRequests]: boolean } {
  return { [oauth.customFetch]: providerFetch, [oauth.allowInsecureRequests]: isLoopback(new URL(url)) };
}

/**
 * Reads an issuer's discovery document (OpenID Connect Discovery 1.0 §4) and keeps what Keydesk
 * uses. The issuer it states must be the one asked for (§4.3), except Entra's multi-tenant
 * endpoints (`…/organizations/v2.0`, `…/common/v2.0`), which state `…/{tenantid}/v2.0`: the tenant
 * is then the token's `tid`, checked at every sign-in against the connection's allowed tenants.
 * @throws ValidationFailed naming the issuer, with what went wrong
 */
export async function discoverProvider(issuer: string): Promise<ProviderMetadata> {
  const url = checkProviderUrl(issuer, 'issuer');
  const fail = (message: string): never => {
    throw new ValidationFailed(message, [{ field: 'issuer', message }]);
  };
  let response: Response;
  try {
    response = await oauth.discoveryRequest(url, { algorithm: 'oidc', ...requestOptions(issuer) });
  } catch (err) {
    return fail(`Keydesk could not read ${url.origin}'s discovery document (${(err as Error).message}). Check the issuer URL and that Keydesk's server can reach it.`);
  }
  if (response.status !== 200) fail(`${url.origin} answered HTTP ${response.status} for ${url.pathname.replace(/\/$/, '')}/.well-known/openid-configuration. Check the issuer URL (Entra: https://login.microsoftonline.com/<tenant id>/v2.0).`);
  let stated: string | undefined;
  try {
    stated = ((await response.clone().json()) as { issuer?: unknown }).issuer as string | undefined;
  } catch {
    fail('The discovery document is not JSON: the issuer URL points at something else.');
  }
  if (typeof stated !== 'string') return fail('The discovery document states no issuer.');
  const template = stated.includes(TENANT_PLACEHOLDER);
  if (template && issuer.replace(/\/$/, '').replace(/\/(?:organizations|common)\//, `/${TENANT_PLACEHOLDER}/`) !== stated.replace(/\/$/, '')) {
    fail(`The discovery document states the issuer ${stated}, which does not belong to ${issuer}.`);
  }
  let md: oauth.AuthorizationServer;
  try {
    md = await oauth.processDiscoveryResponse(template ? new URL(stated) : url, response);
  } catch (err) {
    return fail(
      err instanceof oauth.OperationProcessingError && /issuer/i.test(err.message)
        ? `The discovery document states the issuer ${stated}, not ${issuer}. Use exactly the issuer it states.`
        : `The discovery document is not usable: ${(err as Error).message}.`,
    );
  }
  for (const field of ['authorization_endpoint', 'token_endpoint', 'jwks_uri'] as const) {
    if (typeof md[field] !== 'string') fail(`The discovery document has no ${field}.`);
    checkProviderUrl(md[field]!, field);
  }
  if (md.end_session_endpoint) checkProviderUrl(md.end_session_endpoint, 'end_session_endpoint');
  const responseTypes = stringList(md.response_types_supported);
  if (responseTypes && !responseTypes.includes('code')) fail('The provider does not offer the authorization code flow (response_type=code).');
  const algs = stringList(md.id_token_signing_alg_values_supported);
  const authMethods = stringList(md.token_endpoint_auth_methods_supported);
  const responseModes = stringList(md.response_modes_supported);
  if (algs && !algs.some((a) => (ACCEPTED_ALGORITHMS as readonly string[]).includes(a))) {
    fail(`The provider signs ID tokens only with ${algs.join(', ')}; Keydesk accepts ${ACCEPTED_ALGORITHMS.join(', ')}.`);
  }
  return {
    issuer: stated,
    authorization_endpoint: md.authorization_endpoint!,
    token_endpoint: md.token_endpoint!,
    jwks_uri: md.jwks_uri!,
    ...(md.end_session_endpoint ? { end_session_endpoint: md.end_session_endpoint } : {}),
    ...(algs ? { id_token_signing_alg_values_supported: algs } : {}),
    ...(authMethods ? { token_endpoint_auth_methods_supported: authMethods } : {}),
    ...(responseModes ? { response_modes_supported: responseModes } : {}),
    ...(md.backchannel_logout_supported !== undefined ? { backchannel_logout_supported: md.backchannel_logout_supported === true } : {}),
    ...(md.backchannel_logout_session_supported !== undefined ? { backchannel_logout_session_supported: md.backchannel_logout_session_supported === true } : {}),
    ...(md.authorization_response_iss_parameter_supported !== undefined
      ? { authorization_response_iss_parameter_supported: md.authorization_response_iss_parameter_supported === true }
      : {}),
  };
}

/**
 * A list the discovery document states (RFC 8414 §2: a JSON array of strings), as Keydesk keeps it:
 * its strings only, at most 50 of at most 200 storable characters each. Anything else in the array
 * (a nested array, a number) is dropped, so what is stored is as flat and small as the spec's.
 * @returns undefined when the field is not an array
 */
function stringList(v: unknown): string[] | undefined {
  if (!Array.isArray(v)) return undefined;
  return v.filter((x): x is string => typeof x === 'string' && x.length <= 200 && storable(x)).slice(0, 50);
}
