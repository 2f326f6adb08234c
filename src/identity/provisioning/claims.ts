import { isEmailAddress } from '../users.js';

/**
 * Turns what an identity provider sent into Keydesk's view of a person. Defaults cover Entra's claim
 * URIs and Okta's usual attribute names; a connection's attribute map overrides any of them.
 */
export const CLAIM_DEFAULTS = {
  subject: ['http://schemas.microsoft.com/identity/claims/objectidentifier'],
  email: ['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress', 'email', 'mail', 'urn:oid:0.9.2342.19200300.100.1.3'],
  givenName: ['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname', 'firstName', 'givenName', 'urn:oid:2.5.4.42'],
  surname: ['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname', 'lastName', 'surname', 'sn', 'urn:oid:2.5.4.4'],
  displayName: ['http://schemas.microsoft.com/identity/claims/displayname', 'displayName', 'urn:oid:2.16.840.1.113730.3.1.241'],
  groups: ['http://schemas.microsoft.com/ws/2008/06/identity/claims/groups', 'groups', 'memberOf'],
  /** Entra app roles assigned under Users and groups: role rules match their values as they match groups. */
  roles: ['http://schemas.microsoft.com/ws/2008/06/identity/claims/role', 'roles'],
} as const;

/** Entra replaces the groups claim with this link when a user is in more than 150 groups. */
export const GROUPS_OVERAGE_CLAIM = 'http://schemas.microsoft.com/claims/groups.link';

export type ClaimKey = keyof typeof CLAIM_DEFAULTS;

export interface MappedClaims {
  /** Stable key at the IdP: objectidentifier when present (UPNs change), else a NameID that is not transient. */
  subject: string | null;
  subjectSource: string;
  email: string | null;
  /**
   * The identity provider says the owner of the email's domain verified the address (OIDC: Entra's
   * `xms_edov`, `email_verified` from a provider that owns the domain). SAML carries no such claim.
   */
  emailOwnerVerified: boolean;
  displayName: string;
  /** null: the groups are unknown (overage), which is not the same as "no groups". */
  groups: string[] | null;
  groupsOverage: boolean;
  /**
   * Whether this identity provider speaks for the workspace's verified domains. False for a guest
   * directory of a multi-tenant connection: it may assert any address, so its word links no account
   * and takes no address in a verified domain without the owner's proof (`emailOwnerVerified`).
   */
  domainAuthority: boolean;
}


const TRANSIENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient';

export function mapClaims(
  input: { nameId: string | null; nameIdFormat?: string | null; attributes: Record<string, string[]> },
  overrides: Partial<Record<ClaimKey, string>> = {},
): MappedClaims {
  const names = (key: ClaimKey): readonly string[] => (overrides[key] ? [overrides[key]!] : CLAIM_DEFAULTS[key]);
  // Attribute names are matched exactly first, then case-insensitively (admins type "Email").
  const lower = new Map(Object.entries(input.attributes).map(([k, v]) => [k.toLowerCase(), v]));
  const values = (key: ClaimKey): string[] | null => {
    for (const n of names(key)) {
      // Own names only: an attribute (or an override) named "constructor" is not Object's.
      const v = (Object.hasOwn(input.attributes, n) ? input.attributes[n] : undefined) ?? lower.get(n.toLowerCase());
      if (v) return v.filter((x) => x.trim() !== '');
    }
    return null;
  };
  const first = (key: ClaimKey) => values(key)?.[0]?.trim() || null;

  const objectId = first('subject');
  const emailClaim = first('email');
  const email = emailClaim && isEmailAddress(emailClaim) ? emailClaim : input.nameId && isEmailAddress(input.nameId) ? input.nameId : null;
  const given = first('givenName');
  const surname = first('surname');
  const displayName = first('displayName') ?? ([given, surname].filter(Boolean).join(' ') || email || input.nameId || 'Unknown user');
  const overage = Object.hasOwn(input.attributes, GROUPS_OVERAGE_CLAIM);
  const listed = values('groups');
  const roles = values('roles') ?? [];
  const groups = listed || roles.length ? [...new Set([...(listed ?? []), ...roles])] : null;
  // A transient NameID is new at every sign-in: it names a session, not a person.
  const transient = !objectId && input.nameIdFormat === TRANSIENT;
  return {
    subject: objectId ?? (transient ? null : input.nameId),
    subjectSource: objectId ? 'objectidentifier' : transient ? 'transient NameID' : 'NameID',
    email,
    emailOwnerVerified: false,
    displayName: displayName.slice(0, 200),
    groups: overage && !listed ? null : (groups ?? []),
    groupsOverage: overage,
    domainAuthority: true,
  };
}
