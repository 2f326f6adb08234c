import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { MetadataRejected, parseIdpMetadata } from '../src/identity/saml/metadata.js';
import { describeCertificate, toPem } from '../src/identity/saml/certificates.js';

const entra = readFileSync(new URL('./fixtures/entra-common-federation-metadata.xml', import.meta.url), 'utf8');

test('reads Entra federation metadata: IdP entity, redirect endpoints, every IDPSSODescriptor signing certificate', () => {
  const md = parseIdpMetadata(entra);
  assert.equal(md.entityId, 'https://sts.windows.net/{tenantid}/');
  assert.equal(md.ssoUrl, 'https://login.microsoftonline.com/common/saml2');
  assert.equal(md.sloUrl, 'https://login.microsoftonline.com/common/saml2');
  assert.equal(md.certificates.length, 3);
  for (const pem of md.certificates) {
    const info = describeCertificate(pem);
    assert.match(info.thumbprintSha1, /^[0-9A-F]{40}$/);
    assert.ok(Date.parse(info.notAfter) > Date.parse(info.notBefore));
  }
});

test('a certificate is accepted as PEM, bare base64 or raw DER, and rejected otherwise', () => {
  const pem = parseIdpMetadata(entra).certificates[0]!;
  const b64 = pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
  assert.equal(toPem(b64), pem);
  assert.equal(toPem(Buffer.from(b64, 'base64')), pem);
  assert.throws(() => toPem('not a certificate!'), /neither PEM/);
  assert.throws(() => toPem(Buffer.from('MIIBogus', 'utf8').toString('base64')), /X\.509/);
});

test('metadata that is not an IdP, has a DOCTYPE, or is malformed is refused with a reason', () => {
  const sp = entra.replace(/IDPSSODescriptor/g, 'SPSSODescriptor');
  assert.throws(() => parseIdpMetadata(sp), (e: Error) => e instanceof MetadataRejected && /IDPSSODescriptor/.test(e.message));
  const doctype = `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>` + entra.replace(/^<\?xml[^>]*>/, '');
  assert.throws(() => parseIdpMetadata(doctype), /DOCTYPE/);
  assert.throws(() => parseIdpMetadata('<EntityDescriptor'), /well-formed/);
  const postOnly = entra.replace(/<SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"[^>]*\/>/, '');
  assert.throws(() => parseIdpMetadata(postOnly), /HTTP-POST/);
});
