/**
 * SAML benchmark: how fast the Assertion Consumer Service verifies Entra-shaped responses (about
 * 5 KB, and 15 KB with 150 groups) compared with calling @node-saml/node-saml directly on the same
 * responses in the same run, and how many complete sign-ins per second Keydesk serves over HTTP on
 * PostgreSQL, compared with the raw single-row INSERT.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { SAML } from '@node-saml/node-saml';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import type { Tenant } from '../src/context.js';
import type { Db, Queryable } from '../src/db/db.js';
import { loadActor } from '../src/identity/actor.js';
import { createSamlConnection, getConnection, spUrls, type Connection } from '../src/identity/connections.js';
import { checkAddressing } from '../src/identity/saml/checks/addressing.js';
import { checkAssertion, type AssertionFacts } from '../src/identity/saml/checks/assertion.js';
import { rememberAssertion } from '../src/identity/saml/checks/request-binding.js';
import { checkSignatureProfile } from '../src/identity/saml/checks/signature-profile.js';
import { verifySignature } from '../src/identity/saml/checks/signature.js';
import { checkStatus } from '../src/identity/saml/checks/status.js';
import { parseResponse } from '../src/identity/saml/checks/structure.js';
import type { SpUrls } from '../src/identity/saml/metadata.js';
import { completeSamlSignin } from '../src/identity/saml/signin.js';
import { SigninTrace } from '../src/identity/saml/trace.js';
import { verifySamlResponse } from '../src/identity/saml/verify-response.js';
import { createTenant } from '../src/tenancy/tenants.js';
import { b64, buildAssertion, makeKeyPair, sign, wrapInResponse, type KeyPair, type ResponseParts } from '../test/helpers/saml-forge.js';
import {
  costRatio,
  envInt,
  fmt,
  measure,
  measureBaselines,
  measureInterleaved,
  p50Ratio,
  printTable,
  round,
  scaled,
  withThrowawayDatabase,
  type Measurement,
  type Suite,
} from './lib.js';

const POOL_SIZE = 10;
/** "A handful of groups" in the small response; the large one carries 150, the most Entra sends before it switches to an overage link. */
const SMALL_GROUPS = 5;
const LARGE_GROUPS = 150;

export const samlSuite: Suite = {
  name: 'saml',
  description: 'SAML ACS: verification against node-saml alone (5 KB and 15 KB Entra responses), full sign-ins over HTTP vs raw INSERT',
  run: ({ baseUrl }) => withThrowawayDatabase(baseUrl, POOL_SIZE, runSaml),
};

// ---------------------------------------------------------------------------------------------
// Entra-shaped responses
// ---------------------------------------------------------------------------------------------

interface Idp {
  keys: KeyPair;
  tenantId: string;
  entityId: string;
}

interface Person {
  objectId: string;
  email: string;
  givenName: string;
  surname: string;
}

const FIRST = ['Megan', 'Adele', 'Alex', 'Diego', 'Grady', 'Henrietta', 'Isaiah', 'Johanna', 'Lee', 'Lidia', 'Lynne', 'Miriam', 'Nestor', 'Patti', 'Pradeep'];
const LAST = ['Bowen', 'Vance', 'Wilber', 'Siciliani', 'Archie', 'Mueller', 'Langer', 'Lorenz', 'Gu', 'Holloway', 'Robbins', 'Graham', 'Wilke', 'Fernandez', 'Gupta'];

function person(i: number): Person {
  const givenName = FIRST[i % FIRST.length]!;
  const surname = LAST[Math.floor(i / FIRST.length) % LAST.length]!;
  return { objectId: randomUUID(), email: `${givenName}.${surname}.${i}@contoso.example`.toLowerCase(), givenName, surname };
}

/**
 * A response as Entra ID sends it: only the assertion signed (RSA-SHA256, exclusive c14n, the
 * certificate in KeyInfo), the assertion in the default namespace, Entra's claim URIs, a
 * SessionIndex, IdP-initiated (no InResponseTo). Every call gets fresh Response and Assertion IDs.
 * Returns the base64 SAMLResponse and the size of the XML.
 */
