import type { Queryable } from '../../../db/db.js';
import { StaleConnection } from '../../connections.js';
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
 * The response's two database checks in one statement, after its message checks passed: the
 * request it answers consumed (SP-initiated) and the assertion id remembered (replay), both only
 * while the connection is still the version the message was verified against.
 * @returns the request binding, or the failure to report at the binding step; whether the
 *   assertion was used before
 * @throws StaleConnection when the stored connection is another version (nothing was changed)
 */
export async function settleResponse(
  q: Queryable,
  p: ParsedResponse,
  facts: { inResponseTo: string | null; id: string; replayUntil: Date },
  ctx: { tenantId: string; connectionId: string; connectionVersion: number; allowIdpInitiated: boolean },
): Promise<{ binding: RequestBinding | SamlFailure; replayed: boolean }> {
  const responseInResponseTo = attr(p.response, 'InResponseTo');
  const requestId = facts.inResponseTo ?? responseInResponseTo;
  const [row] = (await q.query<{ version: number | null; request: { relay_state: string | null; test: boolean } | null; fresh: boolean }>(
    `WITH current AS (SELECT version FROM sso_connections WHERE tenant_id = $1 AND id = $2),
     consumed AS (
       UPDATE saml_requests SET consumed_at = now()
       WHERE $3::text IS NOT NULL AND tenant_id = $1 AND id = $3 AND connection_id = $2 AND consumed_at IS NULL AND expires_at > now()
         AND (SELECT version FROM current) = $6
       RETURNING relay_state, test),
     remembered AS (
       INSERT INTO saml_replay_cache (tenant_id, connection_id, assertion_id, expires_at)
       SELECT $1, $2, $4, $5 WHERE (SELECT version FROM current) = $6
       ON CONFLICT DO NOTHING RETURNING 1)
     SELECT (SELECT version FROM current) AS version, (SELECT row_to_json(c) FROM consumed c) AS request, EXISTS (SELECT 1 FROM remembered) AS fresh`,
    [ctx.tenantId, ctx.connectionId, requestId?.slice(0, 200) ?? null, facts.id.slice(0, 200), facts.replayUntil, ctx.connectionVersion],
  )) as [{ version: number | null; request: { relay_state: string | null; test: boolean } | null; fresh: boolean }];
  if (row.version !== ctx.connectionVersion) throw new StaleConnection();
  return { binding: binding(), replayed: !row.fresh };

  function binding(): RequestBinding | SamlFailure {
    if (responseInResponseTo && facts.inResponseTo && responseInResponseTo !== facts.inResponseTo) {
      return new SamlFailure('in_response_to_mismatch', `The Response answers "${responseInResponseTo}" but its assertion answers "${facts.inResponseTo}".`);
    }
    if (!requestId) {
      if (!ctx.allowIdpInitiated) return new SamlFailure('idp_initiated_disabled', 'The response answers no request (IdP-initiated sign-in).');
      return { initiatedBy: 'idp', requestId: null, relayState: null, test: false };
    }
    if (!row.request) return new SamlFailure('unknown_request', `No open sign-in request "${requestId.slice(0, 80)}" for this connection.`);
    return { initiatedBy: 'sp', requestId, relayState: row.request.relay_state, test: row.request.test };
  }
}
