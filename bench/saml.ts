/**
 * SAML benchmark: how fast the Assertion Consumer Service verifies Entra-shaped responses (about
 * 5.7 KB, and 15.7 KB with 150 groups) compared, in the same run on the same responses, with
 * node-saml, samlify, @boxyhq/saml20 and saml2-js, and with "the floor" (one parse, two exclusive
 * c14n, SHA-256 and RSA: the least any verifier must do); and how many complete sign-ins per second
 * Keydesk serves over HTTP on PostgreSQL, compared with the raw single-row INSERT.
 */
import { createHash, createPublicKey, randomUUID, verify as verifyRsa, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import type saml20 from '@boxyhq/saml20';
import { SAML } from '@node-saml/node-saml';
import { DOMParser } from '@xmldom/xmldom';
import * as samlify from 'samlify';
import { ExclusiveCanonicalization } from 'xml-crypto';
import type { Tenant } from '../src/context.js';
import type { Db, Queryable } from '../src/db/db.js';
import { loadActor } from '../src/identity/actor.js';
import { createSamlConnection, getSamlConnection, spUrls, type SamlConnection } from '../src/identity/connections.js';
import { checkAddressing } from '../src/identity/saml/checks/addressing.js';
import { checkAssertion, type AssertionFacts } from '../src/identity/saml/checks/assertion.js';
import { settleResponse } from '../src/identity/saml/checks/request-binding.js';
import { checkSignatureProfile } from '../src/identity/saml/checks/signature-profile.js';
import { verifySignature } from '../src/identity/saml/checks/signature.js';
import { checkStatus } from '../src/identity/saml/checks/status.js';
import { parseResponse } from '../src/identity/saml/checks/structure.js';
import type { SpUrls } from '../src/identity/saml/metadata.js';
import { completeSamlSignin } from '../src/identity/saml/signin.js';
import { SigninTrace } from '../src/identity/signin/trace.js';
import { verifySamlMessage, verifySamlResponse } from '../src/identity/saml/verify-response.js';
import { createTenant } from '../src/tenancy/tenants.js';
import { makeKeyPair, type ResponseParts } from '../test/helpers/saml-forge.js';
import { entraResponse, guids, person, type Idp, type Person } from './entra.js';
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
  startBenchApp,
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
  description: 'SAML ACS: verification against node-saml, samlify, @boxyhq/saml20, saml2-js and the floor (5.7 KB and 15.7 KB Entra responses), full sign-ins over HTTP vs raw INSERT',
  run: ({ baseUrl }) => withThrowawayDatabase(baseUrl, POOL_SIZE, runSaml),
};

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

const STEPS = ['parse (one DOM walk)', 'status + addressing + signature profile', 'verifySignature (c14n, digest, RSA with a cached key)', 'checkAssertion (DOM walk)'] as const;
type StepName = (typeof STEPS)[number];

/**
 * The CPU part of verifySamlResponse, step by step in the same order and with the same arguments,
 * without the trace and the two database steps (request binding, replay cache). Adds each step's
 * time to `laps`.
 */
async function keydeskChecks(samlResponse: string, conn: SamlConnection, sp: SpUrls, laps: Record<StepName, number>): Promise<AssertionFacts> {
  const cfg = conn.config;
  let t = performance.now();
  const lap = (step: StepName) => {
    const now = performance.now();
    laps[step] += now - t;
    t = now;
  };
  const parsed = parseResponse(samlResponse);
  lap('parse (one DOM walk)');
  checkStatus(parsed);
  checkAddressing(parsed, { acsUrl: sp.acsUrl, idpEntityId: cfg.idpEntityId });
  const signedParts = checkSignatureProfile(parsed, { allowSha1: cfg.allowSha1 });
  lap('status + addressing + signature profile');
  verifySignature(parsed, signedParts, { certificates: cfg.certificates });
  lap('verifySignature (c14n, digest, RSA with a cached key)');
  const facts = checkAssertion(parsed.assertion, {
    idpEntityId: cfg.idpEntityId,
    spEntityId: sp.entityId,
    acsUrl: sp.acsUrl,
    skewMs: cfg.clockSkewSeconds * 1000,
    now: Date.now(),
  });
  lap('checkAssertion (DOM walk)');
  return facts;
}

// ---------------------------------------------------------------------------------------------
// The peers, and the floor
// ---------------------------------------------------------------------------------------------

