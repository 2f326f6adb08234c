import { nodes, attr, text } from './xml.js';
import { SamlFailure } from '../../../src/identity/saml/failure.js';
import type { ParsedResponse } from './structure.js';

const SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';

/** The IdP's own verdict. Entra puts an AADSTS code in StatusMessage; it is surfaced as is. */
export function checkStatus(p: ParsedResponse): void {
  const code = nodes("./*[local-name()='Status']/*[local-name()='StatusCode']", p.response)[0];
  const value = attr(code, 'Value');
  if (value === SUCCESS) return;
  const sub = attr(nodes("./*[local-name()='StatusCode']", code as Node)[0], 'Value');
  const message = text(nodes("./*[local-name()='Status']/*[local-name()='StatusMessage']", p.response)[0]);
  const aadsts = /AADSTS\d+/.exec(message)?.[0];
  throw new SamlFailure(
    'status',
    `Status ${value?.split(':').pop() ?? 'missing'}${sub ? `/${sub.split(':').pop()}` : ''}${message ? `: ${message}` : ''}`,
    { statusCode: value, subStatusCode: sub, statusMessage: message || null, aadsts: aadsts ?? null },
  );
}
