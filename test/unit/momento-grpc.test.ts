/** Units of the Momento-compatible listener that the SDK tests cannot see directly: one protobuf
 * encoding per published item whatever the number of gRPC subscribers, the JS fan-out index, the
 * Momento-shaped credential codec, the env wiring, and docs/momento-compat.md naming every method
 * the listener answers. */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { pubsub } from '@gomomento/generated-types';
import { ItemTranslator } from '../../src/server/grpc/pubsub.js';
import { JsFanout, type JsReceiver } from '../../src/server/js-fanout.js';
import { MOMENTO_SERVICES, methodsOf, methodsTable, reasonNotAnswered } from '../../src/server/grpc/methods.js';
import { configFromEnv } from '../../src/cli/env.js';
import { decodeMomentoCredential, encodeItem, encodeMomentoCredential, innerCredential } from '../../src/index.js';

t.test('ItemTranslator - a frame fanned out to many streams is translated once', async (t) => {
  const translator = new ItemTranslator();
  const frame = encodeItem({ t: 'item', cache: 'c', topic: 'x', value: 'hi', seq: 7, page: 3, ts: 1, tokenId: 'alice' });
  const first = translator.translate(frame);
  const again = translator.translate(frame);
  t.equal(again, first, 'same translation object for the same frame bytes');
  t.equal(first.kind, 'data');
  const decoded = pubsub.cache_client.pubsub._SubscriptionItem.deserializeBinary((first as { bytes: Uint8Array }).bytes);
  t.equal(decoded.item.topic_sequence_number, 7);
  t.equal(decoded.item.sequence_page, 3);
  t.equal(decoded.item.publisher_id, 'alice');
  t.equal(decoded.item.value.text, 'hi');
  const binary = translator.translate(encodeItem({ t: 'item', cache: 'c', topic: 'x', value: new Uint8Array([1, 2]), seq: 8, page: 3, ts: 1 }));
  const decodedBinary = pubsub.cache_client.pubsub._SubscriptionItem.deserializeBinary((binary as { bytes: Uint8Array }).bytes);
  t.same([...decodedBinary.item.value.binary], [1, 2], 'binary stays binary');
  t.equal(decodedBinary.item.publisher_id, '', 'no tokenId: empty publisher_id');
});

t.test('JsFanout - publishes to attached receivers only, and forgets empty keys and receivers', async (t) => {
  const fanout = new JsFanout();
  const got: string[] = [];
  let encoded = 0;
  const conn = (name: string): JsReceiver => ({ receive: (frame) => { frame.as('text', () => ++encoded); got.push(name); } });
  const a = conn('a');
  const b = conn('b');
  fanout.attach('k', a);
  fanout.attach('k', b);
  fanout.attach('other', b);
  fanout.publish('k', new Uint8Array([1]));
  t.same(got.sort(), ['a', 'b']);
  t.equal(encoded, 1, 'the receivers of one publish share its encoding');
  fanout.detach('k', a);
  fanout.detach('k', b);
  t.equal(fanout.size, 1, 'the emptied key is gone');
  t.equal(fanout.receivers, 1, 'a receiver detached from its last key is forgotten (b is still on "other")');
  fanout.detachAll(b);
  t.equal(fanout.receivers, 0);
  t.equal(fanout.size, 0);
  got.length = 0;
  fanout.publish('k', new Uint8Array([1]));
  t.same(got, []);
});

t.test('Momento-shaped credentials - round trip, the SDK rule (standard base64 with padding), passthrough of bare tokens', async (t) => {
  const wrapped = encodeMomentoCredential({ endpoint: 'broker.example.com', apiKey: 'eyJ.a.b' });
  t.match(wrapped, /^[A-Za-z0-9+/]+={0,2}$/);
  t.same(decodeMomentoCredential(wrapped), { endpoint: 'broker.example.com', apiKey: 'eyJ.a.b' });
  t.equal(innerCredential(wrapped), 'eyJ.a.b');
  t.equal(innerCredential('eyJ.a.b'), 'eyJ.a.b', 'a bare Tidings JWT is used as is');
  t.equal(decodeMomentoCredential(Buffer.from('{"endpoint":"x"}').toString('base64')), undefined, 'no api_key');
  t.equal(decodeMomentoCredential('not base64!'), undefined);
  // The SDK's rule, and no throw on any text: each of these is passed on as a credential of its own.
  const base64 = (bytes: string | Buffer) => Buffer.from(bytes).toString('base64');
  const refused: Array<[string, string]> = [
    ['JSON null', base64('null')],
    ['unpadded', base64('{"endpoint":"e","api_key":"kk"}').replace(/=+$/, '')],
    ['not UTF-8', base64(Buffer.concat([Buffer.from('{"endpoint":"e","api_key":"'), Buffer.from([0xff]), Buffer.from('"}')]))],
    ['an empty api_key', base64('{"endpoint":"e","api_key":""}')],
    ['no endpoint', base64('{"api_key":"k"}')],
  ];
  for (const [name, text] of refused) {
    t.equal(decodeMomentoCredential(text), undefined, `${name}: not Momento-shaped`);
    t.equal(innerCredential(text), text, `${name}: used as is`);
  }
});

t.test('TIDINGS_MOMENTO_PORT turns the listener on', async (t) => {
  t.same(configFromEnv({ TIDINGS_MOMENTO_PORT: '9001', TIDINGS_MOMENTO_ENDPOINT: 'b.example' }), { momento: { port: 9001, endpoint: 'b.example', enabled: true } });
  t.same(configFromEnv({}), {});
});

t.test('docs/momento-compat.md: the answered / not answered table is the one methods.ts generates', async (t) => {
  const doc = readFileSync(new URL('../../docs/momento-compat.md', import.meta.url), 'utf8');
  const begin = doc.indexOf('<!-- methods-table:begin');
  const end = doc.indexOf('<!-- methods-table:end -->');
  t.ok(begin >= 0 && end > begin, 'the generated block is there');
  const block = doc.slice(doc.indexOf('\n', begin) + 1, end).trim();
  t.equal(block, methodsTable(), 'out of date: run node --import tsx scripts/momento-methods-table.ts');
  // Every answered method also has a row in the hand-written "Maps to" table.
  for (const spec of MOMENTO_SERVICES) for (const m of spec.answered) t.ok(doc.slice(0, begin).includes(`\`${m}\``), `${spec.name}/${m} is described`);
});

t.test('methods.ts: answered methods exist, and every other method has a reason', async (t) => {
  for (const spec of MOMENTO_SERVICES) {
    const all = methodsOf(spec);
    for (const m of spec.answered) t.ok(all.includes(m), `${spec.name}/${m} is in the definition`);
    for (const m of all.filter((x) => !spec.answered.includes(x))) t.ok(reasonNotAnswered(spec, m).length > 0);
    for (const g of spec.notAnswered) if (g.methods !== '*') for (const m of g.methods) t.ok(all.includes(m) && !spec.answered.includes(m), `${spec.name}/${m} is a real, unanswered method`);
  }
});

t.test('message-shape: every method NESTED walks into is one the listener answers (a mistyped path would count nothing)', async (t) => {
  const { NESTED } = await import('../../src/server/grpc/message-shape.js');
  const answered = new Set(MOMENTO_SERVICES.flatMap((spec) => spec.answered.map((method) => spec.definition[method]!.path)));
  for (const path of Object.keys(NESTED)) t.ok(answered.has(path), path);
});
