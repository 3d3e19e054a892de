/** Real Chromium (Debian's) driven by playwright-core. Without the binary a test skips loudly on a
 * developer machine and fails under CI=true, where .ci/run installs it. */
import { existsSync, mkdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import tap, { type Test } from 'tap';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
/** Every screenshot a browser test takes lands here (gitignored), to be looked at. */
export const SCREENSHOT_DIR = 'test-output/screenshots';
export const DESKTOP = { width: 1100, height: 800 };
export const PHONE = { width: 390, height: 780 };

export async function launchChromium(t: Test): Promise<Browser | undefined> {
  if (!existsSync(CHROMIUM)) {
    if (process.env['CI'] === 'true') throw new Error(`chromium not found at ${CHROMIUM}; .ci/run should have installed it`);
    t.comment(`SKIPPING browser tests: no chromium at ${CHROMIUM} (apt-get install chromium)`);
    t.plan(0, `no chromium at ${CHROMIUM}`);
    return undefined;
  }
  const browser = await launch();
  t.teardown(() => browser.close());
  return browser;
}

function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** The process's one Chromium (see sharedChromium). */
let launched: Promise<Browser> | undefined;

/** One Chromium for every test of the process: a launch costs seconds (about 3 s of CPU), and each
 * test's pages still get browser contexts of their own (strictPage, newPage), which share no
 * cookies, storage or cache. The browser test modules run in one process
 * (test/browser/chromium.test.ts), so they share it too. Call it once at the top of a module; each
 * test calls the result with itself (it skips or fails like launchChromium without the binary).
 * Closed when the process's tests are done. */
export function sharedChromium(): (t: Test) => Promise<Browser | undefined> {
  return async (t) => {
    if (!existsSync(CHROMIUM)) return launchChromium(t);
    launched ??= launch().then((browser) => { tap.teardown(() => browser.close()); return browser; });
    return launched;
  };
}

/** A page in its own context. Tests run through tsx, whose esbuild keeps function names by
 * wrapping inner functions in `__name(fn, "name")`; `page.evaluate(fn)` ships fn's transpiled source
 * to the page, so every page gets that helper defined before its own scripts run. */
export async function newPage(browser: Browser, viewport?: { width: number; height: number }): Promise<Page> {
  const context = await browser.newContext(viewport ? { viewport } : {});
  await context.addInitScript('globalThis.__name = (fn) => fn;');
  return context.newPage();
}

/** A page in its own context that fails the test on any console error or uncaught page error (a
 * 404 for a favicon, an invalid `pattern`, a script exception): a page that logs errors is broken
 * even when it looks right. */
export async function strictPage(t: Test, browser: Browser, viewport = DESKTOP): Promise<Page> {
  const page = await newPage(browser, viewport);
  page.on('console', (message) => {
    if (message.type() === 'error') t.fail(`console error on ${page.url()}: ${message.text()}`);
  });
  page.on('pageerror', (err) => t.fail(`uncaught error on ${page.url()}: ${err.message}`));
  // The browser's own teardown may have closed it already.
  t.teardown(() => page.context().close().catch(() => {}));
  return page;
}

/** Saves a screenshot under test-output/screenshots/ (and under docs/ with UPDATE_SCREENSHOT=1
 * when `docsName` is given); returns the path. */
export async function screenshot(page: Page, name: string, docsName?: string, options: { fullPage?: boolean } = {}): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, ...options });
  if (docsName && process.env['UPDATE_SCREENSHOT'] === '1') await page.screenshot({ path: join('docs', docsName), ...options });
  return path;
}

let bundled = false;

/** Builds the SDK bundle the broker serves, so browser tests run the current source; once per
 * process (the sources do not change during a run). */
export function buildSdkBundle(): void {
  if (bundled) return;
  execFileSync(process.execPath, ['scripts/build-sdk-bundle.mjs'], { stdio: 'inherit' });
  bundled = true;
}
