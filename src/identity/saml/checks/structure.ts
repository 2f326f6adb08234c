import { allElements, NS, parseUntrustedXml, XmlRejected } from '../xml.js';
import { SamlFailure } from '../failure.js';

/** A SAMLResponse is capped before and after decoding; Entra's with 150 groups is about 15 KB. */
export const MAX_RESPONSE_BYTES = 200 * 1024;

export interface ParsedResponse {
  xml: string;
  response: Element;
  assertion: Element;
  responseSignature: Element | null;
  assertionSignature: Element | null;
  /** How many elements carry each value of an ID, Id or id attribute: a signature's reference must name exactly one. */
  idCount: Map<string, number>;
}

/** The attributes an XML signature reference may point at (xml-crypto's idAttributes: SAML's ID, and the others). */
const ID_ATTRIBUTES: ReadonlySet<string> = new Set(['ID', 'Id', 'id']);

/**
 * Exclusive c14n (Exclusive XML Canonicalization 1.0 §3) writes a namespace declaration again on
 * each element that uses a prefix its nearest output ancestor did not declare: one declaration of a
 * 40,000-character URI used by 15,000 siblings canonicalises to 600 MB, and the digest is computed
 * before any key is involved. An honest Entra response with 150 groups comes to about 20,000.
 */
const MAX_REDECLARED_NAMESPACE_CHARS = 1_048_576;

/**
 * An upper bound on what exclusive c14n may write in namespace declarations on `el` beyond those
 * `el` carries itself: the length of every prefix `el` or its attributes use (the default namespace
 * for an unprefixed element) and does not declare.
 */
function namespacesNotDeclaredHere(el: Element): number {
  let chars = 0;
  const prefix = el.prefix ?? '';
  if (!el.hasAttribute(prefix ? `xmlns:${prefix}` : 'xmlns')) chars += prefix.length + (el.namespaceURI ?? '').length + 10;
  const attrs = el.attributes;
  for (let i = 0; i < attrs.length; i++) {
    const a = attrs.item(i)!;
    if (a.prefix && a.prefix !== 'xmlns' && a.prefix !== 'xml' && a.prefix !== prefix && !el.hasAttribute(`xmlns:${a.prefix}`)) chars += a.prefix.length + (a.namespaceURI ?? '').length + 10;
  }
  return chars;
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
  // Canonicalisation renders a processing instruction's data as text while the DOM's textContent
  // skips it: `<NameID>alice<?x @evil.com?></NameID>` would digest as one name and read as another.
  if (xml.replace(/^\uFEFF?<\?xml\s[^?]*\?>/, '').includes('<?')) {
    throw new SamlFailure('malformed', 'The response contains a processing instruction, which SAML messages never carry.');
  }
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
  // The one walk over the document: everything below is found in this list.
  let all: Element[];
  try {
    all = allElements(response);
  } catch (err) {
    if (err instanceof XmlRejected) throw new SamlFailure(err.code, err.message);
    throw err;
  }
  // Every attribute named ID, Id or id counts, in any namespace (wsu:Id too): a reference resolver
  // such as xml-crypto's matches by local name, so an ID is unique only if it is unique among all.
  const idCount = new Map<string, number>();
  let redeclared = 0;
  for (const el of all) {
    const attrs = el.attributes;
    for (let i = 0; i < attrs.length; i++) {
      const a = attrs.item(i)!;
      if (ID_ATTRIBUTES.has(a.localName ?? a.name) && a.prefix !== 'xmlns') idCount.set(a.value, (idCount.get(a.value) ?? 0) + 1);
    }
    redeclared += namespacesNotDeclaredHere(el);
  }
  if (redeclared > MAX_REDECLARED_NAMESPACE_CHARS) {
    throw new SamlFailure(
      'too_large',
      `The response would grow by more than ${MAX_REDECLARED_NAMESPACE_CHARS / 1_048_576} MB of namespace declarations when canonicalised (elements using a namespace declared on an ancestor); SAML responses need a few KB.`,
    );
  }
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
  return { xml, response, assertion, responseSignature: childSig(response), assertionSignature: childSig(assertion), idCount };
}
