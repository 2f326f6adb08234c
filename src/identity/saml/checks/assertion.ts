import { SamlFailure } from '../failure.js';
import { attr, NS, text } from '../xml.js';
import { child, children } from './dom.js';

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
 * Everything Keydesk reads from the assertion, and the rules it must meet (SAML core §2.3-2.7,
 * profiles §4.1.4.2): our IdP as Issuer, our entity as Audience, a bearer confirmation for our ACS,
 * and time windows within the connection's clock skew. `a` must be the assertion a verified
 * signature covers (the signed Assertion, or the one inside the signed Response): identity is read
 * from nowhere else.
 */
export function checkAssertion(
  a: Element,
  expected: { idpEntityId: string; spEntityId: string; acsUrl: string; skewMs: number; now: number },
): AssertionFacts {
  const issuer = text(child(a, 'Issuer', NS.saml));
  if (issuer !== expected.idpEntityId) {
    throw new SamlFailure('issuer_mismatch', `The assertion's Issuer is "${issuer}", expected "${expected.idpEntityId}".`, { received: issuer, expected: expected.idpEntityId });
  }

  const { now, skewMs } = expected;
  const conditions = child(a, 'Conditions', NS.saml);
  const notBefore = attr(conditions, 'NotBefore');
  const notOnOrAfter = attr(conditions, 'NotOnOrAfter');
  // An assertion without an end is good forever; SAML profiles §4.1.4.2 bound it, and so does Keydesk.
  if (!notOnOrAfter) throw new SamlFailure('malformed', 'The assertion\'s Conditions have no NotOnOrAfter.');
  checkWindow(notBefore, notOnOrAfter, now, skewMs, 'Conditions');

  const restrictions = children(conditions, 'AudienceRestriction', NS.saml);
  const audiences = restrictions.map((r) => children(r, 'Audience', NS.saml).map(text));
  if (!audiences.length || audiences.some((list) => !list.includes(expected.spEntityId))) {
    const received = audiences.flat();
    throw new SamlFailure('audience_mismatch', `Audience is ${received.length ? received.map((x) => `"${x}"`).join(', ') : 'missing'}, expected "${expected.spEntityId}".`, {
      received,
      expected: expected.spEntityId,
    });
  }

  const subjects = children(a, 'Subject', NS.saml);
  if (subjects.length > 1) throw new SamlFailure('malformed', `The assertion has ${subjects.length} Subject elements; SAML allows one.`);
  const subject = subjects[0] ?? null;
  const confirmations = children(subject, 'SubjectConfirmation', NS.saml).filter((c) => attr(c, 'Method') === BEARER);
  const data = confirmations.map((c) => child(c, 'SubjectConfirmationData', NS.saml)).filter((d): d is Element => !!d);
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

  const nameIdNode = child(subject, 'NameID', NS.saml);
  // Collected in a Map, then made an object by defining properties: an IdP may name an attribute
  // __proto__ or constructor, which `obj[name] ??= []` would read from Object.prototype.
  const collected = new Map<string, string[]>();
  for (const statement of children(a, 'AttributeStatement', NS.saml)) {
    for (const at of children(statement, 'Attribute', NS.saml)) {
      const name = attr(at, 'Name');
      if (!name) continue;
      let values = collected.get(name);
      if (!values) collected.set(name, (values = []));
      values.push(...children(at, 'AttributeValue', NS.saml).map(text));
    }
  }
  const attributes: Record<string, string[]> = Object.fromEntries(collected);
  const ends = [notOnOrAfter, confirmationNotOnOrAfter].filter((x): x is string => !!x).map((x) => Date.parse(x));
  const id = attr(a, 'ID');
  if (!id) throw new SamlFailure('malformed', 'The assertion has no ID.');
  return {
    id,
    issuer,
    nameId: nameIdNode ? text(nameIdNode) || null : null,
    nameIdFormat: attr(nameIdNode, 'Format'),
    inResponseTo: attr(confirmation, 'InResponseTo'),
    sessionIndex: attr(child(a, 'AuthnStatement', NS.saml), 'SessionIndex'),
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
