/**
 * The access review page in a real browser (Debian Chromium): an administrator opens
 * Administration › Access review, reads where a rule-granted role came from (a SCIM group), revokes
 * a role an administrator gave with a reason (a refusal shown in the dialog first), and sees the
 * per-role view. Screenshots go to test-results/.
 *
 * Needs the built web app (`npm run build:web`) and Chromium (CHROMIUM_PATH, default /usr/bin/chromium).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openPage, passwordSignIn, repoRoot } from '../helpers/browser.js';
import { startApp, type TestApp, type TestTenant } from '../helpers/app.js';
import type { Client } from '../helpers/client.js';
import { GROUP_SCHEMA, newUser, patch, scimClient } from '../helpers/scim.js';

const shots = path.join(repoRoot, 'test-results');
let t: TestApp;
let tt: TestTenant;
let browser: Browser;
let page: Page;
let api: Client;
let scimUserId = '';
let pat: { id: string; email: string };

before(async () => {
  mkdirSync(shots, { recursive: true });
  t = await startApp();
  tt = await t.tenant();
  api = t.client();
  assert.equal((await api.signIn(tt.tenant.slug, tt.adminEmail, tt.adminPassword)).status, 200);
  assert.equal((await api.patch(`/api/v1/users/${tt.adminId}`, { displayName: 'Ana Admin' })).status, 200);

  // A rule-granted agent, through a SCIM group named IT-Agents (Entra's object id as the reference).
  const objectId = randomUUID();
  assert.equal((await api.post('/api/v1/sso/role-rules', { groupRef: objectId, role: 'agent' })).status, 201);
  const scim = await scimClient(t, tt.tenant);
  const user = (await scim.call('POST', 'Users', newUser(`rita.rule@${tt.tenant.slug}.test`, { displayName: 'Rita Rule' }))).body;
  scimUserId = user.id;
  const group = (await scim.call('POST', 'Groups', { schemas: [GROUP_SCHEMA], displayName: 'IT-Agents', externalId: objectId })).body;
  assert.equal((await scim.call('PATCH', `Groups/${group.id}`, patch({ op: 'Add', path: 'members', value: [{ value: user.id }] }))).status, 204);

  // A person-granted agent role and change manager role, given by Ana.
  const made = await api.post('/api/v1/users', { email: `pat.person@${tt.tenant.slug}.test`, displayName: 'Pat Person', roles: ['requester', 'agent', 'change_manager'] });
  assert.equal(made.status, 201);
  pat = made.body;

  browser = await launchChromium();
  page = await openPage(browser);
});

after(async () => {
  await browser?.close();
  await t?.close();
});

const row = (email: string) => page.locator(`[data-testid="review-row"][data-email="${email}"]`);

test('the administrator opens Access review and reads where a rule-granted role came from', async () => {
  await passwordSignIn(page, t.url, tt.tenant.slug, tt.adminEmail, tt.adminPassword);
  await page.goto(`${t.url}/t/${tt.tenant.slug}/admin/users`);
  await page.getByTestId('admin-tab-access-review').click();
  await page.getByTestId('review-table').waitFor();
  const rita = row(`rita.rule@${tt.tenant.slug}.test`);
  const ruleChip = rita.getByTestId('grant-agent-rule');
  assert.equal((await ruleChip.innerText()).trim(), 'Agent · rule: IT-Agents (SCIM group)');
  assert.equal(await ruleChip.getByRole('button', { name: /revoke/i }).count(), 0, 'a rule grant has no Revoke');
  assert.match(await rita.getByTestId('review-source').innerText(), /SCIM/);
  assert.match(await rita.getByTestId('grant-requester-system').innerText(), /system: default for SCIM accounts/);
  const patAgent = row(pat.email).getByTestId('grant-agent-person');
  assert.match(await patAgent.innerText(), new RegExp(`Agent · given by Ana Admin <${tt.adminEmail}> on \\d{4}-\\d\\d-\\d\\d`));
  await page.evaluate('window.scrollTo(0, 0)');
  await page.screenshot({ path: path.join(shots, 'access-review.png'), fullPage: true });
});

test('revoking a person-granted role: the reason is required, a refusal shows in the dialog, then the role goes', async () => {
  const patRow = row(pat.email);
  await patRow.getByTestId('revoke-agent').click();
  const dialog = page.getByTestId('revoke-dialog');
  await dialog.getByTestId('revoke-submit').click();
  assert.match(await dialog.getByTestId('revoke-error').innerText(), /Say why/);

  // Someone else changes the roles meanwhile: the server's refusal is shown next to the button.
  assert.equal((await api.put(`/api/v1/users/${pat.id}/roles`, { roles: ['requester', 'change_manager'] })).status, 200);
  await dialog.getByTestId('revoke-reason').fill('Left the service desk in March');
  await dialog.getByTestId('revoke-submit').click();
  assert.match(await dialog.getByTestId('revoke-error').innerText(), /does not hold the Agent role/);
  await page.keyboard.press('Escape');

  // The change manager role, for real.
  await patRow.getByTestId('revoke-change_manager').click();
  await dialog.getByTestId('revoke-reason').fill('No longer on the change board');
  await dialog.getByTestId('revoke-submit').click();
  assert.match(await page.getByTestId('review-flash').innerText(), /Pat Person no longer holds the Change manager role/);
  await patRow.getByTestId('grant-requester-person').waitFor();
  assert.equal(await patRow.getByTestId('grant-change_manager-person').count(), 0);
  const grants = await t.db.query<{ role: string }>('SELECT role FROM role_grants WHERE tenant_id = $1 AND user_id = $2 ORDER BY role', [tt.tenant.id, pat.id]);
  assert.deepEqual(grants.map((g) => g.role), ['requester']);
  const [event] = await t.db.query<{ details: any }>(`SELECT details FROM audit_events WHERE tenant_id = $1 AND action = 'access_review.role_revoked' AND target_id = $2`, [tt.tenant.id, pat.id]);
  assert.equal(event?.details.reason, 'No longer on the change board');
});

test('the per-role view: the rule with its holder, and the holders with provenance', async () => {
  await page.getByTestId('review-view-roles').click();
  const agent = page.getByTestId('review-role-agent');
  await agent.waitFor();
  assert.match(await agent.innerText(), /1 person/);
  const holder = agent.locator(`[data-testid="role-holder"][data-email="rita.rule@${tt.tenant.slug}.test"]`);
  assert.equal((await holder.getByTestId('grant-agent-rule').innerText()).trim(), 'Agent · rule: IT-Agents (SCIM group)');
  assert.ok(scimUserId);
  await page.evaluate('window.scrollTo(0, 0)');
  await page.screenshot({ path: path.join(shots, 'access-review-roles.png'), fullPage: true });
});
