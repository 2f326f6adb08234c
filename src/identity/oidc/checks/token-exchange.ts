import * as oauth from 'oauth4webapi';
import { OidcFailure } from '../failure.js';
import { requestOptions } from '../provider.js';
import { providerErrorFix } from '../provider-errors.js';

/**
 * The code is exchanged at the token endpoint (RFC 6749 §4.1.3, with the PKCE verifier of RFC 7636
 * §4.5). The response is read here only to find the ID token and to explain refusals; it is
 * validated by the checks that follow.
 * @throws OidcFailure token_endpoint | invalid_client | invalid_grant
 */
export async function exchangeCode(
  as: oauth.AuthorizationServer,
  client: oauth.Client,
  clientAuth: oauth.ClientAuth,
  input: { callbackParams: URLSearchParams; redirectUri: string; codeVerifier: string },
): Promise<{ response: Response; idToken: string }> {
  let response: Response;
  try {
    response = await oauth.authorizationCodeGrantRequest(as, client, clientAuth, input.callbackParams, input.redirectUri, input.codeVerifier, requestOptions(as.token_endpoint!));
  } catch (err) {
    throw new OidcFailure('token_endpoint', `The token endpoint ${as.token_endpoint} could not be reached: ${(err as Error).message}.`);
  }
  let body: Record<string, unknown>;
  try {
    body = (await response.clone().json()) as Record<string, unknown>;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new Error('not an object');
  } catch {
    throw new OidcFailure('token_endpoint', `The token endpoint answered HTTP ${response.status} with something that is not a JSON object.`);
  }
  if (response.status !== 200 || typeof body.error === 'string') {
    const error = typeof body.error === 'string' ? body.error.slice(0, 100) : `HTTP ${response.status}`;
    const description = typeof body.error_description === 'string' ? body.error_description.slice(0, 1000) : '';
    const message = `The token endpoint refused the code: ${error}${description ? `: ${description}` : ''}`;
    const fix = providerErrorFix(error, description, { redirectUri: input.redirectUri, clientId: client.client_id });
    // At the token endpoint the client ID is known good (the provider took it at the authorization
    // step): invalid_client here is the secret or key, unless an AADSTS code says otherwise.
    if (error === 'invalid_client' || /AADSTS7000(215|222)/.test(description)) throw new OidcFailure('invalid_client', message, { error }, /AADSTS\d+/.test(description) ? fix : undefined);
    if (error === 'unauthorized_client') throw new OidcFailure('invalid_client', message, { error }, fix);
    if (error === 'invalid_grant') throw new OidcFailure('invalid_grant', message, { error });
    throw new OidcFailure('token_endpoint', message, { error }, fix);
  }
  if (typeof body.id_token !== 'string') throw new OidcFailure('token_endpoint', 'The token response carries no ID token: the openid scope was not granted.');
  return { response, idToken: body.id_token };
}
