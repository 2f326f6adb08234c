import { X509Certificate } from 'node:crypto';

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
    const s = Buffer.isBuffer(input) ? input.toString('utf8') : input;
    const body = s
      .replace(/-----BEGIN CERTIFICATE-----/, '')
      .replace(/-----END CERTIFICATE-----[\s\S]*$/, '')
      .replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]+=*$/.test(body)) throw new CertificateRejected('The certificate is neither PEM (Base64) nor raw DER.');
    der = Buffer.from(body, 'base64');
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(der);
  } catch {
    throw new CertificateRejected('The certificate could not be read as X.509.');
  }
  return cert.toString().trim();
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
