import { createVerify, randomBytes } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import type { Ctx } from '../../context.js';
import type { Queryable } from '../../db/db.js';
import { audit } from '../../audit/audit.js';
import type { SamlConnection } from '../connections.js';
import type { SpUrls } from './metadata.js';
import { SamlFailure } from './failure.js';
import { redirectBindingUrl } from './redirect-binding.js';
import { attr, childElement, childElements, escapeXml, parseUntrustedXml, text, XmlRejected, NS } from './xml.js';

const MAX_LOGOUT_BYTES = 64 * 1024;
const SIG_ALGS: Record<string, { node: string; sha1: boolean }> = {
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256': { node: 'RSA-SHA256', sha1: false },
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512': { node: 'RSA-SHA512', sha1: false },
  'http://www.w3.org/2000/09/xmldsig#rsa-sha1': { node: 'RSA-SHA1', sha1: true },
};

/**
 * SP-initiated single logout over HTTP-Redirect (Entra accepts only that binding): names the IdP
 * session the Keydesk session came from. Unsigned: Keydesk has no signing key yet.
 */
export function logoutRequestUrl(conn: SamlConnection, sp: SpUrls, s: { nameId: string; nameIdFormat: string | null; sessionIndex: string | null }, relayState: string): string | null {
  if (!conn.config.sloUrl) return null;
  const format = s.nameIdFormat ? ` Format="${escapeXml(s.nameIdFormat)}"` : '';
  const xml =
    `<samlp:LogoutRequest xmlns:samlp="${NS.samlp}" xmlns:saml="${NS.saml}" ID="_${randomBytes(20).toString('hex')}" Version="2.0"` +
    ` IssueInstant="${new Date().toISOString()}" Destination="${escapeXml(conn.config.sloUrl)}">` +
    `<saml:Issuer>${escapeXml(sp.entityId)}</saml:Issuer><saml:NameID${format}>${escapeXml(s.nameId)}</saml:NameID>` +
    (s.sessionIndex ? `<samlp:SessionIndex>${escapeXml(s.sessionIndex)}</samlp:SessionIndex>` : '') +
    `</samlp:LogoutRequest>`;
  return redirectBindingUrl(conn.config.sloUrl, 'SAMLRequest', xml, { RelayState: relayState });
}

/** The query parameter exactly as it arrived (still URL-encoded): what the IdP signed. */
function rawParam(rawQuery: string, name: string): string | null {
  const hit = rawQuery.split('&').find((kv) => kv.split('=')[0] === name);
  return hit === undefined ? null : hit.slice(name.length + 1);
}

/**
 * IdP-initiated logout: a LogoutRequest over HTTP-Redirect, which must be signed (SAML bindings
 * 3.4.4.1: over `SAMLRequest=…&RelayState=…&SigAlg=…` as sent) by a certificate the connection
 * trusts, come from its IdP, be addressed to our SLO URL and be fresh. Ends every Keydesk session
 * of that NameID (and SessionIndex, when given) from this connection; answers with a LogoutResponse.
 */
