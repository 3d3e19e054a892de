/** The demo page, served on the same origin as the operators' dashboard (/admin, where the admin
 * key is typed), runs no script but its own files: markup injected into it (an inline script, an
 * event-handler attribute) does not run, the browser reports the attempt as a Content-Security-
 * Policy violation, and the page refuses to be framed. The demo itself keeps working under that
 * policy (test/browser/demo*.test.ts use pages that fail on any console error). */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { buildSdkBundle, launchChromium, newPage } from '../helpers/browser.js';

buildSdkBundle();

t.test('markup injected into the demo page runs no script', async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  const server = await startServer(t, { config: { dev: true } });
  const page = await newPage(browser);
  t.teardown(() => page.context().close().catch(() => {}));
  await page.goto(`${server.httpUrl}/`);
  await page.evaluate(() => {
    const w = window as unknown as { violations: string[]; ran: string[] };
    w.violations = [];
    w.ran = [];
    document.addEventListener('securitypolicyviolation', (e) => w.violations.push(e.effectiveDirective));
    // What an injection flaw would add: an event-handler attribute and an inline script.
    const box = document.createElement('div');
    box.innerHTML = '<svg><image href="data:image/gif;base64,R0lGODlhAQABAAAAACw=" onload="window.ran.push(\'handler\')" onerror="window.ran.push(\'handler\')"></image></svg>';
    document.body.append(box);
    const script = document.createElement('script');
    script.textContent = "window.ran.push('inline script')";
    document.body.append(script);
  });
  // Settled once both were refused (two violations) or both ran.
  await page.waitForFunction(() => {
    const w = window as unknown as { violations: string[]; ran: string[] };
    return w.violations.filter((d) => d.startsWith('script-src')).length + w.ran.length >= 2;
  }, undefined, { timeout: 10_000 });
  t.same(await page.evaluate(() => (window as unknown as { ran: string[] }).ran), [], 'neither the handler nor the inline script ran');

  const res = await fetch(`${server.httpUrl}/`);
  t.match(res.headers.get('content-security-policy'), /frame-ancestors 'none'/, 'the page may not be framed');
});
