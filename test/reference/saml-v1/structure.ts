import { NS, nodes, parseUntrustedXml, XmlRejected } from './xml.js';
import { SamlFailure } from '../../../src/identity/saml/failure.js';

/** A SAMLResponse is capped before and after decoding; Entra's with 150 groups is about 15 KB. */
export const MAX_RESPONSE_BYTES = 200 * 1024;

export interface ParsedResponse {
  xml: string;
  response: Element;
  assertion: Element;
  responseSignature: Element | null;
  assertionSignature: Element | null;
}

const isDsSignature = (n: Element) => n.localName === 'Signature' && n.namespaceURI === NS.ds;

/**
 * Decodes and parses the response, and insists on the one shape Keydesk accepts: a samlp:Response
 * root with exactly one saml:Assertion child, no other assertion anywhere, and signatures only as
 * direct children of those two elements. Anything else is how signature wrapping starts.
 */
export function parseResponse(samlResponse: string): ParsedResponse {
  if (samlResponse.length > Math.ceil((MAX_RESPONSE_BYTES * 4) / 3) + 4) throw new SamlFailure('too_large', `The SAMLResponse is larger than ${MAX_RESPONSE_BYTES / 1024} KB.`);
  const compact = samlResponse.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) throw new SamlFailure('not_base64', 'The SAMLResponse is not base64.');
  const xml = Buffer.from(compact, 'base64').toString('utf8');
  let doc: Document;
  try {
    doc = parseUntrustedXml(xml, MAX_RESPONSE_BYTES);
  } catch (err) {
    if (err instanceof XmlRejected) throw new SamlFailure(err.code, err.message);
    throw err;
  }
  const response = doc.documentElement;
  if (response.localName !== 'Response' || response.namespaceURI !== NS.samlp) {
    throw new SamlFailure('not_a_response', `The message is a ${response.localName}, not a samlp:Response.`);
  }
  const all = nodes('//*', doc) as Element[];
  const assertions = all.filter((n) => n.localName === 'Assertion' && n.namespaceURI === NS.saml);
  if (all.some((n) => n.localName === 'EncryptedAssertion')) {
    throw new SamlFailure('encrypted_assertion', 'The response carries an EncryptedAssertion.');
  }
  const direct = assertions.filter((a) => a.parentNode === response);
  if (assertions.length !== 1 || direct.length !== 1) {
    throw new SamlFailure('assertion_count', `Found ${assertions.length} assertion(s), ${direct.length} directly inside the Response; exactly one is required.`);
  }
  const assertion = direct[0]!;
  const signatures = all.filter(isDsSignature);
  const stray = signatures.filter((s) => s.parentNode !== response && s.parentNode !== assertion);
  if (stray.length) {
    throw new SamlFailure('signature_scope', `A signature sits inside <${(stray[0]!.parentNode as Element).nodeName}>, where no signature belongs.`);
  }
  const childSig = (el: Element) => {
    const sigs = signatures.filter((s) => s.parentNode === el);
    if (sigs.length > 1) throw new SamlFailure('signature_scope', `<${el.nodeName}> carries ${sigs.length} signatures.`);
    return sigs[0] ?? null;
  };
  return { xml, response, assertion, responseSignature: childSig(response), assertionSignature: childSig(assertion) };
}