const requireCjs = createRequire(import.meta.url);
// @boxyhq/saml20 is CommonJS with a default export; saml2-js ships no types.
const boxyhq = (requireCjs('@boxyhq/saml20') as typeof saml20).default;
interface Saml2Js {
  ServiceProvider: new (o: Record<string, unknown>) => {
    post_assert(idp: unknown, o: { request_body: { SAMLResponse: string } }, cb: (err: Error | null, r: { user: { name_id: string; attributes: Record<string, string[]> } }) => void): void;
  };
  IdentityProvider: new (o: Record<string, unknown>) => unknown;
}
const saml2js = requireCjs('saml2-js') as Saml2Js;

/** The version of an installed package (what ran, for the report), and of the xmldom it parses with. */
function installed(pkg: string): string {
  const dir = new URL(`../node_modules/${pkg}/`, import.meta.url);
  const version = (JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { version: string }).version;
  let xmldom: string;
  try {
    xmldom = (JSON.parse(readFileSync(new URL('node_modules/@xmldom/xmldom/package.json', dir), 'utf8')) as { version: string }).version;
  } catch {
    xmldom = (JSON.parse(readFileSync(new URL('../node_modules/@xmldom/xmldom/package.json', import.meta.url), 'utf8')) as { version: string }).version;
  }
  return `${version} (xmldom ${xmldom})`;
}

const GROUPS_CLAIM = 'http://schemas.microsoft.com/ws/2008/06/identity/claims/groups';
const NAMEID_CLAIM = 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier';

/** What a verifier read from a response it accepted. */
interface Identity {
  nameId: string | null | undefined;
  groups: number;
}

interface Verifier {
  name: string;
  /** The npm package, for peers. */
  pkg?: string;
  /** What the peer is told to check beyond the signature, as configured below. */
  configured: string;
  verify(samlResponse: string): Promise<Identity>;
}

/**
 * Each peer set up once, as strictly as it can be configured, to trust the connection's certificate
 * and nothing else; each gets the SAMLResponse as posted (base64) and decodes it itself (or, for
 * @boxyhq/saml20, which takes XML, in the call that is timed).
 */
