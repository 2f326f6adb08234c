import * as oauth from 'oauth4webapi';
import { OidcFailure } from '../failure.js';
import { providerErrorFix } from '../provider-errors.js';

/**
 * The provider answered with a code, not an error (RFC 6749 §4.1.2); with RFC 9207's `iss`
 * parameter when the provider sends it. An error becomes a failure whose fix names the setting.
 * @returns the parameters the code exchange takes
 * @throws OidcFailure provider_error | missing_code | issuer_mismatch
 */
export function checkProviderResponse(
  as: oauth.AuthorizationServer,
  client: oauth.Client,
  params: URLSearchParams,
  state: string,
  ctx: { redirectUri: string },
): URLSearchParams {
  try {
    return oauth.validateAuthResponse(as, client, params, state);
  } catch (err) {
    if (err instanceof oauth.AuthorizationResponseError) {
      const description = (err.error_description ?? '').slice(0, 1000);
      throw new OidcFailure('provider_error', `${err.error}${description ? `: ${description}` : ''}`, { error: err.error }, providerErrorFix(err.error, description, { redirectUri: ctx.redirectUri, clientId: client.client_id }));
    }
    if (err instanceof oauth.OperationProcessingError && /"iss"/.test(err.message)) throw new OidcFailure('issuer_mismatch', `The callback's iss parameter names another issuer (${err.message}).`);
    throw new OidcFailure('missing_code', (err as Error).message);
  }
}