function entraResponse(idp: Idp, sp: SpUrls, who: Person, groups: string[]): { samlResponse: string; xmlBytes: number } {
  const attributes: Record<string, string[]> = {
    'http://schemas.microsoft.com/identity/claims/tenantid': [idp.tenantId],
    'http://schemas.microsoft.com/identity/claims/objectidentifier': [who.objectId],
    'http://schemas.microsoft.com/identity/claims/displayname': [`${who.givenName} ${who.surname}`],
    'http://schemas.microsoft.com/ws/2008/06/identity/claims/groups': groups,
    'http://schemas.microsoft.com/identity/claims/identityprovider': [idp.entityId],
    'http://schemas.microsoft.com/claims/authnmethodsreferences': [
      'http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password',
      'http://schemas.microsoft.com/claims/multipleauthn',
    ],
    'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname': [who.givenName],
    'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname': [who.surname],
    'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress': [who.email],
    'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name': [who.email],
  };
  const parts: ResponseParts = {
    issuer: idp.entityId,
    destination: sp.acsUrl,
    audience: sp.entityId,
    recipient: sp.acsUrl,
    nameId: who.email,
    attributes,
  };
  // Entra writes the assertion in the default namespace (<Assertion xmlns="…">, <Attribute>), which
  // is what makes 150 groups come to about 15 KB; the forge writes saml: prefixes, so drop them.
  const assertion = buildAssertion(parts)
    .replace(' xmlns:saml=', ' xmlns=')
    .replace(/<(\/?)saml:/g, '<$1')
    .replace('<AuthnStatement ', `<AuthnStatement SessionIndex="_${randomUUID()}" `);
  const xml = wrapInResponse(parts, sign(assertion, 'Assertion', idp.keys));
  return { samlResponse: b64(xml), xmlBytes: Buffer.byteLength(xml, 'utf8') };
}

const guids = (n: number) => Array.from({ length: n }, () => randomUUID());

/** `warmup + iterations` responses; `pick(i)` maps measure()'s indices (negative = warm-up) onto them. */
class ResponsePool {
  readonly responses: string[] = [];
  xmlBytes = 0;
  constructor(
    readonly warmup: number,
    readonly iterations: number,
    make: (k: number) => { samlResponse: string; xmlBytes: number },
  ) {
    for (let k = 0; k < warmup + iterations; k++) {
      const r = make(k);
      this.responses.push(r.samlResponse);
      this.xmlBytes = Math.max(this.xmlBytes, r.xmlBytes);
    }
  }

  index(i: number): number {
    return i < 0 ? -1 - i : this.warmup + i;
  }

  pick(i: number): string {
    return this.responses[this.index(i)]!;
  }
}

// ---------------------------------------------------------------------------------------------
// What is measured
// ---------------------------------------------------------------------------------------------

const STEPS = ['parse', 'status + addressing + signature profile', 'verifySignature (node-saml + certificate checks)', 'checkAssertion (re-parse + XPath)'] as const;
type StepName = (typeof STEPS)[number];

/**
 * The CPU part of verifySamlResponse, step by step in the same order and with the same arguments,
 * without the trace and the two database steps (request binding, replay cache). Adds each step's
 * time to `laps`.
 */
async function keydeskChecks(samlResponse: string, conn: Connection, sp: SpUrls, laps: Record<StepName, number>): Promise<AssertionFacts> {
  const cfg = conn.config;
  let t = performance.now();
  const lap = (step: StepName) => {
    const now = performance.now();
    laps[step] += now - t;
    t = now;
  };
  const parsed = parseResponse(samlResponse);
  lap('parse');
  checkStatus(parsed);
  checkAddressing(parsed, { acsUrl: sp.acsUrl, idpEntityId: cfg.idpEntityId });
  const signedParts = checkSignatureProfile(parsed, { allowSha1: cfg.allowSha1 });
  lap('status + addressing + signature profile');
  const verified = await verifySignature(samlResponse, parsed, { certificates: cfg.certificates, spEntityId: sp.entityId, acsUrl: sp.acsUrl, ...signedParts });
  lap('verifySignature (node-saml + certificate checks)');
  const facts = checkAssertion(verified.assertionXml, {
    idpEntityId: cfg.idpEntityId,
    spEntityId: sp.entityId,
    acsUrl: sp.acsUrl,
    skewMs: cfg.clockSkewSeconds * 1000,
    now: Date.now(),
  });
  lap('checkAssertion (re-parse + XPath)');
  return facts;
}

