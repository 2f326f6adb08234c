/**
 * The load process of the signin-load suite (bench/signin-load.ts): it plays the browsers and the
 * identity provider, and talks to the Keydesk servers only over HTTP on loopback. Started by the
 * suite with `node --import tsx bench/signin-driver.ts` and an IPC channel; not meant to be run by
 * hand.
 *
 * A sign-in here is what a browser does for an SP-initiated SAML sign-in: GET
 * /t/{tenant}/saml/{conn}/login (Keydesk stores an AuthnRequest and redirects to the IdP), then POST
 * the IdP's response to the ACS (303 and a session cookie expected). The IdP's part, signing an
 * Entra-shaped response that answers the AuthnRequest's ID, is done before the timed run: for each
 * sign-in to come, `prepare` makes one GET /login untimed, reads the request ID from the redirect
 * and signs a response to it. The timed run then makes, per sign-in, a GET /login (its request is
 * left unanswered, as a browser that gives up leaves one) and the POST of a prepared response. So
 * the server does the work of a full sign-in in the timed run, and the load process does no RSA
 * signing in it.
 */
import { performance } from 'node:perf_hooks';
import { inflateRawSync } from 'node:zlib';
import { Pool } from 'undici';
import type { KeyPair } from '../test/helpers/saml-forge.js';
import { entraResponse, type Idp, type Person } from './entra.js';

/** One Keydesk server, as the load process addresses it. */
export interface Target {
  /** http://127.0.0.1:port */
  url: string;
  loginUrl: string;
  acsUrl: string;
  spEntityId: string;
}

/** Latencies and throughput of one timed run, as the suite gets them. */
export interface RunResult {
  n: number;
  elapsedMs: number;
  /** Per operation (a full sign-in, or one /healthz), ms, in completion order. */
  latencies: number[];
  /** Of a sign-in: the ACS POST alone, ms. */
  acsLatencies: number[];
  /** This process's CPU time during the run, µs. */
  cpuMicros: number;
}

export type DriverCommand =
  | { cmd: 'init'; id: number; idp: { entityId: string; tenantId: string; keys: KeyPair }; groups: string[] }
  | { cmd: 'prepare'; id: number; target: Target; people: Person[]; ips: string[] }
  | { cmd: 'signins'; id: number; target: Target; clients: number }
  | { cmd: 'healthz'; id: number; target: Target; clients: number; n: number }
  /** One GET /login, untimed: the request ID. */
  | { cmd: 'login'; id: number; target: Target; ip: string }
  /** Sign a response answering `requestId` and POST it: the status. */
  | { cmd: 'acs'; id: number; target: Target; person: Person; ip: string; requestId: string };

export type DriverMessage = { type: 'done'; id: number; result?: unknown } | { type: 'failed'; id: number; message: string };

let idp: Idp | null = null;
let groups: string[] = [];
/** The sign-ins `prepare` readied for the next `signins` on a target. */
const prepared = new Map<string, { samlResponse: string; ip: string }[]>();
const pools = new Map<string, Pool>();

function poolFor(t: Target): Pool {
  let p = pools.get(t.url);
  // Up to 16 clients, each with its own kept-alive connection, as 16 browsers would have.
  if (!p) pools.set(t.url, (p = new Pool(t.url, { connections: 32, pipelining: 1, keepAliveTimeout: 30_000 })));
  return p;
}

const pathOf = (u: string) => {
  const x = new URL(u);
  return x.pathname + x.search;
};

/** GET /login: Keydesk redirects to the IdP with the AuthnRequest; returns its ID. */
async function login(t: Target, ip: string): Promise<string> {
  const res = await poolFor(t).request({ method: 'GET', path: pathOf(t.loginUrl), headers: { 'x-forwarded-for': ip } });
  await res.body.dump();
  const location = res.headers.location;
  if (res.statusCode !== 302 && res.statusCode !== 303) throw new Error(`GET /login answered ${res.statusCode}`);
  const request = new URL(String(location)).searchParams.get('SAMLRequest');
  const xml = inflateRawSync(Buffer.from(request ?? '', 'base64')).toString();
  const id = /\bID="([^"]+)"/.exec(xml)?.[1];
  if (!id) throw new Error(`no AuthnRequest ID in the redirect from ${t.loginUrl}`);
  return id;
}

