import t from 'tap';
import { startServer } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { PermissionScopes } from '../../src/index.js';

t.test('pubsub - a subscriber receives a published text item stamped by the server', async (t) => {
  const server = await startServer(t);
  const token = await tokenFor(server, PermissionScopes.topicPublishSubscribe('chat', '*'), { tokenId: 'alice' });
  const a = await RawClient.open(server, token);
  const sub = await a.ok({ t: 'sub', cache: 'chat', topic: 'room1' });
  t.same(sub, { page: sub['page'], seq: 0 });
  const pub = await a.ok({ t: 'pub', cache: 'chat', topic: 'room1', value: 'hello' });
  t.equal(pub['seq'], 1);
  const [item] = await a.items(1);
  t.match(item, { t: 'item', cache: 'chat', topic: 'room1', value: 'hello', seq: 1, page: sub['page'], tokenId: 'alice' });
  a.close();
});
