import { SamlFailure } from '../failure.js';

/**
 * Finding the parts of a response by walking the DOM, for the checks. An element is found by its
 * local name, as the XPath `local-name()` lookups of Keydesk's first verifier found it, and must
 * then be in the namespace the specification gives it: a look-alike in another namespace is
 * refused, never skipped, so no lookup here can pass over an element the old one would have read.
 */

const ELEMENT_NODE = 1;

function wrongNamespace(e: Element, ns: string): SamlFailure {
  return new SamlFailure('malformed', `<${e.nodeName}> is in namespace "${e.namespaceURI ?? '(none)'}", not "${ns}".`);
}

/**
 * The first child element named `localName`, or null.
 * @throws SamlFailure `malformed` when it is not in namespace `ns`
 */
export function child(parent: Node | null | undefined, localName: string, ns: string): Element | null {
  for (let n = parent?.firstChild ?? null; n; n = n.nextSibling) {
    if (n.nodeType === ELEMENT_NODE && (n as Element).localName === localName) {
      if ((n as Element).namespaceURI !== ns) throw wrongNamespace(n as Element, ns);
      return n as Element;
    }
  }
  return null;
}

/**
 * Every child element named `localName`, in document order.
 * @throws SamlFailure `malformed` when one of them is not in namespace `ns`
 */
export function children(parent: Node | null | undefined, localName: string, ns: string): Element[] {
  const out: Element[] = [];
  for (let n = parent?.firstChild ?? null; n; n = n.nextSibling) {
    if (n.nodeType === ELEMENT_NODE && (n as Element).localName === localName) {
      if ((n as Element).namespaceURI !== ns) throw wrongNamespace(n as Element, ns);
      out.push(n as Element);
    }
  }
  return out;
}
