import { SamlFailure } from '../../../src/identity/saml/failure.js';
import { attr, nodes, parseUntrustedXml, text } from './xml.js';
import { MAX_RESPONSE_BYTES } from './structure.js';

const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';

export interface AssertionFacts {
  id: string;
  issuer: string;
  nameId: string | null;
  nameIdFormat: string | null;
  inResponseTo: string | null;
  /** The IdP session this assertion belongs to, for single logout. */
  sessionIndex: string | null;
  /** The last instant the assertion may be accepted (without skew). */
  notOnOrAfter: Date;
  attributes: Record<string, string[]>;
}

function describeGap(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}

/**
 * Everything Keydesk reads from the assertion, read from the verified copy only, and the rules it
 * must meet: our IdP as Issuer, our entity as Audience, a bearer confirmation for our ACS, and
 * time windows within the connection's clock skew.
 */
export function checkAssertion(
  verifiedXml: string,
  expected: { idpEntityId: string; spEntityId: string; acsUrl: string; skewMs: number; now: number },
): AssertionFacts {
  const doc = parseUntrustedXml(verifiedXml, MAX_RESPONSE_BYTES);
  const a = doc.documentElement;
  const one = (expr: string, ctx: Node = a) => nodes(expr, ctx)[0];
  const issuer = text(one("./*[local-name()='Issuer']"));
  if (issuer !== expected.idpEntityId) {
    throw new SamlFailure('issuer_mismatch', `The assertion's Issuer is "${issuer}", expected "${expected.idpEntityId}".`, { received: issuer, expected: expected.idpEntityId });
  }

  const { now, skewMs } = expected;
  const conditions = one("./*[local-name()='Conditions']");
  const notBefore = attr(conditions, 'NotBefore');
  const notOnOrAfter = attr(conditions, 'NotOnOrAfter');
  checkWindow(notBefore, notOnOrAfter, now, skewMs, 'Conditions');

  const restrictions = conditions ? nodes("./*[local-name()='AudienceRestriction']", conditions) : [];
  const audiences = restrictions.map((r) => nodes("./*[local-name()='Audience']", r).map(text));
  if (!audiences.length || audiences.some((list) => !list.includes(expected.spEntityId))) {
    const received = audiences.flat();
    throw new SamlFailure('audience_mismatch', `Audience is ${received.length ? received.map((x) => `"${x}"`).join(', ') : 'missing'}, expected "${expected.spEntityId}".`, {
      received,
      expected: expected.spEntityId,
    });
  }

  const confirmations = nodes("./*[local-name()='Subject']/*[local-name()='SubjectConfirmation']", a).filter((c) => attr(c, 'Method') === BEARER);
  const data = confirmations.map((c) => one("./*[local-name()='SubjectConfirmationData']", c)).filter((d): d is Node => !!d);
  if (!data.length) throw new SamlFailure('no_bearer_confirmation', 'The assertion has no bearer SubjectConfirmationData.');
  const forUs = data.filter((d) => attr(d, 'Recipient') === expected.acsUrl);
  if (!forUs.length) {
    const received = data.map((d) => attr(d, 'Recipient'));
    throw new SamlFailure('recipient_mismatch', `Recipient is ${received.map((r) => `"${r}"`).join(', ')}, expected "${expected.acsUrl}".`, {
      received,
      expected: expected.acsUrl,
    });
  }
  const confirmation = forUs[0]!;
  const confirmationNotOnOrAfter = attr(confirmation, 'NotOnOrAfter');
  if (!confirmationNotOnOrAfter) throw new SamlFailure('no_bearer_confirmation', 'The bearer SubjectConfirmationData has no NotOnOrAfter.');
  checkWindow(attr(confirmation, 'NotBefore'), confirmationNotOnOrAfter, now, skewMs, 'SubjectConfirmationData');

  const nameIdNode = one("./*[local-name()='Subject']/*[local-name()='NameID']");
  const attributes: Record<string, string[]> = {};
  for (const at of nodes("./*[local-name()='AttributeStatement']/*[local-name()='Attribute']", a)) {
    const name = attr(at, 'Name');
    if (!name) continue;
    (attributes[name] ??= []).push(...nodes("./*[local-name()='AttributeValue']", at).map(text));
  }
  const ends = [notOnOrAfter, confirmationNotOnOrAfter].filter((x): x is string => !!x).map((x) => Date.parse(x));
  const id = attr(a, 'ID');
  if (!id) throw new SamlFailure('malformed', 'The assertion has no ID.');
  return {
    id,
    issuer,
    nameId: nameIdNode ? text(nameIdNode) || null : null,
    nameIdFormat: attr(nameIdNode, 'Format'),
    inResponseTo: attr(confirmation, 'InResponseTo'),
    sessionIndex: attr(one("./*[local-name()='AuthnStatement']"), 'SessionIndex'),
    notOnOrAfter: new Date(Math.min(...ends)),
    attributes,
  };
}

function checkWindow(notBefore: string | null, notOnOrAfter: string | null, now: number, skewMs: number, where: string) {
  if (notBefore) {
    const t = Date.parse(notBefore);
    if (Number.isNaN(t)) throw new SamlFailure('malformed', `${where} NotBefore "${notBefore}" is not a time.`);
    if (now + skewMs < t) {
      throw new SamlFailure('not_yet_valid', `${where} NotBefore is ${describeGap(t - now)} in the future; the allowed clock skew is ${describeGap(skewMs)}.`, {
        notBefore,
        now: new Date(now).toISOString(),
        aheadBySeconds: Math.round((t - now) / 1000),
        skewSeconds: skewMs / 1000,
      });
    }
  }
  if (notOnOrAfter) {
    const t = Date.parse(notOnOrAfter);
    if (Number.isNaN(t)) throw new SamlFailure('malformed', `${where} NotOnOrAfter "${notOnOrAfter}" is not a time.`);
    if (now - skewMs >= t) {
      throw new SamlFailure('expired', `${where} NotOnOrAfter passed ${describeGap(now - t)} ago; the allowed clock skew is ${describeGap(skewMs)}.`, {
        notOnOrAfter,
        now: new Date(now).toISOString(),
        lateBySeconds: Math.round((now - t) / 1000),
        skewSeconds: skewMs / 1000,
      });
    }
  }
}
