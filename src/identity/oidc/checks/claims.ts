import * as oauth from 'oauth4webapi';
import { OidcFailure, type OidcFailureCode } from '../failure.js';

const BY_CLAIM: Record<string, OidcFailureCode> = { iss: 'issuer_mismatch', aud: 'audience_mismatch', azp: 'azp_mismatch', nonce: 'nonce_mismatch', exp: 'expired', nbf: 'not_yet_valid', iat: 'not_yet_valid' };

/**
 * The ID token's claims (OpenID Connect Core §3.1.3.7): issuer, audience, `azp`, expiry and
 * not-before within the connection's clock skew, and this sign-in's nonce, by oauth4webapi; then
 * Keydesk's stricter rule where the library leaves a choice: an `azp`, when present at all, must
 * be this client (the library checks it only with several audiences).
 * @returns the validated claims
 * @throws OidcFailure issuer_mismatch | audience_mismatch | azp_mismatch | nonce_mismatch | expired | not_yet_valid | bad_claims
 */
export async function checkIdTokenClaims(
  as: oauth.AuthorizationServer,
  client: oauth.Client,
  response: Response,
  expectedNonce: string,
): Promise<oauth.IDToken> {
  let claims: oauth.IDToken;
  try {
    const result = await oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce, requireIdToken: true });
    claims = oauth.getValidatedIdTokenClaims(result)!;
  } catch (err) {
    const message = (err as Error).message;
    // A comparison names its claim in `cause`; a missing claim only in the message.
    const missing = /JWT "(\w+)" \(.*\) claim missing/.exec(message)?.[1];
    const claim = (err as { cause?: { claim?: string } }).cause?.claim;
    const code = missing ? (missing === 'nonce' ? 'nonce_mismatch' : 'bad_claims') : claim && BY_CLAIM[claim] ? BY_CLAIM[claim] : 'bad_claims';
    throw new OidcFailure(code, `${message}${claim ? ` (${claim})` : ''}.`);
  }
  if (claims.azp !== undefined && claims.azp !== client.client_id) throw new OidcFailure('azp_mismatch', `The token's authorized party is ${String(claims.azp).slice(0, 100)}, not this client.`);
  return claims;
}
