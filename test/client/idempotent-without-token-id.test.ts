/** The SDK sends an idempotent write again after a cut link only on a link with the same tokenId:
 * a credential without one is deduplicated per connection, so a resend there would be applied
 * twice; the app gets an honest "maybe" instead. */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { sdkFor, itemCollector, chatScope } from '../helpers/sdk.js';
import type { PublishedItem } from '../../src/index.js';
import { TopicPublish } from '../../src/client/index.js';

t.test('an SDK publish retried after a cut link is not duplicated for a token without tokenId', async (t) => {
  const server = await startServer(t);
  let cuts = 0;
  server.broker['deps'].engine.topics.addPublishHook({
    admit: (_cache, topic) => (topic === 'cut' && cuts === 0 ? true : undefined),
    published: (item: PublishedItem) => { cuts++; server.broker.sessions.get(item.origin!)?.connection.close(4000, 'test: cut the link'); },
  });
  const watcher = await sdkFor(t, server, { tokenId: 'watcher' });
  const got = itemCollector();
  await watcher.topics.subscribe('chat', 'cut', got.callbacks);
  const anonymous = (await server.auth.mintDisposableToken({ scope: chatScope, expiresInSec: 300 })).token;
  const publisher = await sdkFor(t, server, { token: anonymous });
  await publisher.connection.ready();
  const response = await publisher.topics.publish('chat', 'cut', 'once');
  // Either the first result, or an honest "maybe" (the server cannot deduplicate across links
  // for a credential without tokenId): never a silent second copy.
  t.ok(response instanceof TopicPublish.Success || response.toString().includes('may or may not'), `success or an honest maybe (${response})`);
  t.equal(cuts, 1, 'the link was cut after the first attempt was applied');
  await publisher.topics.publish('chat', 'cut', 'after');
  await got.items.until(2);
  await new Promise((r) => setTimeout(r, 200));
  t.same(got.values(), ['once', 'after'], 'the retried item arrived exactly once');
});
