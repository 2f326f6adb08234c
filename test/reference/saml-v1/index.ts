/**
 * Keydesk's SAML Response verification as it was before issue 12 (node-saml and xml-crypto for the
 * cryptography, XPath for everything else), kept unchanged as the reference the new verifier is
 * tested against (test/saml-differential.test.ts). Only the message checks: no database steps.
 */
import type { MessageExpectations } from '../../../src/identity/saml/verify-response.js';
import { checkAddressing } from './addressing.js';
import { checkAssertion, type AssertionFacts } from './assertion.js';
import { checkSignatureProfile } from './signature-profile.js';
import { verifySignature } from './signature.js';
import { checkStatus } from './status.js';
import { parseResponse } from './structure.js';

/** The same expectations as the new verifier's. */
export type Expected = MessageExpectations;

/**
 * @returns the assertion's facts when the old profile accepts the response
 * @throws SamlFailure (or, for input the old code did not foresee, any error: counted as a refusal)
 */
export async function verifyV1(samlResponse: string, e: Expected): Promise<AssertionFacts> {
  const parsed = parseResponse(samlResponse);
  checkStatus(parsed);
  checkAddressing(parsed, { acsUrl: e.acsUrl, idpEntityId: e.idpEntityId });
  const signedParts = checkSignatureProfile(parsed, { allowSha1: e.allowSha1 });
  const verified = await verifySignature(samlResponse, parsed, { certificates: e.certificates, spEntityId: e.spEntityId, acsUrl: e.acsUrl, ...signedParts });
  return checkAssertion(verified.assertionXml, { idpEntityId: e.idpEntityId, spEntityId: e.spEntityId, acsUrl: e.acsUrl, skewMs: e.skewMs, now: e.now });
}
