import type { IDToken } from 'oauth4webapi';
import { isEmailAddress } from '../users.js';
import type { MappedClaims } from '../provisioning/claims.js';

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x.trim() !== '').map((x) => x.trim()) : []);
const text = (v: unknown): string | null => (typeof v === 'string' && v.trim() ? v.trim() : null);

/**
 * An ID token's claims as Keydesk's view of a person, for the one account rule:
 * - subject: the issuer and Entra's `oid` (stable across apps of a directory), else `sub`;
 * - email: `email`, else `preferred_username` when it is an address; the owner of the address is
 *   vouched for only by Entra's `xms_edov` (the domain's owner verified it), or by `email_verified`
 *   from a provider other than Entra (whose `email` an admin can set to anything: "nOAuth") that
 *   owns the address's domain (issuerOwnsDomain): an Okta org's `email_verified` says only that
 *   someone answered a mail, and its admins can mark any address verified;
 * - groups: `groups` (Entra: object ids; Okta: names) and the app `roles`, which rules match alike;
 *   a groups overage (`_claim_names.groups`, `hasgroups`) makes them unknown, not empty; a guest
 *   directory's values are prefixed with its tenant id (`<tid>:<value>`).
 */
export function mapIdToken(claims: IDToken & Record<string, unknown>, opts: { entra: boolean; homeTenant?: string | null; tenantId?: string | null }): MappedClaims {
  // A multi-tenant connection's guest directories (any allowed tenant but the first, the home one)
  // define their own groups and assign the app's roles to their own people: their values are told
  // apart by the tenant, so a rule for "Keydesk.Admins" matches only the home directory's.
  const guest = !!opts.homeTenant && !!opts.tenantId && opts.tenantId.toLowerCase() !== opts.homeTenant.toLowerCase();
  const scoped = (values: string[]) => (guest ? values.map((v) => `${opts.tenantId}:${v}`) : values);
  const oid = text(claims.oid);
  const emailClaim = text(claims.email);
  const preferred = text(claims.preferred_username);
  const email = emailClaim && isEmailAddress(emailClaim) ? emailClaim : preferred && isEmailAddress(preferred) ? preferred : null;
  const names = claims._claim_names && typeof claims._claim_names === 'object' ? (claims._claim_names as Record<string, unknown>) : {};
  const overage = 'groups' in names || claims.hasgroups === true || claims.hasgroups === 'true';
  const given = text(claims.given_name);
  const family = text(claims.family_name);
  return {
    subject: `${claims.iss}#${oid ?? claims.sub}`,
    subjectSource: oid ? 'oid' : 'sub',
    email,
    // Each proof vouches only for the claim it is about: Entra's xms_edov and email_verified speak of `email`, not of a preferred_username used instead.
    emailOwnerVerified:
      email !== null &&
      email === emailClaim &&
      (opts.entra ? claims.xms_edov === true || claims.xms_edov === '1' : claims.email_verified === true && issuerOwnsDomain(claims.iss, email)),
    displayName: (text(claims.name) ?? ([given, family].filter(Boolean).join(' ') || email || String(claims.sub))).slice(0, 200),
    groups: overage ? null : scoped([...new Set([...strings(claims.groups), ...strings(claims.roles)])]),
    groupsOverage: overage,
    domainAuthority: !guest,
  };
}

/** Mail domains whose owner signs in through an issuer on another domain. */
const MAIL_DOMAINS_BY_ISSUER_HOST: Record<string, readonly string[]> = {
  'accounts.google.com': ['gmail.com', 'googlemail.com'],
};

/**
 * Whether the issuer speaks for the domain of `email`: its host is that domain itself, or it is a
 * mail provider's own issuer for its addresses. A host under the domain is not enough: identity
 * platforms give each customer a name under theirs (acme.okta.com), so it would speak for
 * @okta.com. Only then is its `email_verified` the domain owner's word (issue 10; decisions.md);
 * everyone else's domain is verified in Keydesk instead.
 */
export function issuerOwnsDomain(issuer: string, email: string): boolean {
  let host: string;
  try {
    host = new URL(issuer).hostname.toLowerCase();
  } catch {
    return false;
  }
  const domain = email.slice(email.lastIndexOf('@') + 1).toLowerCase();
  return domain !== '' && (host === domain || (MAIL_DOMAINS_BY_ISSUER_HOST[host]?.includes(domain) ?? false));
}