function peers(conn: SamlConnection, sp: SpUrls, key: string): Verifier[] {
  const cfg = conn.config;
  const skewMs = cfg.clockSkewSeconds * 1000;
  const nodeSaml = new SAML({
    idpCert: cfg.certificates,
    idpIssuer: cfg.idpEntityId,
    issuer: sp.entityId,
    callbackUrl: sp.acsUrl,
    audience: sp.entityId,
    wantAssertionsSigned: true,
    wantAuthnResponseSigned: false,
    acceptedClockSkewMs: skewMs,
  });

  // samlify checks messages against the SAML schemas only through a validator plug-in (its own
  // three: @authenio/samlify-xsd-schema-validator (Java), -validate-with-xmllint, -node-xmllint);
  // here it runs with none, which saves it that work.
  samlify.setSchemaValidator({ validate: async () => 'skipped' });
  const endpoint = [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: 'https://login.microsoftonline.com/bench/saml2' }];
  const samlifyIdp = samlify.IdentityProvider({ entityID: cfg.idpEntityId, signingCert: cfg.certificates[0], singleSignOnService: endpoint, singleLogoutService: endpoint });
  const samlifySp = samlify.ServiceProvider({
    entityID: sp.entityId,
    assertionConsumerService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', Location: sp.acsUrl }],
    wantAssertionsSigned: true,
    clockDrifts: [-skewMs, skewMs],
  });

  const saml2Sp = new saml2js.ServiceProvider({
    entity_id: sp.entityId,
    assert_endpoint: sp.acsUrl,
    // Required by the constructor, used only to decrypt an EncryptedAssertion (there is none).
    private_key: key,
    certificate: cfg.certificates[0],
    allow_unencrypted_assertion: true,
    audience: sp.entityId,
    notbefore_skew: cfg.clockSkewSeconds,
  });
  const saml2Idp = new saml2js.IdentityProvider({ sso_login_url: endpoint[0]!.Location, sso_logout_url: endpoint[0]!.Location, certificates: cfg.certificates });

  return [
    {
      name: 'node-saml',
      pkg: '@node-saml/node-saml',
      configured: 'idpCert, audience, wantAssertionsSigned, acceptedClockSkewMs; idpIssuer too, which 5.1.0 checks on logout messages only; no recipient or destination option',
      verify: async (r) => {
        const { profile } = await nodeSaml.validatePostResponseAsync({ SAMLResponse: r });
        const groups = profile?.[GROUPS_CLAIM];
        return { nameId: profile?.nameID, groups: Array.isArray(groups) ? groups.length : groups ? 1 : 0 };
      },
    },
    {
      name: 'samlify',
      pkg: 'samlify',
      configured: 'IdP signingCert and entityID (issuer), wantAssertionsSigned, clockDrifts; no audience, recipient or destination option; schema validation skipped',
      verify: async (r) => {
        const { extract } = (await samlifySp.parseLoginResponse(samlifyIdp, 'post', { body: { SAMLResponse: r } })) as {
          extract: { nameID?: string; attributes?: Record<string, string | string[]> };
        };
        const groups = extract.attributes?.[GROUPS_CLAIM];
        return { nameId: extract.nameID, groups: Array.isArray(groups) ? groups.length : groups ? 1 : 0 };
      },
    },
    {
      name: '@boxyhq/saml20',
      pkg: '@boxyhq/saml20',
      configured: 'publicKey (the certificate), audience with strictAudienceValidation; no issuer, recipient, destination or skew option',
      verify: async (r) => {
        const profile = await boxyhq.validate(Buffer.from(r, 'base64').toString('utf8'), { publicKey: cfg.certificates[0], audience: sp.entityId, strictAudienceValidation: true });
        const groups = profile.claims[GROUPS_CLAIM] as unknown;
        return { nameId: profile.claims[NAMEID_CLAIM] as string | undefined, groups: Array.isArray(groups) ? groups.length : groups ? 1 : 0 };
      },
    },
    {
      name: 'saml2-js',
      pkg: 'saml2-js',
      configured: 'IdP certificates, audience, notbefore_skew; no issuer, recipient or destination option',
      verify: (r) =>
        new Promise((resolve, reject) =>
          saml2Sp.post_assert(saml2Idp, { request_body: { SAMLResponse: r } }, (err, res) =>
            err ? reject(err) : resolve({ nameId: res.user.name_id, groups: res.user.attributes[GROUPS_CLAIM]?.length ?? 0 }),
          ),
        ),
    },
  ];
}

const ELEMENT_NODE = 1;
const DS = 'http://www.w3.org/2000/09/xmldsig#';

function firstChild(parent: Node, localName: string): Element {
  for (let n = parent.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === ELEMENT_NODE && (n as Element).localName === localName) return n as Element;
  }
  throw new Error(`the floor found no <${localName}> in <${parent.nodeName}>`);
}

/**
 * The floor: what any verifier of this response must do, and nothing else. Base64-decode, one
 * xmldom parse, the assertion and its signature found by stepping down the children (no walk, no
 * checks of shape, addressing or validity), the assertion without its Signature in exclusive c14n by
 * xml-crypto's canonicaliser, SHA-256 compared with DigestValue, SignedInfo in exclusive c14n, and
 * one RSA-SHA256 verification with a KeyObject made once. Throws if either comparison fails.
 */
function floorVerify(samlResponse: string, key: KeyObject): void {
  const xml = Buffer.from(samlResponse, 'base64').toString('utf8');
  const doc = new DOMParser().parseFromString(xml, 'text/xml') as unknown as Document;
  const assertion = firstChild(doc.documentElement, 'Assertion');
  const signature = firstChild(assertion, 'Signature');
  const signedInfo = firstChild(signature, 'SignedInfo');
  const digestValue = firstChild(firstChild(signedInfo, 'Reference'), 'DigestValue').textContent ?? '';
  const signatureValue = firstChild(signature, 'SignatureValue').textContent ?? '';
  if (signature.namespaceURI !== DS) throw new Error('the floor found a Signature outside XML-DSig');
  const next = signature.nextSibling;
  assertion.removeChild(signature);
  const c14n = new ExclusiveCanonicalization();
  const canonical = c14n.process(assertion as never, {} as never);
  assertion.insertBefore(signature, next);
  if (!createHash('sha256').update(canonical, 'utf8').digest().equals(Buffer.from(digestValue, 'base64'))) throw new Error('the floor: digest mismatch');
  const signedBytes = Buffer.from(c14n.process(signedInfo as never, {} as never), 'utf8');
  if (!verifyRsa('sha256', signedBytes, key, Buffer.from(signatureValue.replace(/\s+/g, ''), 'base64'))) throw new Error('the floor: RSA signature does not verify');
}

