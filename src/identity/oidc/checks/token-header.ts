import { decodeProtectedHeader } from 'jose';
import type { ProviderMetadata } from '../config.js';
import { OidcFailure } from '../failure.js';
import { ACCEPTED_ALGORITHMS } from '../provider.js';

/** Header parameters that bring a key (or where to get one) with the token itself (RFC 7515 §4.1). */
const KEY_CARRIERS = ['jwk', 'jku', 'x5u', 'x5c'] as const;

/**
 * The token is a JWS signed with an algorithm Keydesk accepts and the provider says it uses, and
 * brings no key of its own: the key is chosen only from the provider's jwks_uri.
 * @returns the algorithm, for the signature check
 * @throws OidcFailure bad_algorithm | embedded_key | bad_claims
 */
export function checkTokenHeader(token: string, provider: Pick<ProviderMetadata, 'id_token_signing_alg_values_supported'>): string {
  if (token.split('.').length !== 3) throw new OidcFailure('bad_algorithm', 'The token is not a signed JWT (an encrypted or malformed token is not accepted).');
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(token) as Record<string, unknown>;
  } catch {
    throw new OidcFailure('bad_claims', 'The token header is not readable JSON.');
  }
  const carried = KEY_CARRIERS.filter((k) => k in header);
  if (carried.length) throw new OidcFailure('embedded_key', `The token header carries ${carried.join(', ')}.`);
  const alg = typeof header.alg === 'string' ? header.alg : '';
  if (!(ACCEPTED_ALGORITHMS as readonly string[]).includes(alg)) throw new OidcFailure('bad_algorithm', `The token is signed with "${alg.slice(0, 20) || 'no algorithm'}".`);
  const listed = provider.id_token_signing_alg_values_supported;
  if (listed && !listed.includes(alg)) throw new OidcFailure('bad_algorithm', `The token is signed with ${alg}, which the provider does not list among its algorithms (${listed.join(', ')}).`);
  return alg;
}
