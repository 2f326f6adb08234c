import type { Queryable } from '../../db/db.js';
import type { Connection } from '../connections.js';
import type { SpUrls } from './metadata.js';
import { checkAddressing } from './checks/addressing.js';
import { checkAssertion, type AssertionFacts } from './checks/assertion.js';
import { bindToRequest, rememberAssertion, type RequestBinding } from './checks/request-binding.js';
import { checkSignatureProfile } from './checks/signature-profile.js';
import { verifySignature } from './checks/signature.js';
import { checkStatus } from './checks/status.js';
import { parseResponse } from './checks/structure.js';
import { SamlFailure } from './failure.js';
import { redactXml, type SigninTrace } from './trace.js';

export interface VerifiedResponse {
  facts: AssertionFacts;
  binding: RequestBinding;
}

/**
 * The strict SAML profile, in order. Each step either passes (and says so in the trace) or throws a
 * SamlFailure naming the cause; identity comes only from the assertion as verified in step 5.
 */
export async function verifySamlResponse(
  q: Queryable,
  input: { samlResponse: string; tenantId: string; conn: Connection; sp: SpUrls; now?: number },
  trace: SigninTrace,
): Promise<VerifiedResponse> {
  const { conn, sp } = input;
  const cfg = conn.config;
  const step = async <T>(name: string, fn: () => T | Promise<T>, ok?: (v: T) => string | undefined): Promise<T> => {
    try {
      const v = await fn();
      trace.pass(name, ok?.(v));
      return v;
    } catch (err) {
      if (err instanceof SamlFailure) trace.fail(name, err.message);
      throw err;
    }
  };

  const parsed = await step('Message is one well-formed SAML Response with one assertion', () => parseResponse(input.samlResponse));
  trace.data.responseXml = redactXml(parsed.xml);
  await step('Identity provider reported success', () => checkStatus(parsed));
  await step('Response is addressed to this Reply URL and comes from this identity provider', () =>
    checkAddressing(parsed, { acsUrl: sp.acsUrl, idpEntityId: cfg.idpEntityId }),
  );
  const signedParts = await step(
    'Signature covers its own element with accepted algorithms',
    () => checkSignatureProfile(parsed, { allowSha1: cfg.allowSha1 }),
    (s) => [s.responseSigned && 'response', s.assertionSigned && 'assertion'].filter(Boolean).join(' and ') + ' signed',
  );
  const verified = await step('Signature verifies with a trusted, current certificate', () =>
    verifySignature(input.samlResponse, parsed, { certificates: cfg.certificates, spEntityId: sp.entityId, acsUrl: sp.acsUrl, ...signedParts }),
  );
  const facts = await step('Assertion: issuer, audience, recipient and validity window', () =>
    checkAssertion(verified.assertionXml, {
      idpEntityId: cfg.idpEntityId,
      spEntityId: sp.entityId,
      acsUrl: sp.acsUrl,
      skewMs: cfg.clockSkewSeconds * 1000,
      now: input.now ?? Date.now(),
    }),
  );
  trace.data.claims = { nameId: facts.nameId, nameIdFormat: facts.nameIdFormat, attributes: facts.attributes };
  const ids = { tenantId: input.tenantId, connectionId: conn.id };
  const binding = await step(
    'Answers an open sign-in request (or IdP-initiated is allowed)',
    () => bindToRequest(q, parsed, facts.inResponseTo, { ...ids, allowIdpInitiated: cfg.allowIdpInitiated }),
    (b) => (b.initiatedBy === 'sp' ? 'SP-initiated' : 'IdP-initiated'),
  );
  await step('Assertion was not used before', () =>
    rememberAssertion(q, ids, facts.id, new Date(facts.notOnOrAfter.getTime() + cfg.clockSkewSeconds * 1000)),
  );
  return { facts, binding };
}
