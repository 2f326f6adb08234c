/**
 * A real OpenID provider for the tests: panva's `oidc-provider` (certified), on loopback, shaped
 * like Entra ID (issuer `/<tid>/v2.0`, `oid`, `tid`, `groups` as object ids, app `roles`, and the
 * multi-tenant `organizations` discovery whose issuer says `{tenantid}`) or like Okta (issuer
 * `/oauth2/default`, `groups` by name). Its dev login form takes any user name; the claims come
 * from `users`. Consent is granted without a page, as an admin-consented Entra app is.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID, generateKeyPairSync } from 'node:crypto';
import Provider, { type Configuration } from 'oidc-provider';

export interface OidcUser {
  /** The login name typed at the provider; also `sub`. */
  login: string;
  claims: Record<string, unknown>;
}

export interface OidcClientRegistration {
  clientId: string;
  /** A client secret, or `jwksUri`: the client then authenticates with private_key_jwt and its keys are read there. */
  clientSecret?: string;
  jwksUri?: string;
  redirectUris: string[];
  postLogoutRedirectUris?: string[];
  backchannelLogoutUri?: string;
}

export interface RunningOidcProvider {
  shape: 'entra' | 'okta';
  /** http://127.0.0.1:<port> */
  origin: string;
  /** Entra: `${origin}/<tid>/v2.0`; Okta: `${origin}/oauth2/default`. */
  issuer: string;
  tenantId: string;
  /** Entra only: `${origin}/organizations/v2.0`, whose discovery states `${origin}/{tenantid}/v2.0`. */
  organizationsIssuer: string;
  /** The provider's signing key (PEM), for tests that forge what only the provider could sign. */
  privateKeyPem: string;
  kid: string;
  users: Map<string, OidcUser>;
  provider: Provider;
  stop(): Promise<void>;
}

