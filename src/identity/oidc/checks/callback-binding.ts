import type { Queryable } from '../../../db/db.js';
import { storable } from '../../../db/storable.js';
import { hashToken, safeEqual } from '../../secrets.js';
import { OidcFailure } from '../failure.js';

export interface PendingSignin {
  nonce: string;
  codeVerifier: string;
  relayState: string | null;
  test: boolean;
}

/**
 * The callback answers a sign-in this browser started: its `state` names an open request of this
 * connection, and the browser carries the cookie that request was bound to. The request is used up
 * here, in the sign-in's transaction (RFC 6749 §10.12 CSRF; OpenID Connect Core §3.1.2.7).
 * @throws OidcFailure unknown_state | other_browser
 */
export async function consumePendingSignin(
  q: Queryable,
  input: { tenantId: string; connectionId: string; state: string | null; browser: string | undefined },
): Promise<PendingSignin> {
  if (!input.state || input.state.length > 200 || !storable(input.state)) throw new OidcFailure('unknown_state', 'The callback carries no usable state.');
  const [row] = await q.query<{ browser_hash: string; nonce: string; code_verifier: string; relay_state: string | null; test: boolean; open: boolean }>(
    `SELECT browser_hash, nonce, code_verifier, relay_state, test, (consumed_at IS NULL AND expires_at > now()) AS open
     FROM oidc_requests WHERE tenant_id = $1 AND state_hash = $2 AND connection_id = $3 FOR UPDATE`,
    [input.tenantId, hashToken(input.state), input.connectionId],
  );
  if (!row || !row.open) throw new OidcFailure('unknown_state', row ? 'The sign-in this callback answers was already used or has expired.' : 'No sign-in with this state was started here.');
  if (!input.browser || !safeEqual(hashToken(input.browser), row.browser_hash)) {
    throw new OidcFailure('other_browser', 'The callback came to a browser without the cookie of the browser that started this sign-in.');
  }
  await q.query('UPDATE oidc_requests SET consumed_at = now() WHERE tenant_id = $1 AND state_hash = $2', [input.tenantId, hashToken(input.state)]);
  return { nonce: row.nonce, codeVerifier: row.code_verifier, relayState: row.relay_state, test: row.test };
}