/** POSTs the response as a browser's auto-submitted form; 303 with a session cookie, or an error. */
async function postAcs(t: Target, samlResponse: string, ip: string): Promise<void> {
  const res = await poolFor(t).request({
    method: 'POST',
    path: pathOf(t.acsUrl),
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip },
    body: new URLSearchParams({ SAMLResponse: samlResponse }).toString(),
  });
  const body = await res.body.text();
  const cookie = ([] as string[]).concat(res.headers['set-cookie'] ?? []).join(', ');
  if (res.statusCode === 303 && /(^|,\s*)keydesk_session=/.test(cookie)) return;
  const ref = /KD-[0-9A-F]{10}/.exec(body)?.[0];
  throw new Error(`the ACS at ${t.url} answered ${res.statusCode} instead of 303 with a session cookie${ref ? ` (trace ${ref})` : ''}: ${body.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').slice(0, 300)}`);
}

function sign(t: Target, who: Person, requestId: string): string {
  if (!idp) throw new Error('init first');
  return entraResponse(idp, { acsUrl: t.acsUrl, entityId: t.spEntityId, loginUrl: t.loginUrl, sloUrl: '' }, who, groups, { inResponseTo: requestId }).samlResponse;
}

async function prepare(t: Target, people: Person[], ips: string[]): Promise<{ ms: number }> {
  const t0 = performance.now();
  const ids: string[] = new Array(people.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < people.length) {
        const k = next++;
        ids[k] = await login(t, ips[k]!);
      }
    }),
  );
  prepared.set(t.url, people.map((p, k) => ({ samlResponse: sign(t, p, ids[k]!), ip: ips[k]! })));
  return { ms: performance.now() - t0 };
}

/** `clients` loops share the list of work; each takes the next item when its last one is done. */
async function drive(n: number, clients: number, op: (k: number) => Promise<number | void>): Promise<RunResult> {
  const latencies: number[] = [];
  const acsLatencies: number[] = [];
  let next = 0;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < n) {
        const k = next++;
        const t0 = performance.now();
        const acs = await op(k);
        latencies.push(performance.now() - t0);
        if (typeof acs === 'number') acsLatencies.push(acs);
      }
    }),
  );
  const elapsedMs = performance.now() - start;
  const cpu = process.cpuUsage(cpu0);
  return { n, elapsedMs, latencies, acsLatencies, cpuMicros: cpu.user + cpu.system };
}

async function signins(t: Target, clients: number): Promise<RunResult> {
  const work = prepared.get(t.url);
  if (!work) throw new Error(`nothing prepared for ${t.url}`);
  prepared.delete(t.url);
  return drive(work.length, clients, async (k) => {
    const w = work[k]!;
    await login(t, w.ip);
    const t0 = performance.now();
    await postAcs(t, w.samlResponse, w.ip);
    return performance.now() - t0;
  });
}

async function healthz(t: Target, clients: number, n: number): Promise<RunResult> {
  const pool = poolFor(t);
  return drive(n, clients, async () => {
    const res = await pool.request({ method: 'GET', path: '/healthz' });
    await res.body.dump();
    if (res.statusCode !== 200) throw new Error(`/healthz answered ${res.statusCode}`);
  });
}

async function handle(m: DriverCommand): Promise<unknown> {
  switch (m.cmd) {
    case 'init':
      idp = { keys: m.idp.keys, entityId: m.idp.entityId, tenantId: m.idp.tenantId };
      groups = m.groups;
      return undefined;
    case 'prepare':
      return prepare(m.target, m.people, m.ips);
    case 'signins':
      return signins(m.target, m.clients);
    case 'healthz':
      return healthz(m.target, m.clients, m.n);
    case 'login':
      return login(m.target, m.ip);
    case 'acs':
      await postAcs(m.target, sign(m.target, m.person, m.requestId), m.ip);
      return undefined;
  }
}

if (!process.send) throw new Error('signin-driver.ts is started by bench/signin-load.ts (with an IPC channel)');
process.on('message', (m: DriverCommand) => {
  handle(m).then(
    (result) => process.send!({ type: 'done', id: m.id, result } satisfies DriverMessage),
    (err: unknown) => process.send!({ type: 'failed', id: m.id, message: err instanceof Error ? err.message : String(err) } satisfies DriverMessage),
  );
});
process.on('disconnect', () => {
  for (const p of pools.values()) void p.destroy();
  process.exit(0);
});
