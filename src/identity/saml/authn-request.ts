import { randomBytes } from 'node:crypto';
import type { Queryable } from '../../db/db.js';
import { StaleConnection } from '../connections.js';
import { escapeXml } from './xml.js';
import { redirectBindingUrl } from './redirect-binding.js';

/** How long a sent AuthnRequest stays answerable: long enough for MFA and a slow password manager. */
const REQUEST_TTL_MINUTES = 15;

/**
 * Builds an HTTP-Redirect AuthnRequest and remembers its id in the database, in the same statement
 * checking that the connection is still at `connectionVersion` (the caller's copy may come from
 * memory: signin/target-cache.ts). No
 * RequestedAuthnContext (Entra would refuse MFA, passkey and Windows Hello sign-ins with
 * AADSTS75011), no Subject (Entra wants login_hint instead), no NameIDPolicy format (Entra picks).
 */
export async function startAuthnRequest(
  q: Queryable,
  input: { tenantId: string; connectionId: string; connectionVersion: number; ssoUrl: string; spEntityId: string; acsUrl: string; relayState: string | null; test: boolean; loginHint?: string },
): Promise<{ url: string; requestId: string }> {
  // @throws StaleConnection when the stored connection has moved on from `connectionVersion`.
  const requestId = `_${randomBytes(20).toString('hex')}`;
  const xml =
    `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"` +
    ` ID="${requestId}" Version="2.0" IssueInstant="${new Date().toISOString()}" Destination="${escapeXml(input.ssoUrl)}"` +
    ` ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" AssertionConsumerServiceURL="${escapeXml(input.acsUrl)}">` +
    `<saml:Issuer>${escapeXml(input.spEntityId)}</saml:Issuer></samlp:AuthnRequest>`;
  const stored = await q.query(
    `INSERT INTO saml_requests (tenant_id, id, connection_id, relay_state, test, expires_at)
     SELECT $1, $2, $3, $4, $5, now() + make_interval(mins => $6) FROM sso_connections WHERE id = $3 AND version = $7
     RETURNING id`,
    [input.tenantId, requestId, input.connectionId, input.relayState, input.test, REQUEST_TTL_MINUTES, input.connectionVersion],
  );
  if (!stored.length) throw new StaleConnection();
  // The RelayState we send is an opaque key; the real destination stays in our database.
  return { url: redirectBindingUrl(input.ssoUrl, 'SAMLRequest', xml, { RelayState: requestId, login_hint: input.loginHint }), requestId };
}

export async function pruneSamlState(q: Queryable): Promise<void> {
  await q.query(`DELETE FROM saml_requests WHERE expires_at < now() - interval '1 day'`);
  await q.query(`DELETE FROM saml_replay_cache WHERE expires_at < now()`);
}
