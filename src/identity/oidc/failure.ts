import { SigninFailure } from '../signin/failure.js';

/**
 * Every way an OpenID Connect sign-in can fail, with what the admin should do about it. The trace
 * page shows the fix; the person signing in sees only a reference.
 */
export const OIDC_FAILURES = {
  unknown_state:
    'The callback answers no sign-in Keydesk started, or one already used or expired (they last 10 minutes). Start the sign-in again from Keydesk. If it keeps happening, the Redirect URI may be registered for another Keydesk.',
  other_browser:
    'The callback arrived in a browser other than the one that started the sign-in (or its cookies were blocked). Keydesk signs in only the browser that asked: start again from Keydesk in one browser. A link someone sent you is never a way in.',
  provider_error: 'The identity provider answered with an error instead of a sign-in. Its message is shown; the fix names what to change.',
  missing_code: 'The callback carried neither a code nor an error: the identity provider was set up for another response type. Keydesk uses the authorization code flow (response_type=code).',
  token_endpoint: "The token endpoint did not answer as OpenID Connect requires. Check the issuer URL, and that Keydesk's server can reach the provider.",
  invalid_client:
    "The provider refused Keydesk's client credentials at its token endpoint: the client secret is wrong or expired, or the provider expects another authentication method. Create a new secret (Entra: Certificates & secrets; Okta: General › Client Credentials) and enter it under Single sign-on › the connection › Settings › New client secret; with a certificate, check that Keydesk's certificate is uploaded at the provider.",
  invalid_grant: 'The provider refused the authorization code: it was used already, expired, or issued for another redirect URI. Start the sign-in again; if it persists, check the Redirect URI registered at the provider.',
  bad_algorithm: 'The ID token is not signed with RS256, PS256 or ES256, the only algorithms Keydesk accepts (never none or a shared-secret HMAC).',
  embedded_key: 'The ID token carries its own key in its header (jwk, jku, x5u or x5c). Keydesk verifies only with the keys the provider publishes at its jwks_uri: treat this as an attack.',
  issuer_mismatch: "The ID token comes from another issuer than this connection trusts. Check the connection's issuer URL.",
  tenant_not_allowed: "The person's Entra tenant is not on this connection's list of allowed tenants. Add the tenant id under the connection's settings if it should sign in.",
  untrusted_key: 'No key the provider publishes verifies the ID token: it was altered, or signed with another key. Keys are read from the provider’s jwks_uri (refreshed when an unknown key id appears, at most once a minute).',
  audience_mismatch: 'The ID token is meant for another application (aud). Check the connection’s client ID against the application (client) ID at the provider.',
  azp_mismatch: 'The ID token names another authorized party (azp) than this client, or several audiences without one.',
  expired: 'The ID token has expired. It took too long to arrive, or the clocks of the provider and Keydesk differ by more than the allowed skew.',
  not_yet_valid: "The ID token is not valid yet (nbf or iat in the future). The provider's clock and Keydesk's differ by more than the allowed skew.",
  nonce_mismatch: 'The ID token does not carry the nonce of this sign-in: it belongs to another sign-in, or was replayed.',
  bad_claims: 'The ID token lacks a claim OpenID Connect requires (iss, sub, aud, exp, iat), or one has the wrong type.',
  malformed:
    'Keydesk could not process the provider’s answer with its checks (the message says what failed), so it refused it rather than guess. A genuine Entra or Okta answer does not do this: check that the connection’s issuer is an OpenID provider, and send the trace reference to Keydesk support if it persists.',
  groups_overage: 'The person is in too many groups for the token, so Entra sent a link instead of the groups claim; roles from group rules were not changed. In Entra, emit only "Groups assigned to the application" (Token configuration › groups claim).',
} as const;

export type OidcFailureCode = keyof typeof OIDC_FAILURES;

/** An OpenID Connect answer that is refused, with the check's own fix. */
export class OidcFailure extends SigninFailure {
  constructor(code: OidcFailureCode, message: string, data: Record<string, unknown> = {}, fix?: string) {
    super(code, message, data, fix ?? OIDC_FAILURES[code]);
  }
}
