import { DOMParser } from '@xmldom/xmldom';
import xpath from 'xpath';

export const NS = {
  md: 'urn:oasis:names:tc:SAML:2.0:metadata',
  saml: 'urn:oasis:names:tc:SAML:2.0:assertion',
  samlp: 'urn:oasis:names:tc:SAML:2.0:protocol',
  ds: 'http://www.w3.org/2000/09/xmldsig#',
} as const;

export const select = xpath.useNamespaces(NS);

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
  const problems: string[] = [];
  const doc = new DOMParser({
    locator: {},
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

export function attr(node: Node | null | undefined, name: string): string | null {
  return node && (node as Element).getAttribute ? (node as Element).getAttribute(name) : null;
}

export function text(node: Node | null | undefined): string {
  return (node?.textContent ?? '').trim();
}

export function nodes(expr: string, ctx: Node): Node[] {
  return select(expr, ctx) as Node[];
}

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}
