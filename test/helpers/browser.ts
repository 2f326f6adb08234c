import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';

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
