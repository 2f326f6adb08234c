import { compactVerify, errors } from 'jose';
import { OidcFailure } from '../failure.js';
import { providerKeys } from '../keys.js';

/**
 * The token's signature verifies with a key from the provider's jwks_uri, for the algorithm the
 * header check allowed. Done even though the ID token came straight from the token endpoint
 * (OpenID Connect Core §3.1.3.7 lets a client skip it there; Keydesk does not).
 * @throws OidcFailure untrusted_key
 */
export async function verifyTokenSignature(token: string, input: { jwksUri: string; alg: string }): Promise<void> {
  try {
    await compactVerify(token, providerKeys(input.jwksUri), { algorithms: [input.alg] });
  } catch (err) {
    if (err instanceof errors.JWKSNoMatchingKey) throw new OidcFailure('untrusted_key', 'No key the provider publishes matches the token’s key id and algorithm.');
    if (err instanceof errors.JWKSMultipleMatchingKeys) throw new OidcFailure('untrusted_key', 'Several published keys match and the token names none (no kid).');
    if (err instanceof errors.JWSSignatureVerificationFailed) throw new OidcFailure('untrusted_key', 'The signature does not verify with the provider’s published key: the token was altered or signed with another key.');
    if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid) throw new OidcFailure('untrusted_key', `The provider's keys could not be read from ${input.jwksUri} (${(err as Error).message}).`);
    throw new OidcFailure('untrusted_key', `The signature could not be verified: ${(err as Error).message}.`);
  }
}