interface VerificationResult {
  size: string;
  groups: number;
  xmlBytes: number;
  base64Bytes: number;
  /** One of the responses (already used), as posted. */
  probe: string;
  nodeSaml: Measurement;
  keydeskCpu: Measurement;
  keydesk: Measurement;
  /** The database part alone: a transaction holding the replay-cache INSERT. */
  replayInsert: Measurement;
  /** Mean ms per step of the CPU-only pipeline. */
  steps: Record<StepName, number>;
}

async function measureVerification(
  db: Db,
  tenant: Tenant,
  conn: Connection,
  sp: SpUrls,
  idp: Idp,
  size: { label: string; groups: number; iterations: number },
): Promise<VerificationResult> {
  const who = person(0);
  const groups = guids(size.groups);
  const warmup = Math.min(50, Math.max(5, Math.round(size.iterations / 10)));
  const pool = new ResponsePool(warmup, size.iterations, () => entraResponse(idp, sp, who, groups));

  // The baseline: node-saml as an application would call it, constructed once.
  const nodeSaml = new SAML({
    idpCert: conn.config.certificates,
    issuer: sp.entityId,
    callbackUrl: sp.acsUrl,
    audience: sp.entityId,
    wantAssertionsSigned: true,
    wantAuthnResponseSigned: false,
    acceptedClockSkewMs: 180_000,
  });

  // Both must accept the response, and read the same person from it, before anything is timed.
  const probe = pool.responses[0]!;
  const { profile } = await nodeSaml.validatePostResponseAsync({ SAMLResponse: probe });
  const noLaps = Object.fromEntries(STEPS.map((s) => [s, 0])) as Record<StepName, number>;
  const facts = await keydeskChecks(probe, conn, sp, noLaps);
  const keydeskGroups = facts.attributes['http://schemas.microsoft.com/ws/2008/06/identity/claims/groups'] ?? [];
  if (profile?.nameID !== who.email || facts.nameId !== who.email || keydeskGroups.length !== size.groups) {
    throw new Error(`node-saml and Keydesk disagree on the probe response: ${profile?.nameID} / ${facts.nameId}, ${keydeskGroups.length} groups`);
  }

  const laps = Object.fromEntries(STEPS.map((s) => [s, 0])) as Record<StepName, number>;
  let lapCalls = 0;
  const replayIds = { tenantId: tenant.id, connectionId: conn.id };
  const replayUntil = new Date(Date.now() + 2 * 3600_000);
  const [nodeSamlM, keydeskCpuM, keydeskM, replayM] = await measureInterleaved(
    [
      { name: `node-saml validatePostResponseAsync, ${size.label}`, fn: (i) => nodeSaml.validatePostResponseAsync({ SAMLResponse: pool.pick(i) }) },
      {
        name: `Keydesk checks without the database, ${size.label}`,
        fn: async (i) => {
          if (i < 0) return keydeskChecks(pool.pick(i), conn, sp, noLaps);
          lapCalls++;
          return keydeskChecks(pool.pick(i), conn, sp, laps);
        },
      },
      {
        name: `Keydesk verifySamlResponse (with replay cache), ${size.label}`,
        // As the ACS runs it: in a transaction, with a fresh trace. Each response is used once here.
        fn: (i) => db.transaction((tx) => verifySamlResponse(tx, { samlResponse: pool.pick(i), tenantId: tenant.id, conn, sp }, new SigninTrace())),
      },
      {
        name: `the database part alone: BEGIN, replay-cache INSERT, COMMIT, ${size.label}`,
        fn: () => db.transaction((tx) => rememberAssertion(tx, replayIds, `_${randomUUID()}`, replayUntil)),
      },
    ],
    { iterations: size.iterations, warmup, maxMs: 40_000 },
  );
  return {
    size: size.label,
    groups: size.groups,
    xmlBytes: pool.xmlBytes,
    base64Bytes: probe.length,
    probe,
    nodeSaml: nodeSamlM!,
    keydeskCpu: keydeskCpuM!,
    keydesk: keydeskM!,
    replayInsert: replayM!,
    steps: Object.fromEntries(STEPS.map((s) => [s, round(laps[s] / Math.max(1, lapCalls), 3)])) as Record<StepName, number>,
  };
}

