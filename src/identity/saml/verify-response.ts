import type { Queryable } from '../../db/db.js';
import type { SamlConnection } from '../connections.js';
import type { SpUrls } from './metadata.js';
import { checkAddressing } from './checks/addressing.js';
import { checkAssertion, type AssertionFacts } from './checks/assertion.js';
import { settleResponse, type RequestBinding } from './checks/request-binding.js';
import { checkSignatureProfile } from './checks/signature-profile.js';
import { verifySignature } from './checks/signature.js';
import { checkStatus } from './checks/status.js';
import { parseResponse, type ParsedResponse } from './checks/structure.js';
import { failClosedChecks, type SigninTrace } from '../signin/trace.js';
import { redactXml } from './xml.js';
import { SamlFailure } from './failure.js';

export interface VerifiedResponse {
  facts: AssertionFacts;
  binding: RequestBinding;
}

/** What a response must match: the connection's trust and Keydesk's own URLs. */
export interface MessageExpectations {
  /** Trusted signing certificates (PEM), as the connection stores them. */
  certificates: string[];
  idpEntityId: string;
  spEntityId: string;
  acsUrl: string;
  allowSha1: boolean;
  /** Allowed clock skew, in milliseconds. */
  skewMs: number;
  /** The instant to judge validity windows at (ms since the epoch). */
  now: number;
}

/**
 * The message checks of the strict SAML profile, in order, with no database: each step passes (and
 * says so in the trace) or throws a SamlFailure naming the cause. Identity comes only from the
 * assertion the verified signature covers.
 * @returns the assertion's facts and the parsed response
 * @throws SamlFailure
 */
export async function verifySamlMessage(samlResponse: string, e: MessageExpectations, trace: SigninTrace): Promise<{ facts: AssertionFacts; parsed: ParsedResponse }> {
  const step = failClosedChecks(trace, (reason) => new SamlFailure('malformed', `Keydesk could not process the response (${reason}), so it is refused.`));
  const parsed = await step('Message is one well-formed SAML Response with one assertion', () => parseResponse(samlResponse));
  trace.data.responseXml = redactXml(parsed.xml);
  await step('Identity provider reported success', () => checkStatus(parsed));
  await step('Response is addressed to this Reply URL and comes from this identity provider', () => checkAddressing(parsed, { acsUrl: e.acsUrl, idpEntityId: e.idpEntityId }));
  const signedParts = await step(
    'Signature covers its own element with accepted algorithms',
    () => checkSignatureProfile(parsed, { allowSha1: e.allowSha1 }),
    (s) => [s.responseSigned && 'response', s.assertionSigned && 'assertion'].filter(Boolean).join(' and ') + ' signed',
  );
  await step('Signature verifies with a trusted, current certificate', () => verifySignature(parsed, signedParts, { certificates: e.certificates, now: e.now }));
  const facts = await step('Assertion: issuer, audience, recipient and validity window', () =>
    checkAssertion(parsed.assertion, { idpEntityId: e.idpEntityId, spEntityId: e.spEntityId, acsUrl: e.acsUrl, skewMs: e.skewMs, now: e.now }),
  );
  trace.data.claims = { nameId: facts.nameId, nameIdFormat: facts.nameIdFormat, attributes: facts.attributes };
  return { facts, parsed };
}

/**
 * The whole profile for the ACS: the message checks (verifySamlMessage), then the request binding
 * and the replay cache, in the sign-in's transaction `q`.
 * @throws SamlFailure; StaleConnection when `conn` is no longer the stored version (start again)
 */
export async function verifySamlResponse(
  q: Queryable,
  input: { samlResponse: string; tenantId: string; conn: SamlConnection; sp: SpUrls; now?: number },
  trace: SigninTrace,
): Promise<VerifiedResponse> {
  const { conn, sp } = input;
  const cfg = conn.config;
  const { facts, parsed } = await verifySamlMessage(
    input.samlResponse,
    { certificates: cfg.certificates, idpEntityId: cfg.idpEntityId, spEntityId: sp.entityId, acsUrl: sp.acsUrl, allowSha1: cfg.allowSha1, skewMs: cfg.clockSkewSeconds * 1000, now: input.now ?? Date.now() },
    trace,
  );
  // The request binding and the replay cache in one statement, which also confirms the connection
  // is still the one verified against (StaleConnection otherwise); each keeps its trace step.
  const settled = await settleResponse(
    q,
    parsed,
    { inResponseTo: facts.inResponseTo, id: facts.id, replayUntil: new Date(facts.notOnOrAfter.getTime() + cfg.clockSkewSeconds * 1000) },
    { tenantId: input.tenantId, connectionId: conn.id, connectionVersion: conn.version, allowIdpInitiated: cfg.allowIdpInitiated },
  );
  const binding = await trace.step(
    'Answers an open sign-in request (or IdP-initiated is allowed)',
    () => {
      if (settled.binding instanceof SamlFailure) throw settled.binding;
      return settled.binding;
    },
    (b) => (b.initiatedBy === 'sp' ? 'SP-initiated' : 'IdP-initiated'),
  );
  await trace.step('Assertion was not used before', () => {
    if (settled.replayed) throw new SamlFailure('replayed', `Assertion "${facts.id.slice(0, 80)}" was already used.`);
  });
  return { facts, binding };
}
