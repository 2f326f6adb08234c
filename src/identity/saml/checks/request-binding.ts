import type { Queryable } from '../../../db/db.js';
import { SamlFailure } from '../failure.js';
import { attr } from '../xml.js';
import type { ParsedResponse } from './structure.js';

export interface RequestBinding {
  initiatedBy: 'sp' | 'idp';
  requestId: string | null;
  relayState: string | null;
  test: boolean;
}

/**
 * SP-initiated: the InResponseTo must name a request this tenant sent over this connection, not yet
 * used and not expired; it is consumed here, once, in the shared database. IdP-initiated (no
 * InResponseTo at all): allowed only where the connection allows it.
 */
export async function bindToRequest(
  q: Queryable,
  p: ParsedResponse,
  assertionInResponseTo: string | null,
  ctx: { tenantId: string; connectionId: string; allowIdpInitiated: boolean },
): Promise<RequestBinding> {
  const responseInResponseTo = attr(p.response, 'InResponseTo');
  if (responseInResponseTo && assertionInResponseTo && responseInResponseTo !== assertionInResponseTo) {
    throw new SamlFailure('in_response_to_mismatch', `The Response answers "${responseInResponseTo}" but its assertion answers "${assertionInResponseTo}".`);
  }
  const requestId = assertionInResponseTo ?? responseInResponseTo;
  if (!requestId) {
    if (!ctx.allowIdpInitiated) throw new SamlFailure('idp_initiated_disabled', 'The response answers no request (IdP-initiated sign-in).');
    return { initiatedBy: 'idp', requestId: null, relayState: null, test: false };
  }
  const rows = await q.query<{ relay_state: string | null; test: boolean }>(
    `UPDATE saml_requests SET consumed_at = now()
     WHERE tenant_id = $1 AND id = $2 AND connection_id = $3 AND consumed_at IS NULL AND expires_at > now()
     RETURNING relay_state, test`,
    [ctx.tenantId, requestId.slice(0, 200), ctx.connectionId],
  );
  if (!rows[0]) throw new SamlFailure('unknown_request', `No open sign-in request "${requestId.slice(0, 80)}" for this connection.`);
  return { initiatedBy: 'sp', requestId, relayState: rows[0].relay_state, test: rows[0].test };
}

/** Each assertion signs in once, across every node: the id is remembered until it could not be accepted anyway. */
export async function rememberAssertion(
  q: Queryable,
  ctx: { tenantId: string; connectionId: string },
  assertionId: string,
  acceptableUntil: Date,
): Promise<void> {
  const rows = await q.query(
    `INSERT INTO saml_replay_cache (tenant_id, connection_id, assertion_id, expires_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT DO NOTHING RETURNING 1`,
    [ctx.tenantId, ctx.connectionId, assertionId.slice(0, 200), acceptableUntil],
  );
  if (!rows.length) throw new SamlFailure('replayed', `Assertion "${assertionId.slice(0, 80)}" was already used.`);
}