/** Keydesk as the ACS runs it before the database: verifySamlMessage with a fresh trace. */
async function keydeskMessage(samlResponse: string, conn: SamlConnection, sp: SpUrls): Promise<AssertionFacts> {
  const cfg = conn.config;
  const { facts } = await verifySamlMessage(
    samlResponse,
    { certificates: cfg.certificates, idpEntityId: cfg.idpEntityId, spEntityId: sp.entityId, acsUrl: sp.acsUrl, allowSha1: cfg.allowSha1, skewMs: cfg.clockSkewSeconds * 1000, now: Date.now() },
    new SigninTrace(),
  );
  return facts;
}

/** A response one rule should refuse, and whether each verifier did. */
interface RefusalRow {
  response: string;
  /** Must every verifier refuse it for its timing to mean anything? */
  required: boolean;
  refusedBy: Record<string, boolean>;
}

/**
 * Before anything is timed: every verifier accepts the probe and reads the same NameID and groups
 * from it, and a handful of responses that break one rule each go through all of them. A verifier
 * that accepts a response whose signature cannot verify (altered, signed by a stranger, unsigned)
 * is not verifying, and the run stops; what each accepts of the rest (audience, recipient,
 * destination, issuer) is reported.
 */
async function checkVerifiers(
  verifiers: Verifier[],
  probe: string,
  expected: Identity,
  { idp, sp, who, refusals }: { idp: Idp; sp: SpUrls; who: Person; refusals: boolean },
): Promise<RefusalRow[] | null> {
  for (const v of verifiers) {
    const got = await v.verify(probe);
    if (got.nameId !== expected.nameId || got.groups !== expected.groups) {
      throw new Error(`${v.name} read ${got.nameId} with ${got.groups} groups from the probe; Keydesk read ${expected.nameId} with ${expected.groups}`);
    }
  }
  if (!refusals) return null;
  const stranger: Idp = { ...idp, keys: makeKeyPair('Microsoft Azure Federated SSO Certificate') };
  const variant = (over: Partial<ResponseParts>, signer = idp, edit?: (xml: string) => string) => entraResponse(signer, sp, who, guids(SMALL_GROUPS), over, edit).samlResponse;
  const cases: { response: string; required: boolean; samlResponse: string }[] = [
    { response: 'NameID altered after signing', required: true, samlResponse: variant({}, idp, (x) => x.replace(`>${who.email}<`, '>mallory@contoso.example<')) },
    { response: 'signed by an untrusted key (its certificate in KeyInfo)', required: true, samlResponse: variant({}, stranger) },
    { response: 'unsigned', required: true, samlResponse: variant({}, idp, (x) => x.replace(/<ds:Signature[\s\S]*<\/ds:Signature>/, '')) },
    { response: 'expired (NotOnOrAfter an hour ago)', required: false, samlResponse: variant({ notBefore: new Date(Date.now() - 2 * 3600_000), notOnOrAfter: new Date(Date.now() - 3600_000) }) },
    { response: 'another Audience', required: false, samlResponse: variant({ audience: 'https://elsewhere.example/saml' }) },
    { response: 'another Recipient', required: false, samlResponse: variant({ recipient: 'https://elsewhere.example/acs' }) },
    { response: 'another Destination', required: false, samlResponse: variant({ destination: 'https://elsewhere.example/acs' }) },
    { response: 'another Issuer (response and assertion)', required: false, samlResponse: variant({ issuer: 'https://sts.windows.net/00000000-0000-0000-0000-000000000000/' }) },
  ];
  const rows: RefusalRow[] = [];
  for (const c of cases) {
    const refusedBy: Record<string, boolean> = {};
    for (const v of verifiers) {
      refusedBy[v.name] = await v.verify(c.samlResponse).then(
        () => false,
        () => true,
      );
      if (c.required && !refusedBy[v.name]) throw new Error(`${v.name} accepted a response ${c.response}: its timing would not be a verification`);
    }
    rows.push({ response: c.response, required: c.required, refusedBy });
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Verification, measured
// ---------------------------------------------------------------------------------------------

interface VerificationResult {
  size: string;
  groups: number;
  xmlBytes: number;
  base64Bytes: number;
  /** One of the responses (already used), as posted. */
  probe: string;
  /** Keydesk's verifySamlMessage: what the ratios are of. */
  keydesk: Measurement;
  /** The same steps without the trace, each timed (the breakdown below). */
  keydeskCpu: Measurement;
  /** verifySamlMessage plus the request binding and the replay cache, in a transaction. */
  keydeskWithDb: Measurement;
  /** The database part alone: a transaction holding settleResponse's one statement (request binding, replay cache, connection version). */
  replayInsert: Measurement;
  floor: Measurement;
  /** By peer name, node-saml first. */
  peers: { name: string; m: Measurement }[];
  /** Mean ms per step of the CPU-only pipeline. */
  steps: Record<StepName, number>;
}

async function measureVerification(
  db: Db,
  tenant: Tenant,
  conn: SamlConnection,
  sp: SpUrls,
  idp: Idp,
  verifiers: Verifier[],
  size: { label: string; groups: number; iterations: number },
): Promise<{ result: VerificationResult; refusals: RefusalRow[] | null }> {
  const who = person(0);
  const groups = guids(size.groups);
  const warmup = Math.min(50, Math.max(5, Math.round(size.iterations / 10)));
  const pool = new ResponsePool(warmup, size.iterations, () => entraResponse(idp, sp, who, groups));
  const key = createPublicKey(conn.config.certificates[0]!);

  // Every verifier must accept the response and read the same person from it before anything is
  // timed; the refusals are checked once, on the small response.
  const probe = pool.responses[0]!;
  const noLaps = Object.fromEntries(STEPS.map((s) => [s, 0])) as Record<StepName, number>;
  const facts = await keydeskChecks(probe, conn, sp, noLaps);
  const expected: Identity = { nameId: facts.nameId, groups: (facts.attributes[GROUPS_CLAIM] ?? []).length };
  if (expected.nameId !== who.email || expected.groups !== size.groups) throw new Error(`Keydesk read ${expected.nameId} with ${expected.groups} groups from the probe`);
  if ((await keydeskMessage(probe, conn, sp)).nameId !== who.email) throw new Error('verifySamlMessage read another NameID from the probe');
  floorVerify(probe, key);
  const keydeskVerifier: Verifier = {
    name: 'Keydesk',
    configured: 'the connection (certificates, IdP entity ID, skew) and its own ACS URL and entity ID',
    verify: async (r) => {
      const f = await keydeskMessage(r, conn, sp);
      return { nameId: f.nameId, groups: (f.attributes[GROUPS_CLAIM] ?? []).length };
    },
  };
  const refusals = await checkVerifiers([keydeskVerifier, ...verifiers], probe, expected, { idp, sp, who, refusals: size.groups === SMALL_GROUPS });

  const laps = Object.fromEntries(STEPS.map((s) => [s, 0])) as Record<StepName, number>;
  let lapCalls = 0;
  // The database part of verifySamlResponse as the ACS runs it: settleResponse's one statement
  // (request binding, replay cache, connection version), on a parsed probe with a fresh assertion id.
  const settleCtx = { tenantId: tenant.id, connectionId: conn.id, connectionVersion: conn.version, allowIdpInitiated: conn.config.allowIdpInitiated };
  const parsedProbe = parseResponse(probe);
  const replayUntil = new Date(Date.now() + 2 * 3600_000);
  const settle = async (tx: Queryable) => {
    const s = await settleResponse(tx, parsedProbe, { inResponseTo: null, id: `_${randomUUID()}`, replayUntil }, settleCtx);
    if (s.replayed || !('initiatedBy' in s.binding)) throw new Error(`settleResponse refused the probe: ${JSON.stringify(s)}`);
  };
  const ms = await measureInterleaved(
    [
      { name: `Keydesk verifySamlMessage, ${size.label}`, fn: (i) => keydeskMessage(pool.pick(i), conn, sp) },
      ...verifiers.map((v) => ({ name: `${v.name}, ${size.label}`, fn: (i: number) => v.verify(pool.pick(i)) })),
      { name: `the floor, ${size.label}`, fn: async (i) => floorVerify(pool.pick(i), key) },
      {
        name: `Keydesk checks without the trace, ${size.label}`,
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
        name: `the database part alone: BEGIN, settleResponse, COMMIT, ${size.label}`,
        fn: () => db.transaction(settle),
      },
    ],
    // Shuffled, not rotated: a rotation of nine would keep the floor behind saml2-js, and Keydesk
    // behind the database part, for the whole run, the one paying for its neighbour's garbage and
    // the other not.
    { iterations: size.iterations, warmup, maxMs: 60_000, shuffle: true },
  );
  const n = verifiers.length;
  return {
    result: {
      size: size.label,
      groups: size.groups,
      xmlBytes: pool.xmlBytes,
      base64Bytes: probe.length,
      probe,
      keydesk: ms[0]!,
      peers: verifiers.map((v, k) => ({ name: v.name, m: ms[1 + k]! })),
      floor: ms[1 + n]!,
      keydeskCpu: ms[2 + n]!,
      keydeskWithDb: ms[3 + n]!,
      replayInsert: ms[4 + n]!,
      steps: Object.fromEntries(STEPS.map((s) => [s, round(laps[s] / Math.max(1, lapCalls), 3)])) as Record<StepName, number>,
    },
    refusals,
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

  const { app, config } = await startBenchApp(db, url);
  try {
    await createSamlConnection(admin, {
      slug: 'entra',
      publish: true,
      source: { entityId: idp.entityId, ssoUrl: `https://login.microsoftonline.com/${entraTenant}/saml2`, certificates: [idp.keys.cert] },
    });
    const conn = await getSamlConnection(db, tenant.id, 'entra');
    const sp = spUrls(config.publicUrl, tenant.slug, conn.slug);

    // 1. Verification: Keydesk, the four peers and the floor, interleaved on the same responses.
    const sizes = [
      { label: `${SMALL_GROUPS} groups`, groups: SMALL_GROUPS, iterations: scaled(400) },
      { label: `${LARGE_GROUPS} groups`, groups: LARGE_GROUPS, iterations: scaled(200) },
    ];
    const verifiers = peers(conn, sp, idp.keys.key);
    const verifications: VerificationResult[] = [];
    let refusals: RefusalRow[] = [];
    for (const s of sizes) {
      step(`verification, ${s.label}: signing ${s.iterations} responses, checking every verifier, then Keydesk / peers / floor interleaved`);
      const { result, refusals: r } = await measureVerification(db, tenant, conn, sp, idp, verifiers, s);
      verifications.push(result);
      if (r) refusals = r;
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
    // Ratios of means (ops/s here is 1000 ÷ the mean), and the same on medians.
    const ratioRows: { what: string; target: string; ratio: (v: VerificationResult) => number; p50: (v: VerificationResult) => number; met: (x: number, v: VerificationResult) => boolean | null }[] = [
      ...verifiers.map((p, k) => ({
        what: `Keydesk vs ${p.name} (× faster)`,
        target: p.name === 'node-saml' ? `≥ 10 (5 groups), ≥ 8 (150)` : '',
        ratio: (v: VerificationResult) => costRatio(v.peers[k]!.m, v.keydesk),
        p50: (v: VerificationResult) => p50Ratio(v.peers[k]!.m, v.keydesk),
        met: (x: number, v: VerificationResult) => (p.name === 'node-saml' ? x >= (v.groups === SMALL_GROUPS ? 10 : 8) : null),
      })),
      {
        what: 'Keydesk ÷ the floor (× its time)',
        target: '≤ 2',
        ratio: (v) => costRatio(v.keydesk, v.floor),
        p50: (v) => p50Ratio(v.keydesk, v.floor),
        met: (x) => x <= 2,
      },
    ];
    printTable(
      'Verification ratios, Keydesk = verifySamlMessage (no database), 1 caller, interleaved (× = of means; × p50 = of medians)',
      [
        { header: 'comparison', value: (r: (typeof ratioRows)[number]) => r.what, align: 'left' },
        ...verifications.flatMap((v) => [
          { header: `${v.size} ×`, value: (r: (typeof ratioRows)[number]) => fmt(r.ratio(v), 2) },
          { header: '× p50', value: (r: (typeof ratioRows)[number]) => fmt(r.p50(v), 2) },
        ]),
        { header: 'target', value: (r) => r.target, align: 'left' },
        {
          header: 'met',
          value: (r) => {
            const m = verifications.map((v) => r.met(r.ratio(v), v));
            return m.every((x) => x === null) ? '' : m.map((x) => (x ? 'yes' : 'no')).join(' / ');
          },
          align: 'left',
        },
      ],
      ratioRows,
    );
    const rows = verifications.flatMap((v) => [
      { v, m: v.keydesk, what: 'Keydesk verifySamlMessage (with its trace)' },
      { v, m: v.keydeskCpu, what: 'Keydesk checks without the trace (timed by step)' },
      ...v.peers.map((p) => ({ v, m: p.m, what: p.name })),
      { v, m: v.floor, what: 'the floor (parse, 2 × c14n, SHA-256, RSA)' },
      { v, m: v.keydeskWithDb, what: 'Keydesk verifySamlResponse + replay cache (database)' },
      { v, m: v.replayInsert, what: '(its database part alone: BEGIN, settleResponse, COMMIT)' },
    ]);
    printTable(
      'ACS verification, 1 caller, interleaved (÷ Keydesk = mean time ÷ verifySamlMessage\'s mean time)',
      [
        { header: 'response', value: (r: (typeof rows)[number]) => r.v.size, align: 'left' },
        { header: 'verification', value: (r) => r.what, align: 'left' },
        { header: 'n', value: (r) => r.m.iterations },
        { header: 'ops/s', value: (r) => fmt(r.m.opsPerSec, 0) },
        { header: 'mean ms', value: (r) => fmt(r.m.meanMs, 3) },
        { header: 'p50 ms', value: (r) => fmt(r.m.p50Ms, 3) },
        { header: 'p99 ms', value: (r) => fmt(r.m.p99Ms, 3) },
        { header: 'min ms', value: (r) => fmt(r.m.minMs, 3) },
        { header: '÷ Keydesk', value: (r) => (r.m === r.v.replayInsert ? '' : fmt(r.m.meanMs / r.v.keydesk.meanMs, 2)) },
      ],
      rows,
    );
    const verifierNames = ['Keydesk', ...verifiers.map((p) => p.name)];
    printTable(
      `What each verifier refused before timing (the first three must be refused by all, or the run stops)`,
      [
        { header: 'response (5 groups)', value: (r: RefusalRow) => r.response, align: 'left' },
        ...verifierNames.map((name) => ({ header: name, value: (r: RefusalRow) => (r.refusedBy[name] ? 'refused' : 'ACCEPTED') })),
      ],
      refusals,
    );
    console.log(
      `Peers as configured (trusting the connection's one certificate):\n` +
        verifiers.map((p) => `  ${p.pkg} ${installed(p.pkg!)}: ${p.configured}`).join('\n') +
        `\n  the floor: @xmldom/xmldom ${installed('@xmldom/xmldom').split(' ')[0]}, xml-crypto ${installed('xml-crypto').split(' ')[0]} ExclusiveCanonicalization, node:crypto`,
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
        `Over HTTP the ACS route adds the tenant and connection lookups and the rate limit (counted in batches: well inside its budget, no statement on the request's path).`,
    );
    console.log(`\nsaml suite: ${totalSeconds} s`);

    return {
      totalSeconds,
      responses: verifications.map((v) => ({ size: v.size, groups: v.groups, xmlBytes: v.xmlBytes, base64Bytes: v.base64Bytes })),
      verification: verifications.map((v) => ({
        size: v.size,
        keydesk: v.keydesk,
        keydeskChecksWithoutTrace: v.keydeskCpu,
        peers: Object.fromEntries(v.peers.map((p) => [p.name, p.m])),
        floor: v.floor,
        ratios: {
          ...Object.fromEntries(v.peers.map((p) => [`keydeskVs_${p.name}`, { means: costRatio(p.m, v.keydesk), p50: p50Ratio(p.m, v.keydesk) }])),
          keydeskOverFloor: { means: costRatio(v.keydesk, v.floor), p50: p50Ratio(v.keydesk, v.floor) },
        },
        keydeskWithReplayCache: v.keydeskWithDb,
        settleResponseAlone: v.replayInsert,
        stepsMeanMs: v.steps,
      })),
      peers: verifiers.map((p) => ({ name: p.name, package: p.pkg, version: installed(p.pkg!), configured: p.configured })),
      refusals,
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
