import { SigninFailure } from '../signin/failure.js';

/**
 * Every way a SAML sign-in can fail, with what the admin should do about it. The trace page shows
 * `fix`; the person signing in sees only a reference id.
 */
export const SAML_FAILURES = {
  too_large: 'The identity provider sent more than Keydesk accepts. Remove unneeded claims (for example, emit only groups assigned to the application).',
  misdirected: "The identity provider posted the response to a Keydesk URL other than the Reply URL. In Entra's Basic SAML Configuration (Okta: Single sign-on URL), set the Reply URL to the connection's Reply URL shown in Keydesk.",
  not_base64: 'The SAMLResponse parameter is not base64. Check that the identity provider posts to the Reply URL with the HTTP-POST binding.',
  doctype: 'The response contained a DOCTYPE, which Keydesk never accepts. A genuine Entra or Okta response never does: treat this as an attack.',
  malformed: 'The response is not well-formed XML.',
  not_a_response: 'The message is not a SAML 2.0 Response.',
  assertion_count: 'A response must carry exactly one assertion. Several assertions, or assertions hidden elsewhere in the message, are refused.',
  encrypted_assertion: 'The assertion is encrypted. Turn off token encryption for this application in the identity provider.',
  status: 'The identity provider reported an error instead of signing the user in. Its message is shown; AADSTS codes are explained in Microsoft\'s documentation.',
  destination_mismatch: "The response was addressed to a different URL. In Entra's Basic SAML Configuration, set the Reply URL (Assertion Consumer Service URL) to the value shown.",
  issuer_mismatch: "The response comes from a different identity provider than this connection trusts. Re-import the identity provider's metadata, or correct the IdP entity ID.",
  unsigned: 'Neither the response nor the assertion is signed. In Entra, set Signing Option to "Sign SAML assertion" (or response and assertion).',
  weak_algorithm: 'The signature uses SHA-1. In Entra, set the signing algorithm to SHA-256; or, if you must, allow SHA-1 for this connection.',
  bad_algorithm: 'The signature uses an algorithm Keydesk does not accept.',
  signature_scope: "A signature does not cover the element it sits in. Genuine responses never do this: treat it as an attack (signature wrapping).",
  untrusted_certificate: "The signature was not made by a certificate this connection trusts. If the identity provider rolled its certificate over, re-import its metadata or upload the new certificate.",
  expired_certificate: 'The signing certificate has expired. Activate a current certificate in the identity provider and re-import its metadata.',
  bad_signature: 'The signature does not verify: the message was altered after it was signed, or it was signed with another key.',
  audience_mismatch: "The assertion is meant for a different application. In Entra, set the Identifier (Entity ID) to the value shown.",
  recipient_mismatch: "The assertion was issued for a different Reply URL. In Entra, set the Reply URL to the value shown.",
  not_yet_valid: "The assertion is not valid yet. The identity provider's clock and Keydesk's differ by more than the allowed skew; check the server clocks, or raise the connection's clock skew.",
  expired: "The assertion has expired. It took too long to arrive, or the clocks differ by more than the allowed skew.",
  no_bearer_confirmation: 'The assertion has no bearer SubjectConfirmation with a Recipient: it cannot be used for web sign-in.',
  unknown_request: 'The response answers a sign-in request Keydesk did not send, or one that was already used or expired. Start the sign-in again from Keydesk.',
  in_response_to_mismatch: 'The response and its assertion name different requests.',
  idp_initiated_disabled: 'Sign-in started at the identity provider (for example a My Apps tile), which this connection does not allow. Start from Keydesk, or allow IdP-initiated sign-in.',
  replayed: 'This assertion was already used. Each assertion signs in once; someone may be replaying a captured response.',
  groups_overage: 'The user is in more than 150 groups, so Entra sent a link instead of the groups claim; roles from group rules could not be applied. In Entra, emit only "Groups assigned to the application".',
} as const;

export type SamlFailureCode = keyof typeof SAML_FAILURES;

/** A SAML message that is refused, with the check's own fix. */
export class SamlFailure extends SigninFailure {
  constructor(
    code: SamlFailureCode,
    message: string,
    data: Record<string, unknown> = {},
    /** A fix naming this case's values (a domain, an account); the code's general fix otherwise. */
    fix?: string,
  ) {
    super(code, message, data, fix ?? SAML_FAILURES[code]);
  }
}
