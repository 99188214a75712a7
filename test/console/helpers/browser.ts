/**
 * Debian's Chromium driven by playwright-core (scripts/install-test-deps.sh installs it): one
 * browser per test file, a fresh context (cookies) per signed-in person, screenshots of the main
 * pages written to docs/console/ for the README.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';
import { repoRoot } from '../../e2e/helpers/berth-process.js';
import type { Credentials } from '../../e2e/helpers/ecr-client.js';
import { HANG_MS } from '../../e2e/helpers/wait-for.js';

export const CHROMIUM = process.env.BERTH_TEST_CHROMIUM ?? '/usr/bin/chromium';
export const SCREENSHOTS = join(repoRoot, 'docs', 'console');

export function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM });
}

/** A new context (its own cookie jar) at desktop width; waits end only hangs, never a slow machine. */
export async function newPage(browser: Browser, viewport = { width: 1280, height: 860 }): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport, colorScheme: 'light', reducedMotion: 'reduce' });
  context.setDefaultTimeout(HANG_MS);
  const page = await context.newPage();
  return { context, page };
}

/** Collects what the page printed to its console as errors and the CSP violations it reported. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  return errors;
}

export async function signInWithKeys(page: Page, url: string, keys: Credentials & { sessionToken?: string }): Promise<void> {
  await page.goto(`${url}/console/`);
  await page.getByLabel('Access key ID').fill(keys.accessKeyId);
  await page.getByLabel('Secret access key').fill(keys.secretAccessKey);
  if (keys.sessionToken) await page.getByLabel('Session token').fill(keys.sessionToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Repositories', level: 1 }).waitFor();
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true, animations: 'disabled', caret: 'hide' });
}

/** The element's text (its textContent: cells run together, which the tests' patterns allow for). */
export async function text(locator: Locator): Promise<string> {
  return (await locator.textContent()) ?? '';
}
