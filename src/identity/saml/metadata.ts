import { allElements, attr, childElement, childElements, escapeXml, NS, parseUntrustedXml, text, XmlRejected } from './xml.js';
import { toPem } from './certificates.js';

const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
const POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
export const MAX_METADATA_BYTES = 1024 * 1024;

export interface IdpMetadata {
  entityId: string;
  ssoUrl: string;
  sloUrl: string | null;
  certificates: string[];
}

export class MetadataRejected extends Error {}

/**
 * Reads an identity provider's SAML metadata: Entra's federation metadata (WS-Federation
 * RoleDescriptors before the IDPSSODescriptor, several signing certificates, no NameIDFormat),
 * Okta's, or any SAML 2.0 IdP's. Only the IDPSSODescriptor's signing keys are trusted, and every
 * one of them (Microsoft: accept every certificate in the document, for rollover).
 */
export function parseIdpMetadata(xml: string): IdpMetadata {
  let entities: Element[];
  try {
    entities = allElements(parseUntrustedXml(xml, MAX_METADATA_BYTES)).filter((e) => e.localName === 'EntityDescriptor' && e.namespaceURI === NS.md);
  } catch (err) {
    if (err instanceof XmlRejected) throw new MetadataRejected(err.message);
    throw err;
  }
  const withIdp = entities.filter((e) => childElement(e, 'IDPSSODescriptor', NS.md));
  if (withIdp.length === 0) throw new MetadataRejected('The metadata has no IDPSSODescriptor: it does not describe a SAML identity provider.');
  if (withIdp.length > 1) throw new MetadataRejected('The metadata describes several identity providers; upload the one for this connection.');
  const entity = withIdp[0]!;
  const entityId = attr(entity, 'entityID');
  if (!entityId) throw new MetadataRejected('The EntityDescriptor has no entityID.');
  const idp = childElement(entity, 'IDPSSODescriptor', NS.md)!;

  const sso = childElements(idp, 'SingleSignOnService', NS.md);
  const ssoRedirect = sso.find((n) => attr(n, 'Binding') === REDIRECT);
  const ssoUrl = attr(ssoRedirect, 'Location');
  if (!ssoUrl) {
    throw new MetadataRejected(
      sso.some((n) => attr(n, 'Binding') === POST)
        ? 'The identity provider offers only the HTTP-POST binding for sign-in; Keydesk sends requests with HTTP-Redirect.'
        : 'The metadata has no SingleSignOnService with the HTTP-Redirect binding.',
    );
  }
  const slo = childElements(idp, 'SingleLogoutService', NS.md).find((n) => attr(n, 'Binding') === REDIRECT);

  const keys = childElements(idp, 'KeyDescriptor', NS.md).filter((k) => {
    const use = attr(k, 'use');
    return !use || use === 'signing';
  });
  const certificates = [
    ...new Set(keys.flatMap((k) => allElements(k).filter((c) => c.localName === 'X509Certificate' && c.namespaceURI === NS.ds).map((c) => toPem(text(c))))),
  ];
  if (!certificates.length) throw new MetadataRejected('The IDPSSODescriptor has no signing certificate.');
  for (const url of [ssoUrl, attr(slo, 'Location')]) if (url) checkUrl(url);
  return { entityId, ssoUrl, sloUrl: attr(slo, 'Location'), certificates };
}

export function checkUrl(url: string): void {
  // Quoted back only in part: whatever was pasted here need not be shown again in full.
  const shown = url.length > 80 ? `${url.slice(0, 60)}…` : url;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new MetadataRejected(`"${shown}" is not an absolute URL.`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new MetadataRejected(`"${shown}" must be an http(s) URL.`);
}

export interface SpUrls {
  entityId: string;
  acsUrl: string;
  loginUrl: string;
  sloUrl: string;
}

/** Our side, for the IdP admin: paste these into Entra's Basic SAML Configuration, or upload the XML. */
export function spMetadataXml(sp: SpUrls): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="${escapeXml(sp.entityId)}">
  <md:SPSSODescriptor AuthnRequestsSigned="false" WantAssertionsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:SingleLogoutService Binding="${REDIRECT}" Location="${escapeXml(sp.sloUrl)}"/>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
    <md:AssertionConsumerService Binding="${POST}" Location="${escapeXml(sp.acsUrl)}" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
`;
}
