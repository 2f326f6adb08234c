import { createPrivateKey, X509Certificate } from 'node:crypto';

export interface CertificateInfo {
  pem: string;
  subject: string;
  issuer: string;
  /** Uppercase hex, as Entra shows it. */
  thumbprintSha1: string;
  thumbprintSha256: string;
  notBefore: string;
  notAfter: string;
  daysLeft: number;
}

export class CertificateRejected extends Error {}

/**
 * Accepts what admins download from Entra or Okta: PEM ("Base64"), bare base64, or raw DER bytes.
 * Returns a normalised PEM, or throws with a message that says what was wrong.
 */
export function toPem(input: string | Buffer): string {
  let der: Buffer;
  if (Buffer.isBuffer(input) && input[0] === 0x30) {
    der = input;
  } else {
    const s = (Buffer.isBuffer(input) ? input.toString('utf8') : input).replace(/\p{Cf}/gu, '');
    const mistaken = mistakenPaste(s);
    if (mistaken) throw new CertificateRejected(mistaken);
    // The certificate block wherever it sits: `openssl pkcs12 -nokeys` puts "Bag Attributes" first.
    const block = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(s);
    const body = (block ? block[1]! : s).replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]+=*$/.test(body)) throw new CertificateRejected('The certificate is neither PEM (Base64) nor raw DER.');
    der = Buffer.from(body, 'base64');
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(der);
  } catch {
    throw new CertificateRejected(isPrivateKey(der) ? `This is a private key (or a .pfx holding one), not a certificate. ${NEVER_KEYS} ${WANTED}` : 'The certificate could not be read as X.509.');
  }
  return cert.toString().trim();
}

/** DER bytes that are a private key (PKCS#8, PKCS#1 or SEC1) or a PKCS#12 bundle, which usually holds one. */
function isPrivateKey(der: Buffer): boolean {
  for (const type of ['pkcs8', 'pkcs1', 'sec1'] as const) {
    try {
      createPrivateKey({ key: der, format: 'der', type });
      return true;
    } catch {
      // not this kind
    }
  }
  // PKCS#12: SEQUENCE { INTEGER 3, SEQUENCE { OID pkcs7-data … } }.
  return der.includes(Buffer.from('06092a864886f70d010701', 'hex')) && der.subarray(0, 12).includes(Buffer.from('020103', 'hex'));
}

const NEVER_KEYS = 'Never paste private keys here (or anywhere outside the identity provider); if this key left it, rotate it.';
const WANTED = 'Paste the signing certificate itself: in Entra, download "Certificate (Base64)" under SAML Certificates; in Okta, download the certificate (.cert). It starts with -----BEGIN CERTIFICATE-----.';

/** What an admin pasted instead of a certificate, said plainly with what is wanted; null if none of these. */
function mistakenPaste(s: string): string | null {
  const t = s.trim();
  if (/-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----|-----BEGIN PGP PRIVATE KEY BLOCK-----/.test(t)) return `This is a private key, not a certificate. ${NEVER_KEYS} ${WANTED}`;
  if (/-----BEGIN (?:RSA )?PUBLIC KEY-----|^ssh-(?:rsa|ed25519|dss) |^ecdsa-sha2-/.test(t)) return `This is a public key, not a certificate. ${WANTED}`;
  if (/-----BEGIN (?:NEW )?CERTIFICATE REQUEST-----/.test(t)) return `This is a certificate signing request, not a certificate. ${WANTED}`;
  if (/-----BEGIN PKCS7-----/.test(t)) return `This is a PKCS#7 bundle (.p7b). Export the signing certificate alone as Base64 (.cer). ${WANTED}`;
  // As Entra, certmgr (with spaces) and openssl ("sha1 Fingerprint=AB:CD:…") show them.
  const hex = t.replace(/^(?:sha1|sha256|SHA1|SHA256) Fingerprint=/i, '').replace(/[\s:]/g, '');
  if (/^[0-9A-Fa-f]{40}$/.test(hex) || /^[0-9A-Fa-f]{64}$/.test(hex)) {
    return `This is a certificate thumbprint (${hex.length === 40 ? 'SHA-1' : 'SHA-256'}), which identifies a certificate but cannot verify signatures. ${WANTED}`;
  }
  if (/^https?:\/\//i.test(t)) return `This is a URL. If it is the App Federation Metadata URL, paste it as the metadata URL instead. ${WANTED}`;
  if (t.startsWith('<')) return `This is XML. If it is the federation metadata, upload or paste it as metadata instead. ${WANTED}`;
  return null;
}

export function describeCertificate(pem: string, now = Date.now()): CertificateInfo {
  const cert = new X509Certificate(pem);
  const notAfter = new Date(cert.validTo);
  return {
    pem,
    subject: cert.subject.replace(/\n/g, ', '),
    issuer: cert.issuer.replace(/\n/g, ', '),
    thumbprintSha1: cert.fingerprint.replace(/:/g, ''),
    thumbprintSha256: cert.fingerprint256.replace(/:/g, ''),
    notBefore: new Date(cert.validFrom).toISOString(),
    notAfter: notAfter.toISOString(),
    daysLeft: Math.floor((notAfter.getTime() - now) / 86_400_000),
  };
}