export async function startOidcProvider(opts: { shape: 'entra' | 'okta'; clients: OidcClientRegistration[]; users: OidcUser[]; tenantId?: string }): Promise<RunningOidcProvider> {
  const tenantId = opts.tenantId ?? randomUUID();
  const users = new Map(opts.users.map((u) => [u.login, u]));
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = `k-${randomUUID().slice(0, 8)}`;
  const jwk = { ...(privateKey.export({ format: 'jwk' }) as Record<string, unknown>), kid, use: 'sig', alg: 'RS256' };
  const server: Server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const prefix = opts.shape === 'entra' ? `/${tenantId}/v2.0` : '/oauth2/default';
  const issuer = `${origin}${prefix}`;

  const configuration: Configuration = {
    clients: opts.clients.map((c) => ({
      client_id: c.clientId,
      ...(c.jwksUri ? { jwks_uri: c.jwksUri, token_endpoint_auth_method: 'private_key_jwt' } : { client_secret: c.clientSecret, token_endpoint_auth_method: 'client_secret_post' }),
      redirect_uris: c.redirectUris,
      post_logout_redirect_uris: c.postLogoutRedirectUris ?? [],
      response_types: ['code'],
      grant_types: ['authorization_code'],
      ...(c.backchannelLogoutUri ? { backchannel_logout_uri: c.backchannelLogoutUri, backchannel_logout_session_required: true } : {}),
    })),
    jwks: { keys: [jwk as never] },
    claims: {
      openid: ['sub', 'oid', 'tid', 'groups', 'roles', 'hasgroups', '_claim_names', '_claim_sources', 'xms_edov'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name', 'preferred_username'],
    },
    // Entra puts profile and email claims in the ID token of a code flow; so does this provider.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: true }, backchannelLogout: { enabled: true }, rpInitiatedLogout: { enabled: true } },
    pkce: { required: () => true },
    findAccount: async (_ctx, id) => {
      const u = users.get(id);
      return { accountId: id, claims: async () => ({ sub: id, ...(u?.claims ?? {}) }) };
    },
    loadExistingGrant: async (ctx) => {
      const existing = ctx.oidc.result?.consent?.grantId ?? ctx.oidc.session!.grantIdFor(ctx.oidc.client!.clientId);
      if (existing) return ctx.oidc.provider.Grant.find(existing);
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client!.clientId, accountId: ctx.oidc.session!.accountId! });
      grant.addOIDCScope('openid email profile');
      await grant.save();
      return grant;
    },
    cookies: { keys: [randomUUID()] },
    // Keydesk listens on loopback here: let the provider's back-channel calls reach it (its SSRF
    // guard refuses special-use addresses, as a provider on the internet should).
    fetch: (url, options) => globalThis.fetch(url, { ...options, dispatcher: undefined } as RequestInit),
    ttl: { Session: 3600, Interaction: 600, Grant: 3600, AccessToken: 600, AuthorizationCode: 60, IdToken: 600 },
  };
  const provider = new Provider(issuer, configuration);
  const handle = provider.callback();
  server.on('request', (req: IncomingMessage & { originalUrl?: string }, res: ServerResponse) => {
    const url = req.url ?? '/';
    if (opts.shape === 'entra' && url.startsWith('/organizations/v2.0/.well-known/openid-configuration')) {
      // Entra's multi-tenant discovery: the same endpoints, an issuer with a placeholder for the tenant.
      void fetch(`${issuer}/.well-known/openid-configuration`).then(async (r) => {
        const doc = (await r.json()) as Record<string, unknown>;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ...doc, issuer: `${origin}/{tenantid}/v2.0` }));
      });
      return;
    }
    if (url.startsWith(prefix)) {
      req.originalUrl = url;
      req.url = url.slice(prefix.length) || '/';
    }
    handle(req, res);
  });

  return {
    shape: opts.shape,
    origin,
    issuer,
    tenantId,
    organizationsIssuer: `${origin}/organizations/v2.0`,
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    kid,
    users,
    provider,
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/**
 * A person's browser at the provider: its cookies are kept between calls, so a sign-in leaves a
 * provider session that a later logout ends.
 */
export class ProviderBrowser {
  private readonly jar = new Map<string, string>();

  private async send(url: string, init: RequestInit = {}) {
    const res = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string>), cookie: [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ') } });
    for (const sc of res.headers.getSetCookie()) {
      const [pair] = sc.split(';');
      const i = pair!.indexOf('=');
      this.jar.set(pair!.slice(0, i).trim(), pair!.slice(i + 1));
    }
    return res;
  }

  /** Follows the provider's redirects and submits its forms until the browser leaves the provider; returns where it went. */
  private async walk(start: string, fill: (html: string) => URLSearchParams): Promise<string> {
    let url = start;
    const origin = new URL(start).origin;
    for (let hops = 0; hops < 12; hops++) {
      const res = await this.send(url);
      const location = res.headers.get('location');
      if (location) {
        const next = new URL(location, url).href;
        if (!next.startsWith(origin)) return next;
        url = next;
        continue;
      }
      const html = await res.text();
      const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
      if (!action) return url; // a page of the provider's own, with nothing to submit
      const submit = new URL(action.replace(/&amp;/g, '&'), url).href;
      const posted = await this.send(submit, { method: 'POST', body: fill(html), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      const after = posted.headers.get('location');
      if (!after) return submit;
      url = new URL(after, submit).href;
      if (!url.startsWith(origin)) return url;
    }
    throw new Error('the provider kept redirecting');
  }

  /** Signs `login` in at the provider's dev login form, starting from an authorization URL; returns the callback URL. */
  login(authorizationUrl: string, login: string): Promise<string> {
    return this.walk(authorizationUrl, (html) => (/name="login"/.test(html) ? new URLSearchParams({ prompt: 'login', login, password: 'any' }) : new URLSearchParams({ prompt: 'consent' })));
  }

  /** Confirms the provider's "sign out?" page for an end-session URL; returns where the provider sent the browser after. */
  logout(endSessionUrl: string): Promise<string> {
    return this.walk(endSessionUrl, (html) => new URLSearchParams({ xsrf: /name="xsrf" value="([^"]+)"/.exec(html)?.[1] ?? '', logout: 'yes' }));
  }
}

/** Signs a user in at the provider in a fresh provider browser; returns the callback URL. */
export function loginAtProvider(authorizationUrl: string, login: string): Promise<string> {
  return new ProviderBrowser().login(authorizationUrl, login);
}