interface SigninRun {
  m: Measurement;
  baseline: Measurement;
  kind: 'new' | 'known';
  /** CPU time of this Node process (server and client) per sign-in, warm-up included. */
  cpuMsPerSignin: number;
}

interface StatementCounts {
  /** Statements inside transactions, BEGIN and COMMIT not counted. */
  inTransactions: number;
  transactions: number;
  /** Statements sent on their own (autocommitted). */
  autocommitted: number;
}

/** A Db that counts the statements sent through it, inside transactions and on their own. */
function countingDb(db: Db): { db: Db; counts: StatementCounts } {
  const counts: StatementCounts = { inTransactions: 0, transactions: 0, autocommitted: 0 };
  const wrapped: Db = {
    kind: db.kind,
    query: <T>(sql: string, params: readonly unknown[] = []) => {
      counts.autocommitted++;
      return db.query<T>(sql, params);
    },
    transaction: (fn) => {
      counts.transactions++;
      return db.transaction((tx) =>
        fn({
          query: <T>(sql: string, params: readonly unknown[] = []) => {
            counts.inTransactions++;
            return tx.query<T>(sql, params);
          },
        } satisfies Queryable),
      );
    },
    close: () => db.close(),
  };
  return { db: wrapped, counts };
}

/** measure(), plus the CPU time this process spent per call (warm-up calls included in both). */
async function measureWithCpu(name: string, fn: (i: number) => Promise<unknown>, opts: { iterations: number; warmup: number; concurrency: number; maxMs: number }) {
  const cpu0 = process.cpuUsage();
  const m = await measure(name, fn, opts);
  const cpu = process.cpuUsage(cpu0);
  return { m, cpuMsPerCall: round((cpu.user + cpu.system) / 1000 / (m.iterations + opts.warmup), 2) };
}

/** Posts the response to the ACS like a browser's auto-submitted form; anything but 303 + session cookie is an error. */
async function postAcs(acsUrl: string, samlResponse: string, ip: string, db: Db, tenantId: string): Promise<void> {
  const res = await fetch(acsUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip },
    body: new URLSearchParams({ SAMLResponse: samlResponse }).toString(),
    redirect: 'manual',
  });
  const body = await res.text();
  if (res.status === 303 && /(^|,\s*)keydesk_session=/.test(res.headers.get('set-cookie') ?? '')) return;
  const ref = /KD-[0-9A-F]{10}/.exec(body)?.[0];
  const trace = ref ? (await db.query<{ trace: unknown }>('SELECT trace FROM signin_traces WHERE tenant_id = $1 AND id = $2', [tenantId, ref]))[0] : undefined;
  throw new Error(`the ACS answered ${res.status} instead of 303 with a session cookie: ${JSON.stringify((trace?.trace as { error?: unknown })?.error ?? body.slice(0, 300))}`);
}

// ---------------------------------------------------------------------------------------------
// The suite
// ---------------------------------------------------------------------------------------------

