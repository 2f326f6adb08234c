import { deflateRawSync } from 'node:zlib';

// SAML messages Keydesk sends are under 1 KB. zlib's default 32 KB window and memLevel 8 make it
// set up about 256 KB of state per call (about 100 µs); a 1 KB window and memLevel 4 give the same
// bytes here at a third of the cost. Any inflater reads them: the window only bounds back-references.
const DEFLATE = { windowBits: 10, memLevel: 4 } as const;

/**
 * `target` with a SAML message in the HTTP-Redirect binding (SAML bindings §3.4.4.1): the XML
 * DEFLATE-compressed (RFC 1951, raw), base64, in `param`; then `extra` query parameters (RelayState,
 * login_hint) where they have a value.
 */
export function redirectBindingUrl(target: string, param: 'SAMLRequest' | 'SAMLResponse', xml: string, extra: Record<string, string | null | undefined> = {}): string {
  const url = new URL(target);
  url.searchParams.set(param, deflateRawSync(Buffer.from(xml, 'utf8'), DEFLATE).toString('base64'));
  for (const [name, value] of Object.entries(extra)) if (value) url.searchParams.set(name, value);
  return url.toString();
}
