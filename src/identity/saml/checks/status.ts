import { attr, NS, text } from '../xml.js';
import { child } from './dom.js';
import { SamlFailure } from '../failure.js';
import type { ParsedResponse } from './structure.js';

const SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';

/** The IdP's own verdict (samlp:Status, SAML core §3.2.2.1). Entra puts an AADSTS code in StatusMessage; it is surfaced as is. */
export function checkStatus(p: ParsedResponse): void {
  const status = child(p.response, 'Status', NS.samlp);
  const code = child(status, 'StatusCode', NS.samlp);
  const value = attr(code, 'Value');
  if (value === SUCCESS) return;
  const sub = attr(child(code, 'StatusCode', NS.samlp), 'Value');
  const message = text(child(status, 'StatusMessage', NS.samlp));
  const aadsts = /AADSTS\d+/.exec(message)?.[0];
  throw new SamlFailure(
    'status',
    `Status ${value?.split(':').pop() ?? 'missing'}${sub ? `/${sub.split(':').pop()}` : ''}${message ? `: ${message}` : ''}`,
    { statusCode: value, subStatusCode: sub, statusMessage: message || null, aadsts: aadsts ?? null },
  );
}
