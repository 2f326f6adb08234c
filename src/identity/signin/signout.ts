import type { Tenant } from '../../context.js';
import type { Queryable } from '../../db/db.js';
import { findConnection, spUrls } from '../connections.js';
import { endSessionUrl } from '../oidc/logout.js';
import { logoutRequestUrl } from '../saml/logout.js';
import type { SecretBox } from '../secrets.js';

/**
 * Where to send a person signing out of an SSO session so the identity provider ends theirs too:
 * a SAML LogoutRequest, or OpenID Connect RP-initiated logout at the provider's
 * end_session_endpoint. Null when the session came from no identity provider, or it offers neither.
 */
export async function idpLogoutUrl(q: Queryable, publicUrl: string, box: SecretBox, tenant: Tenant, sessionId: string): Promise<string | null> {
  const rows = await q.query<{ connection_id: string | null; idp_name_id: string | null; idp_name_id_format: string | null; idp_session_index: string | null; idp_id_token: string | null }>(
    'SELECT connection_id, idp_name_id, idp_name_id_format, idp_session_index, idp_id_token FROM sessions WHERE tenant_id = $1 AND id = $2',
    [tenant.id, sessionId],
  );
  const s = rows[0];
  if (!s?.connection_id || !s.idp_name_id) return null;
  const conn = await findConnection(q, tenant.id, s.connection_id);
  if (!conn || !conn.enabled) return null;
  if (conn.protocol === 'oidc') return endSessionUrl(conn, publicUrl, tenant.slug, s.idp_id_token ? box.open(s.idp_id_token) : null);
  return logoutRequestUrl(conn, spUrls(publicUrl, tenant.slug, conn.slug), { nameId: s.idp_name_id, nameIdFormat: s.idp_name_id_format, sessionIndex: s.idp_session_index }, `/t/${tenant.slug}/login`);
}
