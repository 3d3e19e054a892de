/** tidings_request_duration_seconds{op,transport} (server.requestHistogram, docs/operations.md):
 * each request answered over the WebSocket or HTTP is observed once, under its operation (one the
 * server does not serve: `other`), on either engine (with engine redis most replies come back
 * from Redis: observed at the reply, so awaited replies are all counted). Off: no series. */
import t from 'tap';
import { startServer, testEachEngine } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { PermissionScopes } from '../../src/index.js';
import type { TidingsServer } from '../../src/index.js';

const CACHE = 'chat';
const HISTOGRAM = 'tidings_request_duration_seconds';
const scope = PermissionScopes.combine(PermissionScopes.topicPublishSubscribe(CACHE, '*'), PermissionScopes.cacheReadWrite(CACHE));

const scrape = async (server: TidingsServer) => (await fetch(`${server.httpUrl}/metrics`)).text();
/** A sample's value by its name and labels (in any order); 0 when the series does not exist yet. */
const sample = (text: string, name: string, labels: Record<string, string>) => {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => {
    if (!l.startsWith(`${name}{`)) return false;
    const own = l.slice(name.length + 1, l.indexOf('} ')).split(',');
    return own.length === pairs.length && pairs.every((p) => own.includes(p));
  });
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
};
const count = (text: string, op: string, transport: string) => sample(text, `${HISTOGRAM}_count`, { op, transport });

testEachEngine('metrics - every request answered is timed once, by operation and transport', async (t, engine) => {
  const server = await startServer(t, { engine, config: { server: { metricsAccess: 'open' } } });
  const token = await tokenFor(server, scope);
  const c = await RawClient.open(server, token);
  const before = await scrape(server);

  for (let i = 0; i < 5; i++) await c.ok({ t: 'set', cache: CACHE, key: `k${i}`, value: 'v' });
  for (let i = 0; i < 3; i++) await c.ok({ t: 'get', cache: CACHE, key: `k${i}` });
  // Refused requests are answered too; a name the server does not serve is not a label of its own.
  t.equal((await c.request({ t: 'set', cache: 'elsewhere', key: 'k', value: 'v' }))['e']?.code, 'PERMISSION_ERROR');
  t.equal((await c.request({ t: 'no-such-op' }))['e']?.code, 'BAD_REQUEST_ERROR');
  const http = (path: string, body: string) => fetch(`${server.httpUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' }, body });
  for (let i = 0; i < 4; i++) t.equal((await http(`/v1/topics/${CACHE}/room`, `m${i}`)).status, 200);
  for (let i = 0; i < 2; i++) t.equal((await http(`/v1/cache/${CACHE}/get`, JSON.stringify({ key: 'k0' }))).status, 200);

  const after = await scrape(server);
  const grew = (op: string, transport: string) => count(after, op, transport) - count(before, op, transport);
  t.equal(grew('set', 'ws'), 6, '5 sets and the refused one over the WebSocket');
  t.equal(grew('get', 'ws'), 3, '3 gets over the WebSocket');
  t.equal(grew('unknown', 'ws'), 1, 'the unknown operation, as unknown (the label tidings_request_errors_total uses)');
  t.notMatch(after, /op="no-such-op"/, 'a client cannot add labels');
  t.equal(grew('pub', 'http'), 4, '4 publishes over HTTP');
  t.equal(grew('get', 'http'), 2, '2 gets over HTTP');
  t.equal(grew('pub', 'ws'), 0, 'none published over the WebSocket');
  t.equal(count(after, 'hello', 'ws'), 1, 'the connection\'s hello');
  // A histogram: the +Inf bucket holds every observation, and durations add up to some time.
  t.equal(sample(after, `${HISTOGRAM}_bucket`, { op: 'set', transport: 'ws', le: '+Inf' }), count(after, 'set', 'ws'));
  t.ok(sample(after, `${HISTOGRAM}_sum`, { op: 'set', transport: 'ws' }) > 0, 'the sets took some time');
  c.close();
});

t.test('metrics - server.requestHistogram false: no request durations', async (t) => {
  const server = await startServer(t, { config: { server: { metricsAccess: 'open', requestHistogram: false } } });
  const c = await RawClient.open(server, await tokenFor(server, scope));
  await c.ok({ t: 'set', cache: CACHE, key: 'k', value: 'v' });
  const text = await scrape(server);
  t.match(text, /^tidings_connections 1$/m, 'the other series are there');
  t.notMatch(text, new RegExp(HISTOGRAM), 'no request durations');
  c.close();
});
