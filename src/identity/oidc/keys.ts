import { createRemoteJWKSet, customFetch, type JWTVerifyGetKey } from 'jose';
import { providerFetch } from './provider.js';

/** A provider's published keys (its jwks_uri), one cache per URI and process. */
const sets = new Map<string, JWTVerifyGetKey>();

/**
 * The keys a provider publishes, cached for ten minutes and fetched again when a token names an
 * unknown `kid`, at most once a minute (a flood of made-up key ids cannot make Keydesk hammer the
 * provider). Keys are only ever taken from here, never from a token's own header.
 */
export function providerKeys(jwksUri: string): JWTVerifyGetKey {
  let set = sets.get(jwksUri);
  if (!set) {
    set = createRemoteJWKSet(new URL(jwksUri), { cooldownDuration: 60_000, cacheMaxAge: 10 * 60_000, timeoutDuration: 10_000, [customFetch]: providerFetch });
    sets.set(jwksUri, set);
  }
  return set;
}
