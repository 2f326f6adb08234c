import { DOMParser } from '@xmldom/xmldom';

export const NS = {
  md: 'urn:oasis:names:tc:SAML:2.0:metadata',
  saml: 'urn:oasis:names:tc:SAML:2.0:assertion',
  samlp: 'urn:oasis:names:tc:SAML:2.0:protocol',
  ds: 'http://www.w3.org/2000/09/xmldsig#',
} as const;

export class XmlRejected extends Error {
  constructor(
    readonly code: 'doctype' | 'malformed' | 'too_large',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Parses untrusted XML strictly: no DOCTYPE (entity expansion, external entities), no parse
 * warnings tolerated, a size cap. Returns the document.
 */
export function parseUntrustedXml(xml: string, maxBytes: number): Document {
  if (Buffer.byteLength(xml, 'utf8') > maxBytes) throw new XmlRejected('too_large', `The XML is larger than ${maxBytes} bytes.`);
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new XmlRejected('doctype', 'The XML contains a DOCTYPE or ENTITY declaration, which is never accepted.');
  const badChar = notXmlChar(xml);
  if (badChar) throw new XmlRejected('malformed', `The XML is not well-formed: it contains ${badChar}, which XML 1.0 does not allow.`);
  const problems: string[] = [];
  // No locator: the message keeps only the first line of xmldom's, and the position comes after it.
  const doc = new DOMParser({
    errorHandler: {
      warning: (m: string) => problems.push(m),
      error: (m: string) => problems.push(m),
      fatalError: (m: string) => problems.push(m),
    },
  }).parseFromString(xml, 'text/xml');
  if (problems.length || !doc?.documentElement) {
    throw new XmlRejected('malformed', `The XML is not well-formed: ${(problems[0] ?? 'no root element').split('\n')[0]}`);
  }
  return doc as unknown as Document;
}

// XML 1.0 §2.2 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].
// xmldom accepts the others (a NUL in an ID, as a character or as &#0;); Keydesk does not.
const RAW_NON_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const CHAR_REF = /&#(?:x([0-9a-fA-F]+)|([0-9]+));/g;

const isXmlChar = (cp: number) =>
  cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);

/** A description of the first character (raw or referenced) outside XML's Char production, or null. */
function notXmlChar(xml: string): string | null {
  // isWellFormed (Node 20, ES2024) finds a lone surrogate far faster than the regex that names it.
  const raw = RAW_NON_CHAR.exec(xml) ?? ((xml as string & { isWellFormed(): boolean }).isWellFormed() ? null : LONE_SURROGATE.exec(xml));
  if (raw) return `the character U+${raw[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
  if (!xml.includes('&#')) return null;
  for (const m of xml.matchAll(CHAR_REF)) {
    const cp = m[1] !== undefined ? parseInt(m[1], 16) : parseInt(m[2]!, 10);
    if (!isXmlChar(cp)) return `the character reference ${m[0]}`;
  }
  return null;
}

export function attr(node: Node | null | undefined, name: string): string | null {
  return node && (node as Element).getAttribute ? (node as Element).getAttribute(name) : null;
}

/** The element's text (its text nodes and CDATA, comments left out), trimmed. */
export function text(node: Node | null | undefined): string {
  return (node?.textContent ?? '').trim();
}

const ELEMENT_NODE = 1;

/**
 * The element's child elements, in document order: all of them, or those with this local name
 * in namespace `ns` (a name in another namespace is another element).
 */
export function childElements(parent: Node | null | undefined, localName?: string, ns?: string): Element[] {
  const out: Element[] = [];
  for (let n = parent?.firstChild ?? null; n; n = n.nextSibling) {
    if (n.nodeType !== ELEMENT_NODE) continue;
    const e = n as Element;
    if (localName === undefined || (e.localName === localName && e.namespaceURI === (ns ?? null))) out.push(e);
  }
  return out;
}

/** The first child element with this local name in namespace `ns`, or null. */
export function childElement(parent: Node | null | undefined, localName: string, ns: string): Element | null {
  for (let n = parent?.firstChild ?? null; n; n = n.nextSibling) {
    if (n.nodeType === ELEMENT_NODE && (n as Element).localName === localName && (n as Element).namespaceURI === ns) return n as Element;
  }
  return null;
}

/**
 * Every element under `root` (itself included when it is one), in document order. Iterative: depth
 * is the attacker's to choose.
 * @throws XmlRejected (`malformed`) when elements nest deeper than MAX_XML_DEPTH below `root`
 */
export function allElements(root: Node): Element[] {
  const out: Element[] = [];
  const stack: Node[] = [root];
  const depths: number[] = [0];
  while (stack.length) {
    const n = stack.pop()!;
    const depth = depths.pop()!;
    // Others walk it recursively (xml-crypto's canonicaliser): a stack overflow there would be a 500.
    if (depth > MAX_XML_DEPTH) throw new XmlRejected('malformed', `The XML nests elements more than ${MAX_XML_DEPTH} deep; SAML messages and metadata need about 10.`);
    if (n.nodeType === ELEMENT_NODE) out.push(n as Element);
    for (let c = n.lastChild; c; c = c.previousSibling) {
      if (c.nodeType === ELEMENT_NODE) {
        stack.push(c);
        depths.push(depth + 1);
      }
    }
  }
  return out;
}

/** How deep elements may nest in what Keydesk parses (allElements refuses deeper). */
export const MAX_XML_DEPTH = 64;

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

const SECRET_TEXT = /(<(?:\w+:)?(?:SignatureValue|X509Certificate|DigestValue)[^>]*>)[^<]*(<\/)/g;

/** Keeps the decoded XML readable for the admin, without signature values or certificates. */
export function redactXml(xml: string): string {
  return xml.replace(SECRET_TEXT, '$1…elided…$2');
}