export async function handleIdpLogoutRequest(
  ctx: Ctx,
  q: Queryable,
  conn: SamlConnection,
  sp: SpUrls,
  rawQuery: string,
  now = Date.now(),
): Promise<{ redirect: string | null; revoked: number }> {
  const samlRequest = rawParam(rawQuery, 'SAMLRequest');
  const sigAlg = rawParam(rawQuery, 'SigAlg');
  const signature = rawParam(rawQuery, 'Signature');
  const relay = rawParam(rawQuery, 'RelayState');
  if (!samlRequest || samlRequest.length > 100_000) throw new SamlFailure('malformed', 'No usable SAMLRequest in the query.');
  if (!sigAlg || !signature) throw new SamlFailure('unsigned', 'The LogoutRequest is not signed.');
  const alg = SIG_ALGS[decodeURIComponent(sigAlg)];
  if (!alg) throw new SamlFailure('bad_algorithm', `SigAlg ${decodeURIComponent(sigAlg)} is not accepted.`);
  if (alg.sha1 && !conn.config.allowSha1) throw new SamlFailure('weak_algorithm', 'The LogoutRequest is signed with SHA-1.');
  const signed = `SAMLRequest=${samlRequest}${relay !== null ? `&RelayState=${relay}` : ''}&SigAlg=${sigAlg}`;
  const sigBytes = Buffer.from(decodeURIComponent(signature), 'base64');
  const ok = conn.config.certificates.some((pem) => createVerify(alg.node).update(signed).verify(pem, sigBytes));
  if (!ok) throw new SamlFailure('bad_signature', 'The LogoutRequest signature does not verify with a trusted certificate.');

  let xml: string;
  try {
    xml = inflateRawSync(Buffer.from(decodeURIComponent(samlRequest), 'base64'), { maxOutputLength: MAX_LOGOUT_BYTES }).toString('utf8');
  } catch {
    throw new SamlFailure('malformed', 'The SAMLRequest is not deflated base64 (or is too large).');
  }
  let doc: Document;
  try {
    doc = parseUntrustedXml(xml, MAX_LOGOUT_BYTES);
  } catch (err) {
    if (err instanceof XmlRejected) throw new SamlFailure(err.code, err.message);
    throw err;
  }
  const req = doc.documentElement;
  if (req.localName !== 'LogoutRequest' || req.namespaceURI !== NS.samlp) throw new SamlFailure('not_a_response', `Expected a LogoutRequest, got ${req.localName}.`);
  const issuer = text(childElement(req, 'Issuer', NS.saml));
  if (issuer !== conn.config.idpEntityId) throw new SamlFailure('issuer_mismatch', `Issuer is "${issuer}", expected "${conn.config.idpEntityId}".`);
  const destination = attr(req, 'Destination');
  if (destination !== null && destination !== sp.sloUrl) throw new SamlFailure('destination_mismatch', `Destination is "${destination}", expected "${sp.sloUrl}".`);
  const skew = conn.config.clockSkewSeconds * 1000;
  const notOnOrAfter = attr(req, 'NotOnOrAfter');
  const issued = Date.parse(attr(req, 'IssueInstant') ?? '');
  if ((notOnOrAfter && now - skew >= Date.parse(notOnOrAfter)) || Number.isNaN(issued) || now - issued > 10 * 60_000 + skew) {
    throw new SamlFailure('expired', 'The LogoutRequest is stale.');
  }
  const id = attr(req, 'ID');
  const nameId = text(childElement(req, 'NameID', NS.saml));
  if (!id || !nameId) throw new SamlFailure('malformed', 'The LogoutRequest names no ID or NameID.');
  const sessionIndexes = childElements(req, 'SessionIndex', NS.samlp).map(text);

  const fresh = await q.query(
    `INSERT INTO saml_replay_cache (tenant_id, connection_id, assertion_id, expires_at) VALUES ($1, $2, $3, now() + interval '1 hour') ON CONFLICT DO NOTHING RETURNING 1`,
    [ctx.tenant.id, conn.id, `logout:${id.slice(0, 190)}`],
  );
  if (!fresh.length) throw new SamlFailure('replayed', `LogoutRequest ${id.slice(0, 80)} was already processed.`);
  const revoked = await q.query<{ user_id: string }>(
    `UPDATE sessions SET revoked_at = now()
     WHERE tenant_id = $1 AND connection_id = $2 AND idp_name_id = $3 AND revoked_at IS NULL
       AND (cardinality($4::text[]) = 0 OR idp_session_index = ANY($4))
     RETURNING user_id`,
    [ctx.tenant.id, conn.id, nameId, sessionIndexes],
  );
  await audit(ctx, q, {
    action: 'signout.saml_idp',
    actorId: revoked[0]?.user_id ?? null,
    actorLabel: nameId.slice(0, 320),
    details: { connection: conn.slug, sessionsEnded: revoked.length },
  });
  if (!conn.config.sloUrl) return { redirect: null, revoked: revoked.length };
  const response =
    `<samlp:LogoutResponse xmlns:samlp="${NS.samlp}" xmlns:saml="${NS.saml}" ID="_${randomBytes(20).toString('hex')}" Version="2.0"` +
    ` IssueInstant="${new Date(now).toISOString()}" Destination="${escapeXml(conn.config.sloUrl)}" InResponseTo="${escapeXml(id)}">` +
    `<saml:Issuer>${escapeXml(sp.entityId)}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:LogoutResponse>`;
  return { redirect: redirectBindingUrl(conn.config.sloUrl, 'SAMLResponse', response, { RelayState: relay !== null ? decodeURIComponent(relay) : null }), revoked: revoked.length };
}
