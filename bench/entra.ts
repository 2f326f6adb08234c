/**
 * Entra-shaped SAML responses signed with a key the benchmark holds, for the saml and signin-load
 * suites: only the assertion signed (RSA-SHA256, exclusive c14n), the assertion in the default
 * namespace, Entra's claim URIs. Signing is done with test/helpers/saml-forge.ts and never timed.
 */
import { randomUUID } from 'node:crypto';
import type { SpUrls } from '../src/identity/saml/metadata.js';
import { b64, buildAssertion, sign, wrapInResponse, type KeyPair, type ResponseParts } from '../test/helpers/saml-forge.js';

export interface Idp {
  keys: KeyPair;
  tenantId: string;
  entityId: string;
}

export interface Person {
  objectId: string;
  email: string;
  givenName: string;
  surname: string;
}

const FIRST = ['Megan', 'Adele', 'Alex', 'Diego', 'Grady', 'Henrietta', 'Isaiah', 'Johanna', 'Lee', 'Lidia', 'Lynne', 'Miriam', 'Nestor', 'Patti', 'Pradeep'];
const LAST = ['Bowen', 'Vance', 'Wilber', 'Siciliani', 'Archie', 'Mueller', 'Langer', 'Lorenz', 'Gu', 'Holloway', 'Robbins', 'Graham', 'Wilke', 'Fernandez', 'Gupta'];

export function person(i: number): Person {
  const givenName = FIRST[i % FIRST.length]!;
  const surname = LAST[Math.floor(i / FIRST.length) % LAST.length]!;
  return { objectId: randomUUID(), email: `${givenName}.${surname}.${i}@contoso.example`.toLowerCase(), givenName, surname };
}

/**
 * A response as Entra ID sends it: only the assertion signed (RSA-SHA256, exclusive c14n, the
 * certificate in KeyInfo), the assertion in the default namespace, Entra's claim URIs, a
 * SessionIndex, IdP-initiated (no InResponseTo). Every call gets fresh Response and Assertion IDs.
 * Returns the base64 SAMLResponse and the size of the XML.
 */
export function entraResponse(
  idp: Idp,
  sp: SpUrls,
  who: Person,
  groups: string[],
  over: Partial<ResponseParts> = {},
  edit: (xml: string) => string = (xml) => xml,
): { samlResponse: string; xmlBytes: number } {
  const attributes: Record<string, string[]> = {
    'http://schemas.microsoft.com/identity/claims/tenantid': [idp.tenantId],
    'http://schemas.microsoft.com/identity/claims/objectidentifier': [who.objectId],
    'http://schemas.microsoft.com/identity/claims/displayname': [`${who.givenName} ${who.surname}`],
    'http://schemas.microsoft.com/ws/2008/06/identity/claims/groups': groups,
    'http://schemas.microsoft.com/identity/claims/identityprovider': [idp.entityId],
    'http://schemas.microsoft.com/claims/authnmethodsreferences': [
      'http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password',
      'http://schemas.microsoft.com/claims/multipleauthn',
    ],
    'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname': [who.givenName],
    'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname': [who.surname],
    'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress': [who.email],
    'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name': [who.email],
  };
  const parts: ResponseParts = {
    issuer: idp.entityId,
    destination: sp.acsUrl,
    audience: sp.entityId,
    recipient: sp.acsUrl,
    nameId: who.email,
    attributes,
    ...over,
  };
  // Entra writes the assertion in the default namespace (<Assertion xmlns="…">, <Attribute>), which
  // is what makes 150 groups come to about 15 KB; the forge writes saml: prefixes, so drop them.
  const assertion = buildAssertion(parts)
    .replace(' xmlns:saml=', ' xmlns=')
    .replace(/<(\/?)saml:/g, '<$1')
    .replace('<AuthnStatement ', `<AuthnStatement SessionIndex="_${randomUUID()}" `);
  const xml = edit(wrapInResponse(parts, sign(assertion, 'Assertion', idp.keys)));
  return { samlResponse: b64(xml), xmlBytes: Buffer.byteLength(xml, 'utf8') };
}

export const guids = (n: number) => Array.from({ length: n }, () => randomUUID());
