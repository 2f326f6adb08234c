import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, type TestApp, type TestTenant } from './helpers/app.js';
import { makeKeyPair } from './helpers/saml-forge.js';
import { noticeExpiringCertificates, refreshMetadata } from '../src/identity/saml/upkeep.js';
import type { Client } from './helpers/client.js';

let t: TestApp;
let tt: TestTenant;
let admin: { id: string; client: Client };

before(async () => {
  t = await startApp();
  tt = await t.tenant();
  admin = await t.user(tt.tenant, ['admin']);
});
after(() => t.close());

test('certificates close to expiry are flagged once per threshold (30, 14, 7 days) and on expiry', async () => {
  const soon = makeKeyPair('Expires in 20 days', { from: new Date(Date.now() - 300 * 86_400_000), to: new Date(Date.now() + 20 * 86_400_000) });
  const res = await admin.client.post('/api/v1/sso/connections', { slug: 'rolling', entityId: 'https://idp.example/', ssoUrl: 'https://idp.example/sso', certificates: [soon.cert] });
  assert.equal(res.body.idp.certificates[0].daysLeft, 19);
  assert.equal(await noticeExpiringCertificates(t.db), 1);
  assert.equal(await noticeExpiringCertificates(t.db), 0, 'each notice once');
  const later = Date.now() + 15 * 86_400_000; // 5 days left: crosses 14 and 7 at once
  assert.equal(await noticeExpiringCertificates(t.db, later), 1);
  assert.equal(await noticeExpiringCertificates(t.db, Date.now() + 25 * 86_400_000), 1);
  const events = (await admin.client.get('/api/v1/audit?action=sso')).body.items.filter((e: any) => e.action.startsWith('sso.certificate_'));
  assert.deepEqual(events.map((e: any) => [e.action, e.details.threshold]).reverse(), [
    ['sso.certificate_expiring', 30],
    ['sso.certificate_expiring', 7],
    ['sso.certificate_expired', 0],
  ]);
});

test('metadata from a URL is refreshed daily; a failed refresh keeps the last good copy and says why', async () => {
  const first = makeKeyPair('Before rollover');
  const second = makeKeyPair('After rollover');
  const doc = (cert: string) => `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example/md"><IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>${cert.replace(/-----[A-Z ]+-----|\s/g, '')}</X509Certificate></X509Data></KeyInfo></KeyDescriptor><SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example/sso"/></IDPSSODescriptor></EntityDescriptor>`;
  let serve: () => Response = () => new Response(doc(first.cert));
  const fakeFetch = (async () => serve()) as unknown as typeof fetch;
  const { createSamlConnection, getSamlConnection } = await import('../src/identity/connections.js');
  const ctx = { db: t.db, tenant: tt.tenant, actor: null };
  await createSamlConnection(ctx, { slug: 'byurl', source: { metadataUrl: 'https://idp.example/metadata.xml' } }, fakeFetch);
  assert.deepEqual(await refreshMetadata(t.db, fakeFetch), { refreshed: 0, failed: 0 }, 'fresh metadata is not re-read');
  await t.db.query(`UPDATE sso_connections SET metadata_fetched_at = now() - interval '25 hours', metadata_checked_at = now() - interval '25 hours' WHERE tenant_id = $1 AND slug = 'byurl'`, [tt.tenant.id]);
  serve = () => new Response(doc(second.cert));
  assert.deepEqual(await refreshMetadata(t.db, fakeFetch), { refreshed: 1, failed: 0 });
  const rolled = await getSamlConnection(t.db, tt.tenant.id, 'byurl');
  assert.equal(rolled.config.certificates[0], second.cert.trim());

  await t.db.query(`UPDATE sso_connections SET metadata_fetched_at = now() - interval '25 hours', metadata_checked_at = now() - interval '25 hours' WHERE tenant_id = $1 AND slug = 'byurl'`, [tt.tenant.id]);
  serve = () => new Response('<html>maintenance</html>', { status: 503 });
  assert.deepEqual(await refreshMetadata(t.db, fakeFetch), { refreshed: 0, failed: 1 });
  const kept = await getSamlConnection(t.db, tt.tenant.id, 'byurl');
  assert.equal(kept.config.certificates[0], second.cert.trim(), 'last good copy kept');
  assert.match(kept.metadataError!, /HTTP 503/);
  assert.deepEqual(await refreshMetadata(t.db, fakeFetch), { refreshed: 0, failed: 0 }, 'failures retry hourly, not every tick');

  // The same URL now naming another identity provider is no rollover: refused, the last good copy kept.
  await t.db.query(`UPDATE sso_connections SET metadata_fetched_at = now() - interval '25 hours', metadata_checked_at = now() - interval '25 hours' WHERE tenant_id = $1 AND slug = 'byurl'`, [tt.tenant.id]);
  serve = () => new Response(doc(second.cert).replace('https://idp.example/md', 'https://attacker.example/md'));
  assert.deepEqual(await refreshMetadata(t.db, fakeFetch), { refreshed: 0, failed: 1 });
  const same = await getSamlConnection(t.db, tt.tenant.id, 'byurl');
  assert.equal(same.config.idpEntityId, 'https://idp.example/md');
  assert.match(same.metadataError!, /names another identity provider/);
});
