/** The curl examples in docs/http-api.md, run as written against a real server, answer JSON of the
 * shape their `# {...}` line shows: the same keys at every level, values of the same types, the
 * same booleans (positions, timestamps, ids and the data already stored differ from run to run). */
import t from 'tap';
import { readFileSync } from 'node:fs';
import webpush from 'web-push';
import { startServer } from '../helpers/server.js';
import { tokenFor } from '../helpers/raw-client.js';
import { PermissionScopes } from '../../src/index.js';

interface Example { command: string; method: string; path: string; headers: Record<string, string>; body?: string; shown: unknown }

/** Every `curl` of a sh block followed by a `# {json}` line, its continuation lines joined. */
function examples(markdown: string): Example[] {
  const found: Example[] = [];
  for (const block of markdown.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const lines = block[1]!.replace(/\\\n\s*/g, ' ').split('\n');
    lines.forEach((line, i) => {
      const shown = lines[i + 1]?.match(/^# (\{.*\})$/)?.[1];
      if (!line.startsWith('curl ') || shown === undefined) return;
      const headers: Record<string, string> = {};
      for (const h of line.matchAll(/-H (?:'([^']*)'|"([^"]*)")/g)) {
        const [name, ...value] = (h[1] ?? h[2]!).split(':');
        headers[name!.trim().toLowerCase()] = value.join(':').trim();
      }
      const body = line.match(/(?:-d|--data-binary) '([^']*)'/)?.[1];
      found.push({
        command: line,
        method: line.match(/-X (\w+)/)?.[1] ?? (body === undefined ? 'GET' : 'POST'),
        path: line.match(/"\$TIDINGS(\/[^"]*)"/)![1]!,
        headers,
        ...(body === undefined ? {} : { body }),
        shown: JSON.parse(shown),
      });
    });
  }
  return found;
}

/** Where `actual` differs from `shown` in shape, or in a boolean; '' if nowhere. */
function difference(shown: unknown, actual: unknown, at = '$'): string {
  if (Array.isArray(shown)) {
    if (!Array.isArray(actual)) return `${at}: an array is shown, got ${JSON.stringify(actual)}`;
    return shown.length > 0 && actual.length > 0 ? difference(shown[0], actual[0], `${at}[0]`) : '';
  }
  if (shown !== null && typeof shown === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return `${at}: an object is shown, got ${JSON.stringify(actual)}`;
    const keys = (o: object) => Object.keys(o).sort().join(',');
    if (keys(shown) !== keys(actual)) return `${at}: keys shown ${keys(shown)}, got ${keys(actual)}`;
    for (const key of Object.keys(shown)) {
      const d = difference((shown as Record<string, unknown>)[key], (actual as Record<string, unknown>)[key], `${at}.${key}`);
      if (d) return d;
    }
    return '';
  }
  if (typeof shown !== typeof actual) return `${at}: a ${typeof shown} is shown, got ${JSON.stringify(actual)}`;
  if (typeof shown === 'boolean' && shown !== actual) return `${at}: ${shown} is shown, got ${actual}`;
  return '';
}

t.test('the curl examples of docs/http-api.md answer what they show', async (t) => {
  // Web Push on, so the notification routes answer; their examples name public-looking push
  // endpoints and webhook URLs that nothing here sends to (no item reaches a follower who is away).
  const vapid = webpush.generateVAPIDKeys();
  const server = await startServer(t, { config: { push: { vapidPublicKey: vapid.publicKey, vapidPrivateKey: vapid.privateKey } } });
  const token = await tokenFor(server, PermissionScopes.combine(PermissionScopes.topicPublishSubscribe('chat', '*'), PermissionScopes.cacheReadWrite('chat')), { tokenId: 'backend' });
  const apiKey = (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null })).token;
  const list = examples(readFileSync(new URL('../../docs/http-api.md', import.meta.url), 'utf8'));
  t.ok(list.length >= 15, `${list.length} examples with their output`);
  for (const example of list) {
    const headers = Object.fromEntries(Object.entries(example.headers).map(([k, v]) => [k, v.replace('$TOKEN', token).replace('$API_KEY', apiKey)]));
    // What curl sends with -d or --data-binary and no Content-Type of the example's own.
    if (example.body !== undefined && headers['content-type'] === undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    // A poll that waits shows what arrives after its cursor: asked at once here.
    const path = example.path.replace(/waitMs=\d+/, 'waitMs=0');
    if (/cursor=/.test(path)) continue; // a cursor names positions of the run the doc was written from
    const res = await fetch(`${server.httpUrl}${path}`, { method: example.method, headers, ...(example.body === undefined ? {} : { body: example.body }) });
    const actual = await res.json();
    t.equal(res.status < 300, true, `${example.method} ${path}: ${res.status} ${JSON.stringify(actual)}`);
    t.equal(difference(example.shown, actual), '', `${example.method} ${path} answers the shape shown`);
  }
});
