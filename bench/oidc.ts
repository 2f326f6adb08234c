/**
 * OpenID Connect: ID-token validation (Keydesk's checks and oauth4webapi's) against jose's bare
 * `jwtVerify` with the key in hand, and a full sign-in over HTTP (login, the provider's redirect, the
 * callback with the code exchange, a just-in-time account, a session) against GET /healthz, all in
 * one run. The provider is a small loopback server with discovery, JWKS and a token endpoint that
 * returns a freshly signed ID token (test/helpers/oidc-forge.ts), so its own cost is a signature.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import * as oauth from 'oauth4webapi';
import { createLocalJWKSet, jwtVerify } from 'jose';
import type { Db } from '../src/db/db.js';
import { loadActor } from '../src/identity/actor.js';
import { createOidcConnection } from '../src/identity/oidc/connection.js';
import { checkIdTokenClaims } from '../src/identity/oidc/checks/claims.js';
import { resolveIssuer } from '../src/identity/oidc/checks/issuer.js';
import { verifyTokenSignature } from '../src/identity/oidc/checks/signature.js';
import { checkTokenHeader } from '../src/identity/oidc/checks/token-header.js';
import { SecretBox } from '../src/identity/secrets.js';
import { createTenant } from '../src/tenancy/tenants.js';
import { Client } from '../test/helpers/client.js';
import { startForger } from '../test/helpers/oidc-forge.js';
import { costRatio, envInt, fmt, measure, measureInterleaved, p50Ratio, printTable, scaled, startBenchApp, withThrowawayDatabase, type Measurement, type Suite } from './lib.js';

export const oidcSuite: Suite = {
  name: 'oidc',
  description: 'OIDC: ID-token validation vs jose jwtVerify; full sign-ins over HTTP (new and returning people) vs GET /healthz',
  run: ({ baseUrl }) => withThrowawayDatabase(baseUrl, 10, (bdb) => runOidc(bdb.db, bdb.url)),
};

async function runOidc(db: Db, url: string): Promise<Record<string, unknown>> {
  const started = performance.now();
  const step = (msg: string) => console.log(`  [${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s] ${msg}`);
  const concurrency = envInt('BENCH_CONCURRENCY', 4);
  const forger = await startForger();
  const created = await createTenant(db, { slug: 'bench', name: 'Bench Company', adminEmail: 'admin@bench.example', adminPassword: 'bench-admin-password-0123' });
  const admin = (await loadActor(db, created.tenant, created.admin.id))!.ctx;
  const { app, config } = await startBenchApp(db, url);
  try {
    const conn = await createOidcConnection(admin, new SecretBox(config.secret, 'oidc'), { slug: 'entra', issuer: forger.issuer, clientId: 'kd-bench', clientSecret: 'bench-secret', publish: true });

    // 1. Validation of one ID token, interleaved: jose alone (key in hand) against Keydesk's checks.
    const iterations = scaled(1000);
    step(`ID-token validation: ${iterations} tokens, jose jwtVerify / Keydesk's checks interleaved`);
    const seen = { state: 's', nonce: 'n-bench', clientId: 'kd-bench', redirectUri: '' };
    const groups = Array.from({ length: 20 }, () => randomUUID());
    const tokens = await Promise.all(Array.from({ length: iterations + 60 }, () => forger.idToken(seen, { groups, oid: randomUUID() })));
    const localKeys = createLocalJWKSet({ keys: [forger.publicJwk as never] });
    const as: oauth.AuthorizationServer = { issuer: forger.issuer, jwks_uri: `${forger.origin}/keys`, id_token_signing_alg_values_supported: ['RS256'] };
    const client: oauth.Client = { client_id: 'kd-bench', [oauth.clockTolerance]: 180 };
    const token = (i: number) => tokens[(i + tokens.length) % tokens.length]!;
    const [bare, keydesk] = await measureInterleaved(
      [
        { name: 'jose jwtVerify (key in hand)', fn: async (i) => jwtVerify(token(i), localKeys, { issuer: forger.issuer, audience: 'kd-bench', algorithms: ['RS256'] }) },
        {
          name: "Keydesk's checks (header, issuer, signature via cached JWKS, oauth4webapi claims)",
          fn: async (i) => {
            const t = token(i);
            const alg = checkTokenHeader(t, conn.config.provider);
            const { issuer } = resolveIssuer(t, conn.config);
            await verifyTokenSignature(t, { jwksUri: conn.config.provider.jwks_uri, alg });
            await checkIdTokenClaims({ ...as, issuer }, client, new Response(JSON.stringify({ access_token: 'a', token_type: 'Bearer', id_token: t })), 'n-bench');
          },
        },
      ],
      { iterations },
    );

    // 2. Full sign-ins over HTTP, against the HTTP floor.
    step('HTTP floor: GET /healthz');
    const healthz = await measure(
      'GET /healthz',
      async () => {
        const res = await fetch(`${config.publicUrl}/healthz`);
        await res.arrayBuffer();
      },
      { iterations: scaled(500) },
    );
    let n = 0;
    forger.answer = async (s) => ({ json: { access_token: 'at', token_type: 'Bearer', id_token: await forger.idToken(s, { oid: randomUUID(), email: `p${++n}@bench.example`, groups }) } });
    const signIn = async (i: number) => {
      const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      const browser = new Client(config.publicUrl);
      const login = await browser.request('GET', `/t/bench/oidc/entra/login`, undefined, { 'x-forwarded-for': ip });
      const authorize = await fetch(login.headers.get('location')!, { redirect: 'manual' });
      const done = await browser.request('GET', authorize.headers.get('location')!.slice(config.publicUrl.length), undefined, { 'x-forwarded-for': ip });
      if (done.status !== 303) throw new Error(`the callback answered ${done.status}: ${String(done.body).slice(0, 200)}`);
    };
    const signins = scaled(200);
    let offset = 0;
    const runs: Measurement[] = [];
    for (const callers of [1, concurrency]) {
      step(`full sign-ins over HTTP, new people (just-in-time accounts), ${callers} caller(s)`);
      const base = (offset += 100_000);
      runs.push(await measure(`full OIDC sign-in, ${callers} caller(s)`, (i) => signIn(base + i + 50), { iterations: signins, concurrency: callers, warmup: 10 }));
    }

    printTable('OIDC: ID-token validation', [
      { header: 'variant', value: (m: Measurement) => m.name, align: 'left' },
      { header: 'ops/s', value: (m: Measurement) => fmt(m.opsPerSec, 0) },
      { header: 'p50 ms', value: (m: Measurement) => fmt(m.p50Ms, 3) },
      { header: '× jose (mean)', value: (m: Measurement) => fmt(costRatio(m, bare!), 2) },
      { header: '× jose (p50)', value: (m: Measurement) => fmt(p50Ratio(m, bare!), 2) },
    ], [bare!, keydesk!]);
    printTable('OIDC: full sign-in over HTTP', [
      { header: 'case', value: (m: Measurement) => m.name, align: 'left' },
      { header: 'sign-ins/s', value: (m: Measurement) => fmt(m.opsPerSec, 1) },
      { header: 'p50 ms', value: (m: Measurement) => fmt(m.p50Ms, 2) },
      { header: 'p95 ms', value: (m: Measurement) => fmt(m.p95Ms, 2) },
      { header: '× /healthz (p50)', value: (m: Measurement) => fmt(p50Ratio(m, healthz), 1) },
    ], runs);
    return {
      validation: { jose: bare, keydesk, costRatio: costRatio(keydesk!, bare!), p50Ratio: p50Ratio(keydesk!, bare!) },
      http: { healthz, signins: runs.map((m) => ({ ...m, p50VsHealthz: p50Ratio(m, healthz) })) },
    };
  } finally {
    await app.close();
    await forger.stop();
  }
}
