import { nodes, attr, text } from './xml.js';
import { SamlFailure } from '../../../src/identity/saml/failure.js';
import type { ParsedResponse } from './structure.js';

/**
 * The Response's own Destination and Issuer. They may be outside the signature (Entra signs only
 * the assertion), so they are checked here and the signed copies are checked again after
 * verification.
 */
export function checkAddressing(p: ParsedResponse, expected: { acsUrl: string; idpEntityId: string }): void {
  const destination = attr(p.response, 'Destination');
  if (destination !== null && destination !== expected.acsUrl) {
    throw new SamlFailure('destination_mismatch', `Destination is "${destination}", expected "${expected.acsUrl}".`, { received: destination, expected: expected.acsUrl });
  }
  if (destination === null && p.responseSignature) {
    // SAML core 3.2.2: a signed response delivered by a binding must say where it was going.
    throw new SamlFailure('destination_mismatch', `The signed response has no Destination; expected "${expected.acsUrl}".`, { received: null, expected: expected.acsUrl });
  }
  const issuerNode = nodes("./*[local-name()='Issuer']", p.response)[0];
  if (issuerNode && text(issuerNode) !== expected.idpEntityId) {
    throw new SamlFailure('issuer_mismatch', `Issuer is "${text(issuerNode)}", expected "${expected.idpEntityId}".`, { received: text(issuerNode), expected: expected.idpEntityId });
  }
}