async function runSaml({ db, url }: { db: Db; url: string }): Promise<Record<string, unknown>> {
  const started = performance.now();
  const step = (msg: string) => console.log(`  [${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s] ${msg}`);
  const concurrency = envInt('BENCH_CONCURRENCY', 4);

  step('tenant, RSA-2048 signing key, Keydesk listening on 127.0.0.1');
  const created = await createTenant(db, { slug: 'bench', name: 'Bench Company', adminEmail: 'admin@bench.example', adminPassword: 'bench-admin-password-0123' });
  const tenant = created.tenant;
  const admin = (await loadActor(db, tenant, created.admin.id))!.ctx;
  const entraTenant = randomUUID();
  const idp: Idp = { keys: makeKeyPair('Microsoft Azure Federated SSO Certificate'), tenantId: entraTenant, entityId: `https://sts.windows.net/${entraTenant}/` };

  const config = loadConfig({
    PORT: '0',
    DATABASE_URL: url,
    KEYDESK_SECRET: randomBytes(24).toString('base64url'),
    KEYDESK_DATA_DIR: '/tmp/keydesk-bench-unused',
    LOG_LEVEL: 'warn',
  });
  // Each simulated person posts from their own address, as behind a reverse proxy that sets
  // X-Forwarded-For: the ACS allows 120 posts a minute per address, which one loopback address
  // would exhaust in the first seconds. The limiter's INSERT still runs on every post.
  const trustProxyBefore = process.env.KEYDESK_TRUST_PROXY;
  process.env.KEYDESK_TRUST_PROXY = 'true';
  let app: FastifyInstance;
  try {
    app = await buildApp({ config, db, logger: false });
  } finally {
    if (trustProxyBefore === undefined) delete process.env.KEYDESK_TRUST_PROXY;
    else process.env.KEYDESK_TRUST_PROXY = trustProxyBefore;
  }
  try {
    await app.listen({ port: 0, host: '127.0.0.1' });
    config.publicUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

    await createSamlConnection(admin, {
      slug: 'entra',
      source: { entityId: idp.entityId, ssoUrl: `https://login.microsoftonline.com/${entraTenant}/saml2`, certificates: [idp.keys.cert] },
    });
    const conn = await getConnection(db, tenant.id, 'entra');
    const sp = spUrls(config.publicUrl, tenant.slug, conn.slug);

    // 1. Verification: node-saml alone, Keydesk's checks alone, Keydesk's full pipeline.
    const sizes = [
      { label: `${SMALL_GROUPS} groups`, groups: SMALL_GROUPS, iterations: scaled(400) },
      { label: `${LARGE_GROUPS} groups`, groups: LARGE_GROUPS, iterations: scaled(200) },
    ];
    const verifications: VerificationResult[] = [];
    for (const s of sizes) {
      step(`verification, ${s.label}: signing ${s.iterations} responses, then node-saml / Keydesk interleaved`);
      verifications.push(await measureVerification(db, tenant, conn, sp, idp, s));
    }

    // 2. Baselines on the same pool, right before the sign-ins.
    step('baselines: raw INSERT, 1 and ' + concurrency + ' callers');
    const baselines = await measureBaselines(db, { inserts: scaled(2000), selects: scaled(500), tenantId: tenant.id });
    const insertConcurrent = await measure(
      `baseline: INSERT one row, ${concurrency} callers`,
      (i) => db.query('INSERT INTO bench_baseline (tenant_id, title) VALUES ($1, $2)', [tenant.id, `Concurrent row ${i}`]),
      { iterations: scaled(2000), concurrency },
    );

    // 3. Full sign-ins over HTTP: a new person (account created just in time), then the same people again.
    const signins = scaled(200);
    const warmup = 10;
    const groups = guids(SMALL_GROUPS);
    const cohorts = [1, concurrency].map((c, n) => ({
      callers: c,
      people: Array.from({ length: warmup + signins }, (_, k) => person(1 + n * (warmup + signins) + k)),
    }));
    const ipOf = (p: Person) => {
      const k = Number.parseInt(p.objectId.slice(0, 6), 16);
      return `10.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}`;
    };
    const acsUrl = sp.acsUrl;

    // The HTTP floor under a sign-in: a bare GET, and the same form posted to a connection that does
    // not exist (body parsing, routing, the tenant and connection lookups, a 404 page).
    step('HTTP floor: GET /healthz, and the 5 KB form posted to an unknown connection');
    const floorForm = new URLSearchParams({ SAMLResponse: verifications[0]!.probe }).toString();
    const healthz = await measure(
      'GET /healthz',
      async () => {
        const res = await fetch(`${config.publicUrl}/healthz`);
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`/healthz answered ${res.status}`);
      },
      { iterations: scaled(500) },
    );
    const unknownConn = await measure(
      'POST the form to an unknown connection (404)',
      async () => {
        const res = await fetch(acsUrl.replace('/saml/entra/', '/saml/nowhere/'), {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': '10.255.255.1' },
          body: floorForm,
        });
        await res.arrayBuffer();
        if (res.status !== 404) throw new Error(`the unknown connection answered ${res.status}`);
      },
      { iterations: scaled(500) },
    );
    const runs: SigninRun[] = [];
    for (const kind of ['new', 'known'] as const) {
      for (const cohort of cohorts) {
        step(`sign-ins over HTTP, ${kind === 'new' ? 'new people (just-in-time accounts)' : 'the same people again'}, ${cohort.callers} caller(s): signing ${cohort.people.length} responses`);
        const pool = new ResponsePool(warmup, signins, (k) => entraResponse(idp, sp, cohort.people[k]!, groups));
        const { m, cpuMsPerCall } = await measureWithCpu(
          `ACS sign-in over HTTP, ${kind === 'new' ? 'new user (JIT)' : 'known user'}, ${cohort.callers} caller${cohort.callers > 1 ? 's' : ''}`,
          (i) => postAcs(acsUrl, pool.pick(i), ipOf(cohort.people[pool.index(i)]!), db, tenant.id),
          { iterations: signins, warmup, concurrency: cohort.callers, maxMs: 40_000 },
        );
        runs.push({ m, baseline: cohort.callers > 1 ? insertConcurrent : baselines.insert, kind, cpuMsPerSignin: cpuMsPerCall });
      }
    }

    // 4. The same use case without HTTP (known people, a third time), to split the HTTP layer from
    // the sign-in itself; and the statements one sign-in sends, for a new and for a known person.
    step(`completeSamlSignin called directly, known people, 1 caller: signing ${cohorts[0]!.people.length} responses`);
    const directPeople = cohorts[0]!.people;
    const directPool = new ResponsePool(warmup, signins, (k) => entraResponse(idp, sp, directPeople[k]!, groups));
    const signinDirect = async (q: Db, samlResponse: string) => {
      const outcome = await completeSamlSignin(q, config, tenant, conn, { samlResponse, relayState: null, ip: '10.0.0.1', userAgent: 'bench' });
      if (outcome.kind !== 'signed_in') throw new Error(`completeSamlSignin: ${JSON.stringify(outcome)}`);
    };
    const direct = await measureWithCpu('completeSamlSignin directly, known user, 1 caller', (i) => signinDirect(db, directPool.pick(i)), {
      iterations: signins,
      warmup,
      concurrency: 1,
      maxMs: 40_000,
    });
    const roundTrips = {} as Record<'new' | 'known', StatementCounts>;
    for (const kind of ['new', 'known'] as const) {
      const c = countingDb(db);
      const who = kind === 'new' ? person(900_000) : directPeople[0]!;
      await signinDirect(c.db, entraResponse(idp, sp, who, groups).samlResponse);
      roundTrips[kind] = c.counts;
    }

    // Each person has one account, created by their first sign-in; every sign-in opened a session.
    const [counts] = await db.query<{ users: number; identities: number; sessions: number }>(
      `SELECT (SELECT count(*)::int FROM users WHERE tenant_id = $1 AND source = 'jit') AS users,
              (SELECT count(*)::int FROM external_identities WHERE tenant_id = $1) AS identities,
              (SELECT count(*)::int FROM sessions WHERE tenant_id = $1) AS sessions`,
      [tenant.id],
    );
    const people = cohorts.reduce((n, c) => n + c.people.length, 0) + 1;
    const posted = runs.reduce((n, r) => n + r.m.iterations, 0) + runs.length * warmup + direct.m.iterations + warmup + 2;
    if (counts!.users !== people || counts!.identities !== people || counts!.sessions !== posted) {
      throw new Error(`expected ${people} JIT users and identities and ${posted} sessions, found ${JSON.stringify(counts)}`);
    }

    const directRun: SigninRun = { m: direct.m, baseline: baselines.insert, kind: 'known', cpuMsPerSignin: direct.cpuMsPerCall };
    const totalSeconds = round((performance.now() - started) / 1000, 1);

    // ---- Report ----
    printTable(
      'Responses (Entra-shaped: assertion signed with RSA-SHA256, IdP-initiated)',
      [
        { header: 'response', value: (v: VerificationResult) => v.size, align: 'left' },
        { header: 'XML bytes', value: (v) => v.xmlBytes.toLocaleString('en-US') },
        { header: 'base64 bytes', value: (v) => v.base64Bytes.toLocaleString('en-US') },
      ],
      verifications,
    );
    const rows = verifications.flatMap((v) => [
      { v, m: v.nodeSaml, what: 'node-saml directly (baseline)' },
      { v, m: v.keydeskCpu, what: 'Keydesk checks, no database' },
      { v, m: v.keydesk, what: 'Keydesk verifySamlResponse + replay cache' },
      { v, m: v.replayInsert, what: '(its database part alone: BEGIN, INSERT, COMMIT)' },
    ]);
    printTable(
      'ACS verification, 1 caller, interleaved (kept = ops/s ÷ node-saml ops/s; cost × = its inverse; × p50 = p50 ÷ node-saml p50)',
      [
        { header: 'response', value: (r: (typeof rows)[number]) => r.v.size, align: 'left' },
        { header: 'verification', value: (r) => r.what, align: 'left' },
        { header: 'n', value: (r) => r.m.iterations },
        { header: 'ops/s', value: (r) => fmt(r.m.opsPerSec, 0) },
        { header: 'p50 ms', value: (r) => fmt(r.m.p50Ms, 3) },
        { header: 'p99 ms', value: (r) => fmt(r.m.p99Ms, 3) },
        { header: 'min ms', value: (r) => fmt(r.m.minMs, 3) },
        { header: 'kept', value: (r) => (r.m === r.v.replayInsert ? '' : `${Math.round((r.m.opsPerSec / r.v.nodeSaml.opsPerSec) * 100)} %`) },
        { header: 'cost ×', value: (r) => (r.m === r.v.replayInsert ? '' : fmt(costRatio(r.m, r.v.nodeSaml), 2)) },
        { header: '× p50', value: (r) => (r.m === r.v.replayInsert ? '' : fmt(p50Ratio(r.m, r.v.nodeSaml), 2)) },
      ],
      rows,
    );
    const stepRows = verifications.flatMap((v) => STEPS.map((s) => ({ v, s, ms: v.steps[s] })));
    printTable(
      'Where Keydesk\'s checks spend their time (mean ms per call, no database)',
      [
        { header: 'response', value: (r: (typeof stepRows)[number]) => r.v.size, align: 'left' },
        { header: 'step', value: (r) => r.s, align: 'left' },
        { header: 'mean ms', value: (r) => fmt(r.ms, 3) },
        { header: 'share', value: (r) => `${Math.round((r.ms / r.v.keydeskCpu.meanMs) * 100)} %` },
      ],
      stepRows,
    );
    printTable(
      'Baselines (same pool, same server)',
      [
        { header: 'operation', value: (m: Measurement) => m.name, align: 'left' },
        { header: 'n', value: (m) => m.iterations },
        { header: 'ops/s', value: (m) => fmt(m.opsPerSec, 0) },
        { header: 'mean ms', value: (m) => fmt(m.meanMs, 3) },
        { header: 'p50 ms', value: (m) => fmt(m.p50Ms, 3) },
        { header: 'p99 ms', value: (m) => fmt(m.p99Ms, 3) },
      ],
      [baselines.insert, insertConcurrent, healthz, unknownConn],
    );
    printTable(
      `Full sign-ins, ${verifications[0]!.size} response (× INSERT = raw INSERT ops/s ÷ sign-ins/s; × p50 = p50 ÷ INSERT p50; ` +
        `with ${concurrency} callers also against the INSERT with ${concurrency} callers)`,
      [
        { header: 'operation', value: (r: SigninRun) => r.m.name, align: 'left' },
        { header: 'n', value: (r) => r.m.iterations },
        { header: 'sign-ins/s', value: (r) => fmt(r.m.opsPerSec, 0) },
        { header: 'p50 ms', value: (r) => fmt(r.m.p50Ms, 3) },
        { header: 'p99 ms', value: (r) => fmt(r.m.p99Ms, 3) },
        { header: 'CPU ms', value: (r) => fmt(r.cpuMsPerSignin, 1) },
        { header: '× INSERT', value: (r) => fmt(costRatio(r.m, baselines.insert), 1) },
        { header: '× p50', value: (r) => fmt(p50Ratio(r.m, baselines.insert), 1) },
        { header: `× ${concurrency}-caller INSERT`, value: (r) => (r.baseline === baselines.insert ? '' : fmt(costRatio(r.m, r.baseline), 1)) },
        { header: '× its p50', value: (r) => (r.baseline === baselines.insert ? '' : fmt(p50Ratio(r.m, r.baseline), 1)) },
      ],
      [...runs, directRun],
    );
    const describe = (c: StatementCounts) =>
      `${c.inTransactions} statements in ${c.transactions} transaction(s) (+ BEGIN, COMMIT) and ${c.autocommitted} on their own`;
    console.log(
      `(CPU ms = this Node process's CPU time per sign-in, server and HTTP client together.)\n` +
        `completeSamlSignin sends, for a new person: ${describe(roundTrips.new)}; for a known person: ${describe(roundTrips.known)}.\n` +
        `Over HTTP the ACS route adds the tenant and connection lookups and the rate-limit INSERT (autocommitted).`,
    );
    console.log(`\nsaml suite: ${totalSeconds} s`);

    return {
      totalSeconds,
      responses: verifications.map((v) => ({ size: v.size, groups: v.groups, xmlBytes: v.xmlBytes, base64Bytes: v.base64Bytes })),
      verification: verifications.map((v) => ({
        size: v.size,
        nodeSaml: v.nodeSaml,
        keydeskChecks: { ...v.keydeskCpu, keptOfNodeSaml: round(v.keydeskCpu.opsPerSec / v.nodeSaml.opsPerSec, 3), costVsNodeSaml: costRatio(v.keydeskCpu, v.nodeSaml), p50VsNodeSaml: p50Ratio(v.keydeskCpu, v.nodeSaml) },
        keydesk: { ...v.keydesk, keptOfNodeSaml: round(v.keydesk.opsPerSec / v.nodeSaml.opsPerSec, 3), costVsNodeSaml: costRatio(v.keydesk, v.nodeSaml), p50VsNodeSaml: p50Ratio(v.keydesk, v.nodeSaml) },
        replayInsertAlone: v.replayInsert,
        stepsMeanMs: v.steps,
      })),
      baselines: { insert: baselines.insert, insertConcurrent, healthz, unknownConnection: unknownConn },
      signins: [...runs, directRun].map((r) => ({
        ...r.m,
        kind: r.kind,
        overHttp: r !== directRun,
        cpuMsPerSignin: r.cpuMsPerSignin,
        vsInsert: costRatio(r.m, baselines.insert),
        vsInsertP50: p50Ratio(r.m, baselines.insert),
        ...(r.baseline === baselines.insert ? {} : { vsInsertSameCallers: costRatio(r.m, r.baseline), vsInsertSameCallersP50: p50Ratio(r.m, r.baseline) }),
      })),
      statementsPerSignin: roundTrips,
      accounts: counts,
    };
  } finally {
    await app.close();
  }
}
