/**
 * How a sign-in through any identity provider (SAML or OpenID Connect) fails. Each protocol
 * subclasses SigninFailure with its own codes and fixes (saml/failure.ts, oidc/failure.ts); the
 * codes here are the account rule's and the connection's, shared by both.
 */
export const SIGNIN_FAILURES = {
  user_disabled: 'The user exists in Keydesk but is disabled. Enable the account under Users if they should have access.',
  user_deleted: 'SCIM provisioning deleted this account. Assign the person to the application in the identity provider again; provisioning then restores the account.',
  break_glass: 'Break-glass accounts sign in with their password only, so that they work on the day the identity provider does not. Give the person a second, ordinary account for single sign-on.',
  subject_conflict:
    "Keydesk binds each account to one identity per connection. If the address now belongs to someone new, change the old account's email under Users (or remove it): the next sign-in then creates the newcomer's own account. If it is the same person with a new identity at the identity provider, remove the old sign-in identity from the account under Users.",
  bound_elsewhere:
    'The account already signs in through another connection. If the person now signs in through this one instead, remove their other identity under Users (or disable the other connection while everyone moves over); the next sign-in then links by the usual rule.',
  link_unverified: 'Verify the email domain under Single sign-on › Domains (the person is then linked at their next sign-in), or provision the person with SCIM.',
  user_not_permitted: 'The user has no Keydesk account and just-in-time accounts are off for this connection. Create the user, provision them with SCIM, or turn on just-in-time accounts.',
  connection_disabled: 'This connection is disabled.',
  connection_unpublished:
    'The connection is still being tested: only the Test sign-in button uses it. Run Test sign-in under Single sign-on (a passed test publishes it), or publish it there anyway.',
} as const;

/** What an identity needs to be usable, worded for the protocol it came by. */
export const CLAIM_FAILURES = {
  no_subject: {
    saml: "The assertion names no user that stays the same from one sign-in to the next: no objectidentifier claim, and the NameID is missing or transient (a new value each time). Send the objectidentifier claim or a persistent NameID, or map a stable attribute as the subject in the connection's attribute map.",
    oidc: 'The ID token has no sub claim. Every OpenID provider must send one: check that the connection points at an OpenID Connect issuer.',
  },
  bad_subject: {
    saml: 'The subject (objectidentifier or NameID) is longer than 512 characters. Send a shorter persistent NameID, or map a shorter stable attribute as the subject.',
    oidc: 'The subject (oid or sub) is longer than 512 characters, which no Entra or Okta token has: check the issuer.',
  },
  no_email: {
    saml: "No email address arrived. In Entra's Attributes & Claims, add the emailaddress claim (user.mail) or set the NameID to the email.",
    oidc: 'No email address arrived. In Entra: App registrations › your app › Token configuration › Add optional claim › ID › email (the user needs a mail address). In Okta: add the email scope to the app’s grant. Keydesk asks for the openid, profile and email scopes.',
  },
} as const;

export type SigninFailureCode = keyof typeof SIGNIN_FAILURES;
export type ClaimFailureCode = keyof typeof CLAIM_FAILURES;

/** A verified sign-in that the account rule refuses: answered 403, where a bad message is 400. */
const ACCOUNT_REFUSALS: ReadonlySet<string> = new Set(['user_disabled', 'user_not_permitted', 'user_deleted', 'break_glass', 'subject_conflict', 'bound_elsewhere', 'link_unverified']);

export function failureStatus(code: string): 400 | 403 {
  return ACCOUNT_REFUSALS.has(code) ? 403 : 400;
}

export class SigninFailure extends Error {
  readonly fix: string;
  constructor(
    readonly code: string,
    message: string,
    readonly data: Record<string, unknown> = {},
    /** What the admin should do: a fix naming this case's values, else the code's general fix. */
    fix?: string,
  ) {
    super(message);
    this.fix = fix ?? (SIGNIN_FAILURES as Record<string, string>)[code] ?? '';
  }
}

/** An identity the account rule cannot use, with the fix for the protocol it came by. */
export class ClaimFailure extends SigninFailure {
  constructor(code: ClaimFailureCode, protocol: 'saml' | 'oidc', message: string) {
    super(code, message, {}, CLAIM_FAILURES[code][protocol]);
  }
}

/** A refusal by the account rule or the connection's state, whatever the protocol. */
export class AccountFailure extends SigninFailure {
  constructor(code: SigninFailureCode, message: string, data: Record<string, unknown> = {}, fix?: string) {
    super(code, message, data, fix ?? SIGNIN_FAILURES[code]);
  }
}
