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
  no_subject:
    "The assertion names no user that stays the same from one sign-in to the next: no objectidentifier claim, and the NameID is missing or transient (a new value each time). Send the objectidentifier claim or a persistent NameID, or map a stable attribute as the subject in the connection's attribute map.",
  bad_subject: 'The subject (objectidentifier or NameID) is longer than 512 characters. Send a shorter persistent NameID, or map a shorter stable attribute as the subject.',
  no_email: "No email address arrived. In Entra's Attributes & Claims, add the emailaddress claim (user.mail) or set the NameID to the email.",
  groups_overage: 'The user is in more than 150 groups, so Entra sent a link instead of the groups claim; roles from group rules could not be applied. In Entra, emit only "Groups assigned to the application".',
  user_disabled: 'The user exists in Keydesk but is disabled. Enable the account under Users if they should have access.',
  user_deleted: 'SCIM provisioning deleted this account. Assign the person to the application in the identity provider again; provisioning then restores the account.',
  break_glass: 'Break-glass accounts sign in with their password only, so that they work on the day the identity provider does not. Give the person a second, ordinary account for single sign-on.',
  subject_conflict:
    "Keydesk binds each account to one identity per connection. If the address now belongs to someone new, change the old account's email under Users (or remove it): the next sign-in then creates the newcomer's own account. If it is the same person with a new identity at the identity provider, remove the old sign-in identity from the account under Users.",
  bound_elsewhere:
    "The account already signs in through another connection. If the person now signs in through this one instead, remove their other identity under Users (or disable the other connection while everyone moves over); the next sign-in then links by the usual rule.",
  link_unverified: 'Verify the email domain under Single sign-on › Domains (the person is then linked at their next sign-in), or provision the person with SCIM.',
  user_not_permitted: 'The user has no Keydesk account and just-in-time accounts are off for this connection. Create the user, provision them with SCIM, or turn on just-in-time accounts.',
  connection_disabled: 'This connection is disabled.',
  connection_unpublished:
    'The connection is still being tested: only the Test sign-in button uses it. Run Test sign-in under Single sign-on (a passed test publishes it), or publish it there anyway.',
} as const;

export type SamlFailureCode = keyof typeof SAML_FAILURES;

/** A verified sign-in that the account rule refuses: answered 403, where a bad message is 400. */
const ACCOUNT_REFUSALS: ReadonlySet<SamlFailureCode> = new Set(['user_disabled', 'user_not_permitted', 'user_deleted', 'break_glass', 'subject_conflict', 'bound_elsewhere', 'link_unverified']);

export function failureStatus(code: string): 400 | 403 {
  return ACCOUNT_REFUSALS.has(code as SamlFailureCode) ? 403 : 400;
}

export class SamlFailure extends Error {
  readonly fix: string;
  constructor(
    readonly code: SamlFailureCode,
    message: string,
    readonly data: Record<string, unknown> = {},
    /** A fix naming this case's values (a domain, an account); the code's general fix otherwise. */
    fix?: string,
  ) {
    super(message);
    this.fix = fix ?? SAML_FAILURES[code];
  }
}
