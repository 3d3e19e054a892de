/** Real Chromium (Debian's) driven by playwright-core. Without the binary a test skips loudly on a
 * developer machine and fails under CI=true, where .ci/run installs it. */
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import type { Test } from 'tap';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

export async function launchChromium(t: Test): Promise<Browser | undefined> {
  if (!existsSync(CHROMIUM)) {
    if (process.env['CI'] === 'true') throw new Error(`chromium not found at ${CHROMIUM}; .ci/run should have installed it`);
    t.comment(`SKIPPING browser tests: no chromium at ${CHROMIUM} (apt-get install chromium)`);
    t.plan(0, `no chromium at ${CHROMIUM}`);
    return undefined;
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.teardown(() => browser.close());
  return browser;
}

/** Builds the SDK bundle the broker serves, so browser tests run the current source. */
export function buildSdkBundle(): void {
  execFileSync(process.execPath, ['scripts/build-sdk-bundle.mjs'], { stdio: 'inherit' });
}
