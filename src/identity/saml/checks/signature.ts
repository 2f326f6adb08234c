import { createHash, verify as verifySignatureBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { ExclusiveCanonicalization, ExclusiveCanonicalizationWithComments } from 'xml-crypto';
// Not re-exported by the package's index; the version is pinned in the lockfile.
import { findAncestorNsForElement } from 'xml-crypto/lib/utils.js';
import { SamlFailure } from '../failure.js';
import { allElements, attr, NS, text } from '../xml.js';
import { child } from './dom.js';
import type { SignatureParts, SignatureProfile } from './signature-profile.js';
import type { ParsedResponse } from './structure.js';

/**
 * A trusted certificate as verification uses it: its public key as a KeyObject and what the
 * diagnostics say about it. Built once per certificate text and kept (TRUSTED_CACHE_SIZE at most),
 * so the cache needs no invalidation: a connection whose certificates change asks for new texts.
 */
export interface TrustedCertificate {
  key: KeyObject;
  /** DER bytes, to match a certificate the signature carries in KeyInfo. */
  raw: Buffer;
  thumbprintSha1: string;
  notBefore: string;
  notAfter: string;
  notAfterMs: number;
}

const TRUSTED_CACHE_SIZE = 1000;
const trustedCache = new Map<string, TrustedCertificate>();

/** The parsed form of a trusted certificate (PEM), from the cache when it was seen before. */
export function trustedCertificate(pem: string): TrustedCertificate {
  let t = trustedCache.get(pem);
  if (t) return t;
  const cert = new X509Certificate(pem);
  const notAfterMs = Date.parse(cert.validTo);
  t = {
    key: cert.publicKey,
    raw: cert.raw,
    thumbprintSha1: cert.fingerprint.replace(/:/g, ''),
    notBefore: new Date(cert.validFrom).toISOString(),
    notAfter: new Date(notAfterMs).toISOString(),
    notAfterMs,
  };
  if (trustedCache.size >= TRUSTED_CACHE_SIZE) trustedCache.delete(trustedCache.keys().next().value!);
  trustedCache.set(pem, t);
  return t;
}

const HASHES: Record<string, string> = {
  'http://www.w3.org/2001/04/xmlenc#sha256': 'sha256',
  'http://www.w3.org/2001/04/xmlenc#sha512': 'sha512',
  'http://www.w3.org/2000/09/xmldsig#sha1': 'sha1',
};
const SIGNATURE_HASHES: Record<string, string> = {
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256': 'sha256',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512': 'sha512',
  'http://www.w3.org/2000/09/xmldsig#rsa-sha1': 'sha1',
};
// xml-crypto's default for a `ds` prefix a parser left without a namespace (SignedXml.defaultNsForPrefix).
const DEFAULT_NS_FOR_PREFIX = { ds: NS.ds };
const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';

/**
 * `el` in exclusive canonical form (Exclusive XML Canonicalization 1.0), by xml-crypto's
 * canonicaliser, in place rather than on a copy (a deep clone costs more than the c14n itself).
 * The canonicaliser declares an inclusive prefix bound on an ancestor on `el` itself; any such
 * declaration is taken off again, so the document is left as it was parsed.
 */
function canonicalize(el: Element, withComments: boolean, inclusivePrefixes: string[]): string {
  const c14n = withComments ? new ExclusiveCanonicalizationWithComments() : new ExclusiveCanonicalization();
  const added = inclusivePrefixes.filter((prefix) => !el.hasAttribute(`xmlns:${prefix}`));
  try {
    return c14n
      .process(el as never, { inclusiveNamespacesPrefixList: inclusivePrefixes, ancestorNamespaces: findAncestorNsForElement(el), defaultNsForPrefix: DEFAULT_NS_FOR_PREFIX } as never)
      .toString();
  } finally {
    for (const prefix of added) el.removeAttribute(`xmlns:${prefix}`);
  }
}

/**
 * The octets a Reference's digest covers (XML Signature §4.4.3.2 and §6.6): the signed element
 * without its own Signature (the enveloped-signature transform: the Signature is taken out for the
 * duration and put back where it was), comments dropped (a same-document reference), in exclusive
 * canonical form with the transform's InclusiveNamespaces.
 */
function canonicalReference(s: SignatureParts): string {
  const next = s.signature.nextSibling;
  s.element.removeChild(s.signature);
  try {
    return canonicalize(s.element, false, s.inclusivePrefixes);
  } finally {
    s.element.insertBefore(s.signature, next);
  }
}

/** SignedInfo in the canonical form its CanonicalizationMethod names (§4.4.1), which is what was signed. */
function canonicalSignedInfo(s: SignatureParts): string {
  const method = child(s.signedInfo, 'CanonicalizationMethod', NS.ds);
  const prefixes = (attr(child(method, 'InclusiveNamespaces', EXC_C14N), 'PrefixList') ?? '').split(/\s+/).filter(Boolean);
  return canonicalize(s.signedInfo, s.canonicalization.endsWith('#WithComments'), prefixes);
}

/**
 * The cryptography of XML Signature core validation (§3.2), for each signature the profile
 * accepted: the reference's digest over its canonical element, then the SignatureValue over the
 * canonical SignedInfo with a trusted certificate's key (RSA PKCS#1 v1.5). A key is tried only
 * among the connection's trusted certificates; one the message carries in KeyInfo is never used,
 * only matched to say which trusted certificate to try first, or which stranger signed.
 * @throws SamlFailure `bad_signature`, `untrusted_certificate`, `expired_certificate`
 */
export function verifySignature(p: ParsedResponse, profile: SignatureProfile, opts: { certificates: string[]; now?: number }): void {
  const trusted = opts.certificates.map(trustedCertificate);
  const now = opts.now ?? Date.now();
  for (const s of profile.signatures) {
    const where = s.element.localName;
    const digest = createHash(HASHES[s.digestMethod]!).update(canonicalReference(s), 'utf8').digest();
    if (!digest.equals(Buffer.from(s.digestValue, 'base64'))) {
      throw diagnose(p, trusted, `the ${where}'s digest does not match its content: it was altered after signing`);
    }
    const signedInfo = Buffer.from(canonicalSignedInfo(s), 'utf8');
    const value = Buffer.from(s.signatureValue, 'base64');
    // With several trusted (a rollover), the one the signature names in KeyInfo is tried first.
    let order = trusted;
    if (trusted.length > 1) {
      const carried = carriedCertificates(s.signature);
      order = [...trusted].sort((a, b) => Number(carried.some((c) => c.equals(b.raw))) - Number(carried.some((c) => c.equals(a.raw))));
    }
    const signer = order.find((t) => {
      // The methods accepted are RSA: a certificate with another kind of key verifies nothing here.
      if (t.key.asymmetricKeyType !== 'rsa') return false;
      try {
        return verifySignatureBytes(SIGNATURE_HASHES[s.signatureMethod]!, signedInfo, t.key, value);
      } catch {
        return false;
      }
    });
    if (!signer) throw diagnose(p, trusted, `the ${where}'s SignatureValue does not verify with any trusted certificate`);
    // A valid signature by a trusted certificate that has since expired is still refused.
    if (signer.notAfterMs < now) {
      throw new SamlFailure('expired_certificate', `The signing certificate ${signer.thumbprintSha1} expired on ${signer.notAfter}.`, {
        certificate: { thumbprint: signer.thumbprintSha1, notBefore: signer.notBefore, notAfter: signer.notAfter },
      });
    }
  }
}

/** The DER bytes of the certificates a signature carries in KeyInfo (unverified; for matching only). */
function carriedCertificates(signature: Element): Buffer[] {
  return allElements(signature)
    .filter((e) => e.localName === 'X509Certificate' && e.namespaceURI === NS.ds)
    .map((e) => Buffer.from(text(e).replace(/\s+/g, ''), 'base64'));
}

/** Says which certificate signed (when the signature names it) and which ones are trusted. */
function diagnose(p: ParsedResponse, trusted: TrustedCertificate[], what: string): SamlFailure {
  const trustedList = trusted.map((c) => ({ thumbprint: c.thumbprintSha1, notAfter: c.notAfter }));
  const stranger = [p.responseSignature, p.assertionSignature]
    .filter((s): s is Element => s !== null)
    .flatMap(carriedCertificates)
    .find((der) => !trusted.some((t) => t.raw.equals(der)));
  if (stranger) {
    let cert: X509Certificate | null = null;
    try {
      cert = new X509Certificate(stranger);
    } catch {
      // not a certificate at all: say only that the signature failed
    }
    if (cert) {
      const print = cert.fingerprint.replace(/:/g, '');
      return new SamlFailure('untrusted_certificate', `Signed with certificate ${print} (valid until ${new Date(cert.validTo).toISOString()}), which this connection does not trust.`, {
        received: { thumbprint: print, subject: cert.subject, notAfter: new Date(cert.validTo).toISOString() },
        trusted: trustedList,
      });
    }
  }
  return new SamlFailure('bad_signature', `The signature did not verify against the trusted certificates (${what}).`, { trusted: trustedList });
}
