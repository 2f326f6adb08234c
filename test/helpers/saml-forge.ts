import { execFileSync } from 'node:child_process';
import { createSign, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { SignedXml } from 'xml-crypto';

/**
 * The attacker's (and the honest IdP's) toolkit: Entra-shaped SAML responses built from parts,
 * signed with keys the test controls, so every rule can be probed with a crafted message.
 */
export interface KeyPair {
  key: string;
  cert: string;
}

export function makeKeyPair(cn = 'Test IdP', validity?: { from: Date; to: Date }): KeyPair {
  const dir = mkdtempSync(path.join(tmpdir(), 'keydesk-forge-'));
  const f = (n: string) => path.join(dir, n);
  try {
    if (!validity) {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '365', '-subj', `/CN=${cn}`, '-keyout', f('k'), '-out', f('c')], { stdio: 'ignore' });
    } else {
      // OpenSSL 3.0's `req` cannot back-date; a self-signing `ca` can, for an already expired certificate.
      const stamp = (d: Date) => d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
      writeFileSync(f('index.txt'), '');
      writeFileSync(f('serial'), '01\n');
      writeFileSync(
        f('ca.cnf'),
        `[ca]\ndefault_ca=d\n[d]\ndatabase=${f('index.txt')}\nserial=${f('serial')}\nnew_certs_dir=${dir}\ndefault_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n`,
      );
      execFileSync('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-keyout', f('k'), '-out', f('csr')], { stdio: 'ignore' });
      execFileSync('openssl', ['ca', '-batch', '-config', f('ca.cnf'), '-selfsign', '-keyfile', f('k'), '-in', f('csr'), '-out', f('c'), '-startdate', stamp(validity.from), '-enddate', stamp(validity.to)], { stdio: 'ignore' });
    }
    const cert = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(readFileSync(f('c'), 'utf8'))![0];
    return { key: readFileSync(f('k'), 'utf8'), cert };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface ResponseParts {
  issuer: string;
  destination: string | null;
  audience: string;
  recipient: string;
  inResponseTo?: string | null;
  nameId: string;
  nameIdFormat?: string;
  attributes?: Record<string, string[]>;
  status?: string;
  statusMessage?: string;
  notBefore?: Date;
  notOnOrAfter?: Date;
  assertionId?: string;
  responseId?: string;
}

const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export function buildAssertion(p: ResponseParts): string {
  const now = Date.now();
  const notBefore = p.notBefore ?? new Date(now - 5 * 60_000);
  const notOnOrAfter = p.notOnOrAfter ?? new Date(now + 60 * 60_000);
  const irt = p.inResponseTo ? ` InResponseTo="${p.inResponseTo}"` : '';
  const attrs = Object.entries(p.attributes ?? {})
    .map(([name, values]) => `<saml:Attribute Name="${name}">${values.map((v) => `<saml:AttributeValue>${v}</saml:AttributeValue>`).join('')}</saml:Attribute>`)
    .join('');
  return (
    `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${p.assertionId ?? `_${randomUUID()}`}" IssueInstant="${iso(new Date(now))}" Version="2.0">` +
    `<saml:Issuer>${p.issuer}</saml:Issuer>` +
    `<saml:Subject><saml:NameID Format="${p.nameIdFormat ?? 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'}">${p.nameId}</saml:NameID>` +
    `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData${irt} NotOnOrAfter="${iso(notOnOrAfter)}" Recipient="${p.recipient}"/></saml:SubjectConfirmation></saml:Subject>` +
    `<saml:Conditions NotBefore="${iso(notBefore)}" NotOnOrAfter="${iso(notOnOrAfter)}"><saml:AudienceRestriction><saml:Audience>${p.audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
    (attrs ? `<saml:AttributeStatement>${attrs}</saml:AttributeStatement>` : '') +
    `<saml:AuthnStatement AuthnInstant="${iso(new Date(now))}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:Password</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
    `</saml:Assertion>`
  );
}

export function wrapInResponse(p: ResponseParts, inner: string): string {
  const irt = p.inResponseTo ? ` InResponseTo="${p.inResponseTo}"` : '';
  const dest = p.destination ? ` Destination="${p.destination}"` : '';
  const message = p.statusMessage ? `<samlp:StatusMessage>${p.statusMessage}</samlp:StatusMessage>` : '';
  return (
    `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${p.responseId ?? `_${randomUUID()}`}" Version="2.0" IssueInstant="${iso(new Date())}"${dest}${irt}>` +
    `<saml:Issuer>${p.issuer}</saml:Issuer>` +
    `<samlp:Status><samlp:StatusCode Value="${p.status ?? 'urn:oasis:names:tc:SAML:2.0:status:Success'}"/>${message}</samlp:Status>` +
    inner +
    `</samlp:Response>`
  );
}

export const ALG = {
  rsaSha256: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  rsaSha1: 'http://www.w3.org/2000/09/xmldsig#rsa-sha1',
  sha256: 'http://www.w3.org/2001/04/xmlenc#sha256',
  sha1: 'http://www.w3.org/2000/09/xmldsig#sha1',
};

/** Signs the element with local name `what` (the first one found), placing the signature after its Issuer. */
export function sign(xml: string, what: 'Assertion' | 'Response', keys: KeyPair, alg: { signature?: string; digest?: string } = {}): string {
  const sig = new SignedXml({
    privateKey: keys.key,
    publicCert: keys.cert,
    signatureAlgorithm: alg.signature ?? ALG.rsaSha256,
    canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  });
  const target = `//*[local-name(.)='${what}']`;
  sig.addReference({
    xpath: target,
    digestAlgorithm: alg.digest ?? ALG.sha256,
    transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', 'http://www.w3.org/2001/10/xml-exc-c14n#'],
  });
  sig.computeSignature(xml, { prefix: 'ds', location: { reference: `${target}/*[local-name(.)='Issuer']`, action: 'after' } });
  return sig.getSignedXml();
}

export const b64 = (xml: string) => Buffer.from(xml, 'utf8').toString('base64');
export const randomId = () => `_${randomBytes(16).toString('hex')}`;

/**
 * An IdP-initiated LogoutRequest over HTTP-Redirect, signed with `keys` (SAML bindings 3.4.4.1:
 * RSA-SHA256 over `SAMLRequest=…&SigAlg=…` as sent): the URL to GET at the connection's SLO URL.
 */
export function idpLogoutUrl(sloUrl: string, issuer: string, keys: KeyPair, nameId: string): string {
  const xml =
    `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_${randomBytes(16).toString('hex')}"` +
    ` Version="2.0" IssueInstant="${new Date().toISOString()}" Destination="${sloUrl}"><saml:Issuer>${issuer}</saml:Issuer><saml:NameID>${nameId}</saml:NameID></samlp:LogoutRequest>`;
  const signed = `SAMLRequest=${encodeURIComponent(deflateRawSync(Buffer.from(xml)).toString('base64'))}&SigAlg=${encodeURIComponent('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256')}`;
  return `${sloUrl}?${signed}&Signature=${encodeURIComponent(createSign('RSA-SHA256').update(signed).sign(keys.key, 'base64'))}`;
}
