import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Debian's Chromium, headless, with the flags this closed network needs (no background
 * networking, no component updates: their connection attempts are refused here).
 */
export function launchChromium(): Promise<Browser> {
  if (!existsSync(path.join(repoRoot, 'dist', 'web', 'index.html')) && !process.env.KEYDESK_WEB_DIR) {
    throw new Error('The web app is not built: run `npm run build:web` first.');
  }
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/**
 * A page in a fresh browser context (its own cookies): what one person sees. Contexts close with
 * the browser. `clipboard` grants reading and writing the clipboard on that origin.
 */
export async function openPage(browser: Browser, opts: { width?: number; height?: number; clipboard?: string } = {}): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: opts.width ?? 1280, height: opts.height ?? 900 } });
  if (opts.clipboard) await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: opts.clipboard });
  const page = await ctx.newPage();
  page.setDefaultTimeout(20_000);
  return page;
}

/** Signs in on a workspace's sign-in page with a password, as a person types it; waits for the app. */
export async function passwordSignIn(page: Page, baseUrl: string, tenantSlug: string, email: string, password: string): Promise<void> {
  await page.goto(`${baseUrl}/t/${tenantSlug}/login`);
  await page.getByTestId('login-email').fill(email);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('user-name').waitFor();
}
