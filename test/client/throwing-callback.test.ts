/** An application callback that throws does not take other subscribers' items (or the rest of a
 * batched message: replies, other topics) with it; the error is reported on its own. */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { sdkFor, statusReached, collector } from '../helpers/sdk.js';
import { eventually } from '../helpers/wait.js';
import { TopicPublish } from '../../src/client/index.js';

t.test('a throwing onItem does not hide the item from another local subscriber', async (t) => {
  const server = await startServer(t);
  const sdk = await sdkFor(t, server, { requestTimeoutMs: 1500 });
  await statusReached(sdk.connection, 'open');
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown) => { uncaught.push(e); };
  process.on('uncaughtException', onUncaught);
  t.teardown(() => { process.off('uncaughtException', onUncaught); });
  await sdk.topics.subscribe('chat', 'boom', { onItem: () => { throw new Error('app bug'); } });
  const other = collector<string>();
  await sdk.topics.subscribe('chat', 'boom', { onItem: (i) => other.push(i.valueString()) });
  const publisher = await sdkFor(t, server, { tokenId: 'pub' });
  for (let i = 0; i < 3; i++) t.ok((await publisher.topics.publish('chat', 'boom', `m${i}`)) instanceof TopicPublish.Success);
  const got = await other.until(3, 10_000).catch((e: Error) => e);
  t.notOk(got instanceof Error, `the second subscriber got every item: ${got instanceof Error ? got.message : 'ok'} (${other.events.join(',')})`);
  // Each throw is re-thrown on its own (errors.ts, guard): the app still sees its bug.
  t.ok(await eventually(() => uncaught.length === 3), `each throw reaches uncaughtException (${uncaught.length})`);
  t.same(uncaught.map((e) => (e as Error).message), ['app bug', 'app bug', 'app bug']);
});
