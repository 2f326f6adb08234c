import { attr, escapeXml, nodes, parseUntrustedXml, text, XmlRejected } from './xml.js';
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
  let doc: Document;
  try {
    doc = parseUntrustedXml(xml, MAX_METADATA_BYTES);
  } catch (err) {
    if (err instanceof XmlRejected) throw new MetadataRejected(err.message);
    throw err;
  }
  const entities = nodes("//*[local-name()='EntityDescriptor' and namespace-uri()='urn:oasis:names:tc:SAML:2.0:metadata']", doc);
  const withIdp = entities.filter((e) => nodes("./*[local-name()='IDPSSODescriptor']", e).length > 0);
  if (withIdp.length === 0) throw new MetadataRejected('The metadata has no IDPSSODescriptor: it does not describe a SAML identity provider.');
  if (withIdp.length > 1) throw new MetadataRejected('The metadata describes several identity providers; upload the one for this connection.');
  const entity = withIdp[0]!;
  const entityId = attr(entity, 'entityID');
  if (!entityId) throw new MetadataRejected('The EntityDescriptor has no entityID.');
  const idp = nodes("./*[local-name()='IDPSSODescriptor']", entity)[0]!;

  const sso = nodes("./*[local-name()='SingleSignOnService']", idp);
  const ssoRedirect = sso.find((n) => attr(n, 'Binding') === REDIRECT);
  const ssoUrl = attr(ssoRedirect, 'Location');
  if (!ssoUrl) {
    throw new MetadataRejected(
      sso.some((n) => attr(n, 'Binding') === POST)
        ? 'The identity provider offers only the HTTP-POST binding for sign-in; Keydesk sends requests with HTTP-Redirect.'
        : 'The metadata has no SingleSignOnService with the HTTP-Redirect binding.',
    );
  }
  const slo = nodes("./*[local-name()='SingleLogoutService']", idp).find((n) => attr(n, 'Binding') === REDIRECT);

  const keys = nodes("./*[local-name()='KeyDescriptor']", idp).filter((k) => {
    const use = attr(k, 'use');
    return !use || use === 'signing';
  });
  const certificates = [
    ...new Set(keys.flatMap((k) => nodes(".//*[local-name()='X509Certificate']", k).map((c) => toPem(text(c))))),
  ];
  if (!certificates.length) throw new MetadataRejected('The IDPSSODescriptor has no signing certificate.');
  for (const url of [ssoUrl, attr(slo, 'Location')]) if (url) checkUrl(url);
  return { entityId, ssoUrl, sloUrl: attr(slo, 'Location'), certificates };
}

export function checkUrl(url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new MetadataRejected(`"${url}" is not an absolute URL.`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new MetadataRejected(`"${url}" must be an http(s) URL.`);
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
