/** An `idempotencyKey` is taken only by the writes that deduplicate on it (pub, pubAppend and the
 * list pushes, docs/protocol.md "Idempotent writes"). On any other operation, whatever its type, it
 * is refused with INVALID_ARGUMENT_ERROR naming the field and the operations that take it, and the
 * operation is not carried out, so a client never retries a write it wrongly believes safe. `null`
 * stays "absent". The SDK sends none where it is not taken: its writes of every kind succeed.
 * Against a real server over real WebSockets (and the HTTP API, which runs the same operations). */
import t from 'tap';
import { ErrorCode, PermissionScopes } from '../../src/index.js';
import { startServer } from '../helpers/server.js';
import { RawClient, tokenFor, type Frame } from '../helpers/raw-client.js';
import { chatScope, sdkFor } from '../helpers/sdk.js';

const scope = PermissionScopes.combine(PermissionScopes.topicPublishSubscribe('chat', '*'), PermissionScopes.cacheReadWrite('chat'));

/** Operations that do not take a key, each with what shows it was not carried out. */
const NOT_TAKEN: Frame[] = [
  { t: 'set', cache: 'chat', key: 'k', value: 'changed' },
  { t: 'delete', cache: 'chat', key: 'k' },
  { t: 'updateTtl', cache: 'chat', key: 'k', ttlMs: 1000 },
  { t: 'decreaseTtl', cache: 'chat', key: 'k', ttlMs: 1000 },
  { t: 'listPopBack', cache: 'chat', list: 'l' },
  { t: 'listPopFront', cache: 'chat', list: 'l' },
  { t: 'listRemoveValue', cache: 'chat', list: 'l', value: 'a' },
  { t: 'listRetain', cache: 'chat', list: 'l', startIndex: 0, endIndex: 1 },
  { t: 'listFetch', cache: 'chat', list: 'l' },
  { t: 'get', cache: 'chat', key: 'k' },
  { t: 'follow', cache: 'chat', topic: 'room' },
  { t: 'sub', cache: 'chat', topic: 'room' },
];

t.test('an idempotencyKey on an operation that does not take it is refused, and nothing is done', async (t) => {
  const server = await startServer(t);
  const c = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'ada' }));
  t.teardown(() => c.close());
  await c.ok({ t: 'set', cache: 'chat', key: 'k', value: 'first' });
  await c.ok({ t: 'listConcatenateBack', cache: 'chat', list: 'l', values: ['a', 'b', 'c'] });

  for (const frame of NOT_TAKEN) {
    for (const key of ['retry-1', 7, true, { k: 1 }]) {
      const reply = await c.request({ ...frame, idempotencyKey: key });
      t.equal(reply['t'], 'err', `${frame['t']} with idempotencyKey ${JSON.stringify(key)} is refused`);
      t.equal(reply['e']?.['code'], ErrorCode.INVALID_ARGUMENT_ERROR, `${frame['t']}: INVALID_ARGUMENT_ERROR`);
      t.match(reply['e']?.['message'], /idempotencyKey/, 'the message names the field');
      t.match(reply['e']?.['message'], /pub, pubAppend, listPushBack/, 'and the operations that take it');
    }
  }
  t.same(await c.ok({ t: 'get', cache: 'chat', key: 'k' }), { hit: true, value: 'first' }, 'the key was neither set, deleted nor given a TTL');
  t.match(await c.ok({ t: 'listFetch', cache: 'chat', list: 'l' }), { hit: true, values: ['a', 'b', 'c'] }, 'the list was neither popped, trimmed nor changed');

  t.same(await c.ok({ t: 'set', cache: 'chat', key: 'k', value: 'second', idempotencyKey: null }), {}, 'null is absent: a set with idempotencyKey null is applied');
  const first = await c.ok({ t: 'listPushBack', cache: 'chat', list: 'l', value: 'd', idempotencyKey: 'push-1' });
  const repeat = await c.ok({ t: 'listPushBack', cache: 'chat', list: 'l', value: 'd', idempotencyKey: 'push-1' });
  t.same([first, repeat], [{ length: 4 }, { length: 4 }], 'an operation that takes a key still deduplicates on it');
});

t.test('the HTTP API refuses it too (400), and the SDK never sends one where it is not taken', async (t) => {
  const server = await startServer(t);
  const token = await tokenFor(server, chatScope, { tokenId: 'bea' });
  const res = await fetch(`${server.httpUrl}/v1/cache/chat/set`, {
    method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ key: 'k', value: 'v', idempotencyKey: 'set-1' }),
  });
  const body = await res.json() as { error?: { code: string; message: string } };
  t.equal(res.status, 400, 'set with idempotencyKey over HTTP: 400');
  t.equal(body.error?.code, ErrorCode.INVALID_ARGUMENT_ERROR);

  const sdk = await sdkFor(t, server);
  const types = [
    (await sdk.cache.set('chat', 'k', 'v')).type,
    (await sdk.cache.listConcatenateBack('chat', 'l', ['a', 'b', 'c'])).type,
    (await sdk.cache.listPopBack('chat', 'l')).type,
    (await sdk.cache.listPopFront('chat', 'l')).type,
    (await sdk.cache.listRemoveValue('chat', 'l', 'b')).type,
    (await sdk.cache.listRetain('chat', 'l', { startIndex: 0, endIndex: 1 })).type,
    (await sdk.cache.updateTtl('chat', 'k', 60_000)).type,
    (await sdk.cache.delete('chat', 'k')).type,
    (await sdk.notify.follow('chat', 'room')).type,
  ];
  t.notOk(types.some((type) => type === 'Error'), `every SDK write succeeds: ${types.join(', ')}`);
});
