import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { inflateRawSync } from 'node:zlib';
import { randomUUID } from 'node:crypto';
import { freshPostgresDatabase } from './helpers/app.js';
import { Client } from './helpers/client.js';
import { freePort, startKeydeskProcess, type KeydeskProcess } from './helpers/process.js';
import { b64, buildAssertion, makeKeyPair, sign, wrapInResponse, type ResponseParts } from './helpers/saml-forge.js';
import { createTenant } from '../src/tenancy/tenants.js';
import { createSamlConnection } from '../src/identity/connections.js';

// Two Keydesk processes on one PostgreSQL, as behind a load balancer: both answer for one PUBLIC_URL.
// Request ids and the assertion replay cache live in the database, so a response accepted by one
// node is refused by the other. This runs on PostgreSQL in both halves of the suite (PGlite is a
// single-process database).
const IDP = `https://sts.windows.net/${randomUUID()}/`;
let pgdb: Awaited<ReturnType<typeof freshPostgresDatabase>>;
let nodeA: KeydeskProcess;
let nodeB: KeydeskProcess;
let urlA: string;
let urlB: string;
let publicUrl: string;
const keys = makeKeyPair('Two-node IdP');

before(async () => {
  pgdb = await freshPostgresDatabase();
  const [portA, portB] = [await freePort(), await freePort()];
  urlA = `http://127.0.0.1:${portA}`;
  urlB = `http://127.0.0.1:${portB}`;
  publicUrl = urlA;
  const { tenant } = await createTenant(pgdb.db, { slug: 'twonode', name: 'Two nodes', adminEmail: 'admin@two.test' });
  await createSamlConnection({ db: pgdb.db, tenant, actor: null }, { slug: 'entra', publish: true, source: { entityId: IDP, ssoUrl: 'https://login.microsoftonline.com/x/saml2', certificates: [keys.cert] } });
  const env = { DATABASE_URL: pgdb.url, KEYDESK_SECRET: 'two-node-secret-two-node-secret-012345', PUBLIC_URL: publicUrl };
  [nodeA, nodeB] = await Promise.all([
    startKeydeskProcess(['serve'], { ...env, PORT: String(portA) }),
    startKeydeskProcess(['serve'], { ...env, PORT: String(portB) }),
  ]);
});
after(async () => {
  await Promise.all([nodeA?.stop(), nodeB?.stop()]);
  await pgdb?.drop();
});

const base = () => `${publicUrl}/t/twonode/saml/entra`;
function response(inResponseTo: string | null): string {
  const p: ResponseParts = {
    issuer: IDP, destination: `${base()}/acs`, audience: `${base()}/metadata`, recipient: `${base()}/acs`, inResponseTo,
    nameId: 'roamer@two.test', attributes: { 'http://schemas.microsoft.com/identity/claims/objectidentifier': ['oid-roamer'] },
  };
  return b64(wrapInResponse(p, sign(buildAssertion(p), 'Assertion', keys)));
}
const postTo = (nodeUrl: string, samlResponse: string) =>
  new Client(nodeUrl).request('POST', '/t/twonode/saml/entra/acs', new URLSearchParams({ SAMLResponse: samlResponse }).toString(), { 'content-type': 'application/x-www-form-urlencoded' });

test('a response accepted by node A is refused by node B: SP-initiated (request id) and IdP-initiated (replay cache)', async () => {
  // SP-initiated: node B issues the request, node A consumes it, node B sees it consumed.
  const start = await fetch(`${urlB}/t/twonode/saml/entra/login`, { redirect: 'manual' });
  const request = inflateRawSync(Buffer.from(new URL(start.headers.get('location')!).searchParams.get('SAMLRequest')!, 'base64')).toString();
  const id = /ID="([^"]+)"/.exec(request)![1]!;
  const sp = response(id);
  assert.equal((await postTo(urlA, sp)).status, 303);
  const spReplay = await postTo(urlB, sp);
  assert.equal(spReplay.status, 400);

  const idp = response(null);
  assert.equal((await postTo(urlB, idp)).status, 303);
  const idpReplay = await postTo(urlA, idp);
  assert.equal(idpReplay.status, 400);
  const codes = await pgdb.db.query<{ error_code: string }>(`SELECT error_code FROM signin_traces WHERE outcome = 'failure' ORDER BY created_at`);
  assert.deepEqual(codes.map((c) => c.error_code), ['unknown_request', 'replayed']);
});
