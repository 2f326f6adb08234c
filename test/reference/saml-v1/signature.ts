import { SAML, ValidateInResponseTo } from '@node-saml/node-saml';
import { createHash, X509Certificate } from 'node:crypto';
import { describeCertificate } from '../../../src/identity/saml/certificates.js';
import { SamlFailure } from '../../../src/identity/saml/failure.js';
import { nodes, text } from './xml.js';
import type { ParsedResponse } from './structure.js';

export interface Verified {
  /** The assertion exactly as covered by a verified signature: the only source of identity. */
  assertionXml: string;
}

/**
 * Cryptographic verification, delegated to @node-saml/node-saml (xml-crypto underneath). Its own
 * audience, time and InResponseTo checks are switched off: Keydesk's stricter checks run on the
 * verified assertion afterwards, with diagnostics that say by how much and what to change.
 */
export async function verifySignature(
  samlResponse: string,
  p: ParsedResponse,
  opts: { certificates: string[]; spEntityId: string; acsUrl: string; responseSigned: boolean; assertionSigned: boolean },
): Promise<Verified> {
  const saml = new SAML({
    idpCert: opts.certificates,
    issuer: opts.spEntityId,
    callbackUrl: opts.acsUrl,
    audience: false,
    acceptedClockSkewMs: -1,
    wantAuthnResponseSigned: opts.responseSigned,
    wantAssertionsSigned: opts.assertionSigned,
    validateInResponseTo: ValidateInResponseTo.never,
    disableRequestedAuthnContext: true,
  });
  let assertionXml: string;
  try {
    const { profile } = await saml.validatePostResponseAsync({ SAMLResponse: samlResponse.replace(/\s+/g, '') });
    if (!profile) throw new Error('no profile');
    if (!profile.getAssertionXml) throw new Error('no verified assertion');
    assertionXml = profile.getAssertionXml();
  } catch (err) {
    throw diagnose(p, opts.certificates, (err as Error).message);
  }
  const expired = expiredSigner(p, opts.certificates);
  if (expired) throw expired;
  return { assertionXml };
}

function embeddedCertificates(p: ParsedResponse): X509Certificate[] {
  return [p.responseSignature, p.assertionSignature]
    .filter((s): s is Element => s !== null)
    .flatMap((s) => nodes(".//*[local-name()='X509Certificate']", s).map((c) => text(c)))
    .flatMap((b64) => {
      try {
        return [new X509Certificate(Buffer.from(b64.replace(/\s+/g, ''), 'base64'))];
      } catch {
        return [];
      }
    });
}

const thumbprint = (c: X509Certificate) => createHash('sha1').update(c.raw).digest('hex').toUpperCase();

/** Says which certificate signed (when the signature names it) and which ones are trusted. */
function diagnose(p: ParsedResponse, trusted: string[], libraryMessage: string): SamlFailure {
  const trustedInfo = trusted.map((pem) => describeCertificate(pem));
  const trustedPrints = new Set(trustedInfo.map((c) => c.thumbprintSha1));
  const embedded = embeddedCertificates(p);
  const stranger = embedded.find((c) => !trustedPrints.has(thumbprint(c)));
  const trustedList = trustedInfo.map((c) => ({ thumbprint: c.thumbprintSha1, notAfter: c.notAfter }));
  if (stranger) {
    return new SamlFailure('untrusted_certificate', `Signed with certificate ${thumbprint(stranger)} (valid until ${new Date(stranger.validTo).toISOString()}), which this connection does not trust.`, {
      received: { thumbprint: thumbprint(stranger), subject: stranger.subject, notAfter: new Date(stranger.validTo).toISOString() },
      trusted: trustedList,
    });
  }
  return new SamlFailure('bad_signature', `The signature did not verify against the trusted certificates (${libraryMessage}).`, { trusted: trustedList });
}

/** A valid signature by a trusted certificate that has since expired is still refused. */
function expiredSigner(p: ParsedResponse, trusted: string[], now = Date.now()): SamlFailure | null {
  const info = trusted.map((pem) => describeCertificate(pem, now));
  const embedded = embeddedCertificates(p).map(thumbprint);
  const signer = embedded.length ? info.filter((c) => embedded.includes(c.thumbprintSha1)) : info;
  if (signer.length && signer.every((c) => Date.parse(c.notAfter) < now)) {
    const c = signer[0]!;
    return new SamlFailure('expired_certificate', `The signing certificate ${c.thumbprintSha1} expired on ${c.notAfter}.`, {
      certificate: { thumbprint: c.thumbprintSha1, notBefore: c.notBefore, notAfter: c.notAfter },
    });
  }
  return null;
}
