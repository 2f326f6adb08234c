import { attr, nodes } from './xml.js';
import { SamlFailure } from '../../../src/identity/saml/failure.js';
import type { ParsedResponse } from './structure.js';

const STRONG_SIGNATURES = new Set([
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha384',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512',
]);
const STRONG_DIGESTS = new Set([
  'http://www.w3.org/2001/04/xmlenc#sha256',
  'http://www.w3.org/2001/04/xmldsig-more#sha384',
  'http://www.w3.org/2001/04/xmlenc#sha512',
]);
const SHA1_SIGNATURE = 'http://www.w3.org/2000/09/xmldsig#rsa-sha1';
const SHA1_DIGEST = 'http://www.w3.org/2000/09/xmldsig#sha1';
const C14N = new Set(['http://www.w3.org/2001/10/xml-exc-c14n#', 'http://www.w3.org/2001/10/xml-exc-c14n#WithComments']);
const TRANSFORMS = new Set(['http://www.w3.org/2000/09/xmldsig#enveloped-signature', ...C14N]);

/**
 * What a signature must look like before any cryptography runs: at least one present; each signs
 * exactly its own parent (one Reference, URI = "#" + the parent's ID); known, strong algorithms
 * (SHA-1 only when the connection opts in); only enveloped-signature and exclusive c14n transforms.
 */
export function checkSignatureProfile(p: ParsedResponse, opts: { allowSha1: boolean }): { responseSigned: boolean; assertionSigned: boolean } {
  const pairs: [Element, Element | null][] = [
    [p.response, p.responseSignature],
    [p.assertion, p.assertionSignature],
  ];
  if (!p.responseSignature && !p.assertionSignature) throw new SamlFailure('unsigned', 'Neither the Response nor the Assertion carries a signature.');
  for (const [element, sig] of pairs) {
    if (!sig) continue;
    const where = element.localName;
    const signed = nodes("./*[local-name()='SignedInfo']", sig)[0];
    const method = attr(nodes("./*[local-name()='SignatureMethod']", signed as Node)[0], 'Algorithm');
    const c14n = attr(nodes("./*[local-name()='CanonicalizationMethod']", signed as Node)[0], 'Algorithm');
    const refs = nodes("./*[local-name()='Reference']", signed as Node);
    if (refs.length !== 1) throw new SamlFailure('signature_scope', `The ${where} signature has ${refs.length} references; exactly one is required.`);
    const ref = refs[0]!;
    const id = attr(element, 'ID');
    if (!id || attr(ref, 'URI') !== `#${id}`) {
      throw new SamlFailure('signature_scope', `The ${where} signature references "${attr(ref, 'URI')}", not its own ${where} ("#${id}").`);
    }
    const digest = attr(nodes("./*[local-name()='DigestMethod']", ref)[0], 'Algorithm');
    const transforms = nodes("./*[local-name()='Transforms']/*[local-name()='Transform']", ref).map((t) => attr(t, 'Algorithm') ?? '');
    if (!c14n || !C14N.has(c14n) || transforms.some((t) => !TRANSFORMS.has(t))) {
      throw new SamlFailure('bad_algorithm', `The ${where} signature uses canonicalization or transforms Keydesk does not accept.`, { c14n, transforms });
    }
    const sha1 = method === SHA1_SIGNATURE || digest === SHA1_DIGEST;
    if (sha1 && !opts.allowSha1) throw new SamlFailure('weak_algorithm', `The ${where} signature uses SHA-1 (${method}, ${digest}).`, { signatureMethod: method, digestMethod: digest });
    const okMethod = STRONG_SIGNATURES.has(method ?? '') || (opts.allowSha1 && method === SHA1_SIGNATURE);
    const okDigest = STRONG_DIGESTS.has(digest ?? '') || (opts.allowSha1 && digest === SHA1_DIGEST);
    if (!okMethod || !okDigest) throw new SamlFailure('bad_algorithm', `The ${where} signature uses ${method} with digest ${digest}.`, { signatureMethod: method, digestMethod: digest });
  }
  return { responseSigned: p.responseSignature !== null, assertionSigned: p.assertionSignature !== null };
}
