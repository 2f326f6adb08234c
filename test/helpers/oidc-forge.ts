/**
 * An attacker's OpenID provider for the attack tests: a real HTTP server with discovery, a JWKS, an
 * authorization endpoint that answers at once with a code, and a token endpoint whose answer each
 * test crafts (a forged, re-signed or altered ID token, an error, something that is not JSON). It
 * stands for a compromised or impersonated provider, or a man in the middle of the token call.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { SignJWT, exportJWK, base64url } from 'jose';

export interface AuthorizeSeen {
  state: string;
  nonce: string;
  clientId: string;
  redirectUri: string;
}

export type TokenAnswer = { status?: number; json?: unknown; raw?: string; contentType?: string };

export interface Forger {
  origin: string;
  /** `${origin}/<tid>/v2.0`, Entra-shaped. */
  issuer: string;
  tenantId: string;
  /** `${origin}/organizations/v2.0`, whose discovery states `${origin}/{tenantid}/v2.0`. */
  organizationsIssuer: string;
  key: KeyObject;
  kid: string;
  publicJwk: Record<string, unknown>;
  /** What the token endpoint answers next, given what the authorization request carried. */
  answer: (seen: AuthorizeSeen) => Promise<TokenAnswer> | TokenAnswer;
  /** The authorization endpoint answers with this instead of a code (an error redirect), when set. */
  authorizeError: { error: string; error_description?: string } | null;
  tokenRequests: number;
  /** How often Keydesk fetched the JWKS. */
  jwksRequests: number;
  /** Awaited before the token endpoint answers: a slow or stalled provider. */
  beforeToken: (() => Promise<void>) | null;
  /** An ID token the real provider would have issued for this sign-in, with `over` laid on top. */
  idToken(seen: AuthorizeSeen, over?: Record<string, unknown>, opts?: { key?: KeyObject; header?: Record<string, unknown> }): Promise<string>;
  stop(): Promise<void>;
}

export async function startForger(): Promise<Forger> {
  const tenantId = randomUUID();
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = `forge-${randomUUID().slice(0, 6)}`;
  const publicJwk = { ...(await exportJWK(privateKey)), kid, use: 'sig', alg: 'RS256' };
  delete (publicJwk as Record<string, unknown>).d;
  for (const k of ['p', 'q', 'dp', 'dq', 'qi']) delete (publicJwk as Record<string, unknown>)[k];
  const server: Server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const issuer = `${origin}/${tenantId}/v2.0`;
  const seenByCode = new Map<string, AuthorizeSeen>();

  const forger: Forger = {
    origin,
    issuer,
    tenantId,
    organizationsIssuer: `${origin}/organizations/v2.0`,
    key: privateKey,
    kid,
    publicJwk,
    answer: async (seen) => ({ json: { access_token: 'at', token_type: 'Bearer', id_token: await forger.idToken(seen) } }),
    authorizeError: null,
    tokenRequests: 0,
    jwksRequests: 0,
    beforeToken: null,
    async idToken(seen, over = {}, opts = {}) {
      const now = Math.floor(Date.now() / 1000);
      const claims = { iss: issuer, aud: seen.clientId, sub: 'sub-1', oid: '00000000-0000-0000-0000-00000000aaaa', tid: tenantId, nonce: seen.nonce, iat: now, exp: now + 600, email: 'eve@corp.test', name: 'Eve', ...over };
      for (const [k, v] of Object.entries(claims)) if (v === undefined) delete (claims as Record<string, unknown>)[k];
      return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT', ...opts.header }).sign(opts.key ?? privateKey);
    },
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };

  const discovery = (iss: string) => ({
    issuer: iss,
    authorization_endpoint: `${origin}/authorize`,
    token_endpoint: `${origin}/token`,
    jwks_uri: `${origin}/keys`,
    response_types_supported: ['code'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
  });

  server.on('request', (req, res) => {
    const url = new URL(req.url ?? '/', origin);
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (url.pathname === `/${tenantId}/v2.0/.well-known/openid-configuration`) return json(200, discovery(issuer));
    if (url.pathname === '/organizations/v2.0/.well-known/openid-configuration') return json(200, discovery(`${origin}/{tenantid}/v2.0`));
    if (url.pathname === '/keys') {
      forger.jwksRequests++;
      return json(200, { keys: [publicJwk] });
    }
    if (url.pathname === '/authorize') {
      const seen: AuthorizeSeen = {
        state: url.searchParams.get('state') ?? '',
        nonce: url.searchParams.get('nonce') ?? '',
        clientId: url.searchParams.get('client_id') ?? '',
        redirectUri: url.searchParams.get('redirect_uri') ?? '',
      };
      const back = new URL(seen.redirectUri);
      if (forger.authorizeError) {
        for (const [k, v] of Object.entries(forger.authorizeError)) if (v) back.searchParams.set(k, v);
      } else {
        const code = randomUUID();
        seenByCode.set(code, seen);
        back.searchParams.set('code', code);
      }
      back.searchParams.set('state', seen.state);
      return res.writeHead(302, { location: back.href }).end();
    }
    if (url.pathname === '/token' && req.method === 'POST') {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        forger.tokenRequests++;
        const code = new URLSearchParams(body).get('code') ?? '';
        const seen = seenByCode.get(code);
        if (!seen) return json(400, { error: 'invalid_grant', error_description: 'unknown or used code' });
        seenByCode.delete(code);
        void Promise.resolve(forger.beforeToken?.())
          .then(() => forger.answer(seen))
          .then((a) => {
          if (a.raw !== undefined) return res.writeHead(a.status ?? 200, { 'content-type': a.contentType ?? 'text/html' }).end(a.raw);
          return json(a.status ?? 200, a.json);
          });
      });
      return;
    }
    res.writeHead(404).end();
  });
  return forger;
}

/** A JWT with the given header and payload and any signature bytes (for `alg: none` and stripped signatures). */
export function unsignedJwt(header: Record<string, unknown>, payload: Record<string, unknown>, signature = ''): string {
  const enc = (o: unknown) => base64url.encode(JSON.stringify(o));
  return `${enc(header)}.${enc(payload)}.${signature}`;
}
