/**
 * What the single sign-on browser tests share: SimpleSAMLphp's sign-in form, and a fresh app with
 * SimpleSAMLphp installed and the folder for screenshots made.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { ensureSimpleSamlPhp } from '../idp/simplesamlphp.js';
import { startApp, type TestApp, type TestTenant } from './app.js';
import { repoRoot } from './browser.js';

/** Where the screenshots go (test-results/ in the repository). */
export const shots = path.join(repoRoot, 'test-results');

/** SimpleSAMLphp's username/password form; a test user's password is its username and `-pw`. */
export async function idpLogin(page: Page, username: string): Promise<void> {
  await page.locator('input[name="username"]').fill(username);
  await page.locator('input[name="password"]').fill(`${username}-pw`);
  await page.locator('input[name="password"]').press('Enter');
}

/** An app with one tenant, once SimpleSAMLphp is there to sign in with (installed if it is missing). */
export async function startSsoApp(): Promise<{ t: TestApp; tt: TestTenant }> {
  ensureSimpleSamlPhp();
  mkdirSync(shots, { recursive: true });
  const t = await startApp();
  return { t, tt: await t.tenant() };
}
