import { attr, NS, text } from '../xml.js';
import { SamlFailure } from '../failure.js';
import { child, children } from './dom.js';
import type { ParsedResponse } from './structure.js';

// SHA-384 is not among them: Keydesk's first verifier (xml-crypto) could not verify it, and the
// new one accepts nothing the first refused (test/saml-differential.test.ts). No IdP Keydesk
// serves signs with it.
const STRONG_SIGNATURES = new Set(['http://www.w3.org/2001/04/xmldsig-more#rsa-sha256', 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512']);
const STRONG_DIGESTS = new Set(['http://www.w3.org/2001/04/xmlenc#sha256', 'http://www.w3.org/2001/04/xmlenc#sha512']);
const SHA1_SIGNATURE = 'http://www.w3.org/2000/09/xmldsig#rsa-sha1';
const SHA1_DIGEST = 'http://www.w3.org/2000/09/xmldsig#sha1';
const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
const EXC_C14N_COMMENTS = 'http://www.w3.org/2001/10/xml-exc-c14n#WithComments';
const C14N = new Set([EXC_C14N, EXC_C14N_COMMENTS]);
const ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';

/** One signature as the cryptography step needs it, read once by the profile check. */
export interface SignatureParts {
  /** The element it signs: its own parent, the Response or the Assertion. */
  element: Element;
  signature: Element;
  signedInfo: Element;
  /** SignedInfo's CanonicalizationMethod (exclusive c14n, with or without comments). */
  canonicalization: string;
  signatureMethod: string;
  digestMethod: string;
  /** The Reference's DigestValue and the SignatureValue, base64 without whitespace. */
  digestValue: string;
  signatureValue: string;
  /** The exclusive c14n transform's InclusiveNamespaces PrefixList (Okta sends "xs"). */
  inclusivePrefixes: string[];
}

export interface SignatureProfile {
  responseSigned: boolean;
  assertionSigned: boolean;
  signatures: SignatureParts[];
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const TEXT_NODE = 3;

const onlyText = (el: Element) => Array.prototype.every.call(el.childNodes, (n: Node) => n.nodeType === TEXT_NODE);

/**
 * What a signature must look like before any cryptography runs (XML Signature §4, SAML core §5.4):
 * at least one present; each has one SignedInfo and one SignatureValue and signs exactly its own
 * parent (one Reference, URI = "#" + the parent's ID, an ID no other element carries); known,
 * strong algorithms (SHA-1 only when the connection opts in); the transforms SAML profiles use,
 * enveloped-signature then exclusive c14n, and nothing else.
 * @throws SamlFailure `unsigned`, `signature_scope`, `bad_algorithm`, `weak_algorithm`, `malformed`
 */
export function checkSignatureProfile(p: ParsedResponse, opts: { allowSha1: boolean }): SignatureProfile {
  const pairs: [Element, Element | null][] = [
    [p.response, p.responseSignature],
    [p.assertion, p.assertionSignature],
  ];
  if (!p.responseSignature && !p.assertionSignature) throw new SamlFailure('unsigned', 'Neither the Response nor the Assertion carries a signature.');
  const signatures: SignatureParts[] = [];
  for (const [element, sig] of pairs) {
    if (!sig) continue;
    const where = element.localName;
    const signedInfos = children(sig, 'SignedInfo', NS.ds);
    if (signedInfos.length !== 1) throw new SamlFailure('signature_scope', `The ${where} signature has ${signedInfos.length} SignedInfo elements; exactly one is required.`);
    const signedInfo = signedInfos[0]!;
    const method = attr(child(signedInfo, 'SignatureMethod', NS.ds), 'Algorithm');
    const c14n = attr(child(signedInfo, 'CanonicalizationMethod', NS.ds), 'Algorithm');
    const refs = children(signedInfo, 'Reference', NS.ds);
    if (refs.length !== 1) throw new SamlFailure('signature_scope', `The ${where} signature has ${refs.length} references; exactly one is required.`);
    const ref = refs[0]!;
    const id = attr(element, 'ID');
    if (!id || attr(ref, 'URI') !== `#${id}`) {
      throw new SamlFailure('signature_scope', `The ${where} signature references "${attr(ref, 'URI')}", not its own ${where} ("#${id}").`);
    }
    // Resolved by ID, the reference must land on this element and no other (signature wrapping).
    if (p.idCount.get(id) !== 1) throw new SamlFailure('signature_scope', `${p.idCount.get(id)} elements carry the ID "${id}" the ${where} signature references; exactly one may.`);
    const digest = attr(child(ref, 'DigestMethod', NS.ds), 'Algorithm');
    const transformsEl = children(ref, 'Transforms', NS.ds);
    const transforms = transformsEl.flatMap((t) => children(t, 'Transform', NS.ds));
    const algorithms = transforms.map((t) => attr(t, 'Algorithm') ?? '');
    if (!c14n || !C14N.has(c14n) || transformsEl.length !== 1 || algorithms.length !== 2 || algorithms[0] !== ENVELOPED || !C14N.has(algorithms[1]!)) {
      throw new SamlFailure('bad_algorithm', `The ${where} signature uses canonicalization or transforms Keydesk does not accept.`, { c14n, transforms: algorithms });
    }
    const sha1 = method === SHA1_SIGNATURE || digest === SHA1_DIGEST;
    if (sha1 && !opts.allowSha1) throw new SamlFailure('weak_algorithm', `The ${where} signature uses SHA-1 (${method}, ${digest}).`, { signatureMethod: method, digestMethod: digest });
    const okMethod = STRONG_SIGNATURES.has(method ?? '') || (opts.allowSha1 && method === SHA1_SIGNATURE);
    const okDigest = STRONG_DIGESTS.has(digest ?? '') || (opts.allowSha1 && digest === SHA1_DIGEST);
    if (!okMethod || !okDigest) throw new SamlFailure('bad_algorithm', `The ${where} signature uses ${method} with digest ${digest}.`, { signatureMethod: method, digestMethod: digest });

    const digestValues = children(ref, 'DigestValue', NS.ds);
    const signatureValues = children(sig, 'SignatureValue', NS.ds);
    // Text only: a comment, CDATA section or element inside would be skipped by textContent, so
    // `AH1X…<!--x-->+YJN…` would read as one value where any other reader sees another.
    if ([...digestValues, ...signatureValues].some((v) => !onlyText(v))) {
      throw new SamlFailure('bad_signature', `The ${where} signature's DigestValue or SignatureValue holds something other than text.`);
    }
    const digestValue = text(digestValues[0]).replace(/\s+/g, '');
    const signatureValue = text(signatureValues[0]).replace(/\s+/g, '');
    if (digestValues.length !== 1 || signatureValues.length !== 1 || !BASE64.test(digestValue) || !BASE64.test(signatureValue)) {
      throw new SamlFailure('bad_signature', `The ${where} signature needs one DigestValue and one SignatureValue in base64.`);
    }
    const inclusive = child(transforms[1], 'InclusiveNamespaces', EXC_C14N);
    signatures.push({
      element,
      signature: sig,
      signedInfo,
      canonicalization: c14n,
      signatureMethod: method!,
      digestMethod: digest!,
      digestValue,
      signatureValue,
      inclusivePrefixes: (attr(inclusive, 'PrefixList') ?? '').split(/\s+/).filter(Boolean),
    });
  }
  return { responseSigned: p.responseSignature !== null, assertionSigned: p.assertionSignature !== null, signatures };
}
