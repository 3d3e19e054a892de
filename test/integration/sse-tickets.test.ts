/** One credential cannot take every SSE ticket of the server (http.maxTicketsPerCredential): the
 * ticket route is under no rate limit, so without it one client could lock every EventSource user
 * out for http.ticketTtlMs. */
import t from 'tap';
import { PermissionScopes } from '../../src/index.js';
import { startServer } from '../helpers/server.js';
import { tokenFor } from '../helpers/raw-client.js';

t.test('one credential cannot take every SSE ticket of the server', async (t) => {
  const server = await startServer(t, { config: {
    http: { maxTickets: 50, maxTicketsPerCredential: 5 },
  } });
  const scope = PermissionScopes.topicSubscribeOnly('feed', '*');
  const mallory = await tokenFor(server, scope, { tokenId: 'mallory' });
  const alice = await tokenFor(server, scope, { tokenId: 'alice' });
  const ticket = (token: string) => fetch(`${server.httpUrl}/v1/sse/tickets`, { method: 'POST', headers: { authorization: `Bearer ${token}` } }).then(async (r) => { await r.arrayBuffer(); return r.status; });
  const got: number[] = [];
  for (let i = 0; i < 60; i++) got.push(await ticket(mallory));
  t.equal(got.filter((s) => s === 201).length, 5, `mallory holds at most maxTicketsPerCredential unused tickets (${got.filter((s) => s === 201).length} of 60 issued)`);
  t.equal(await ticket(alice), 201, 'another user still gets a ticket');
});
