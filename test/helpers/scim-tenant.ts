/**
 * Setups the tests of identity-driven desk work share (webhooks, workflows, leavers): an app with
 * one tenant whose identity provider provisions over SCIM, and the people who act on it.
 */
import { startApp, type TestApp, type TestTenant } from './app.js';
import type { Client } from './client.js';
import { scimClient, type ScimClient } from './scim.js';

/** The tenant's administrator signed in over the API, and a SCIM client as its identity provider. */
export async function startScimTenant(): Promise<{ t: TestApp; tt: TestTenant; admin: Client; scim: ScimClient }> {
  const t = await startApp();
  const tt = await t.tenant();
  const admin = t.client();
  await admin.signIn(tt.tenant.slug, tt.adminEmail, tt.adminPassword);
  return { t, tt, admin, scim: await scimClient(t, tt.tenant) };
}

type Person = Awaited<ReturnType<TestApp['user']>>;

/** An administrator, an agent who leads the team (`lead`) and a requester, each with a signed-in client, and a SCIM client. */
export async function startScimDesk(): Promise<{ t: TestApp; tt: TestTenant; admin: Person; lead: Person; requester: Person; scim: ScimClient }> {
  const t = await startApp();
  const tt = await t.tenant();
  const admin = await t.user(tt.tenant, ['requester', 'admin']);
  const lead = await t.user(tt.tenant, ['requester', 'agent']);
  const requester = await t.user(tt.tenant, ['requester']);
  return { t, tt, admin, lead, requester, scim: await scimClient(t, tt.tenant) };
}
