import t from 'tap';
import { startServer } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import type { TopicRole, TopicSelector, CacheSelector } from '../../src/index.js';

// Every topic role × selector kind, against a target that matches and one that does not.
const roles: Array<[TopicRole, { pub: boolean; sub: boolean }]> = [
  ['publishsubscribe', { pub: true, sub: true }],
  ['publishonly', { pub: true, sub: false }],
  ['subscribeonly', { pub: false, sub: true }],
];
const selectors: Array<[string, CacheSelector, TopicSelector, Array<[string, string]>, Array<[string, string]>]> = [
  // name, cache selector, topic selector, targets allowed, targets refused (cache, topic)
  ['all caches, all topics', '*', '*', [['chat', 'x'], ['other', 'y']], []],
  ['cache by name, all topics', { name: 'chat' }, '*', [['chat', 'anything']], [['other', 'anything']]],
  ['cache as string, topic by name', 'chat', { name: 'lobby' }, [['chat', 'lobby']], [['chat', 'lobby2'], ['other', 'lobby']]],
  ['topic as string', 'chat', 'lobby', [['chat', 'lobby']], [['chat', 'Lobby']]],
  ['topic name prefix', 'chat', { namePrefix: 'room-' }, [['chat', 'room-1'], ['chat', 'room-']], [['chat', 'room'], ['chat', 'xroom-1']]],
  ['topic name suffix', 'chat', { nameSuffix: '-input' }, [['chat', 'r1-input']], [['chat', 'r1-input2'], ['chat', 'r1']]],
  // Names are opaque text matched exactly: "*" in the object form is one name, not a wildcard; no
  // path meaning for "..", no folding of look-alikes (Cyrillic о, full-width ＊), case or spaces.
  ['names "*" in the object form', { name: '*' }, { name: '*' }, [['*', '*']], [['chat', '*'], ['*', 'x'], ['*', '\uff0a']]],
  ['a name with ".." and look-alikes', 'chat', { name: 'room..1' }, [['chat', 'room..1']], [['chat', 'room.1'], ['chat', 'r\u043e\u043em..1'], ['chat', 'room..1 '], ['chat', 'room/../1']]],
  ['a prefix of 4-byte characters at the 255-byte edge', 'chat', { namePrefix: '\u{1F600}'.repeat(63) }, [['chat', `${'\u{1F600}'.repeat(63)}abc`]], [['chat', `${'\u{1F600}'.repeat(62)}abcd`]]],
];

t.test('permissions - every topic role × selector kind, allowed and refused with the exact code', async (t) => {
  const server = await startServer(t);
  for (const [role, can] of roles) {
    for (const [name, cache, topic, allowed, refused] of selectors) {
      const c = await RawClient.open(server, await tokenFor(server, { permissions: [{ role, cache, topic }] }));
      for (const [targetCache, targetTopic] of allowed) {
        const pub = await c.request({ t: 'pub', cache: targetCache, topic: targetTopic, value: 'v' });
        const sub = await c.request({ t: 'sub', cache: targetCache, topic: targetTopic });
        t.equal(pub['t'] === 'ok' ? 'ok' : pub['e']['code'], can.pub ? 'ok' : 'PERMISSION_ERROR', `${role} / ${name}: publish ${targetCache}/${targetTopic}`);
        t.equal(sub['t'] === 'ok' ? 'ok' : sub['e']['code'], can.sub ? 'ok' : 'PERMISSION_ERROR', `${role} / ${name}: subscribe ${targetCache}/${targetTopic}`);
      }
      for (const [targetCache, targetTopic] of refused) {
        const pub = await c.request({ t: 'pub', cache: targetCache, topic: targetTopic, value: 'v' });
        const sub = await c.request({ t: 'sub', cache: targetCache, topic: targetTopic });
        t.equal(pub['e']?.['code'], 'PERMISSION_ERROR', `${role} / ${name}: publish ${targetCache}/${targetTopic} refused`);
        t.equal(sub['e']?.['code'], 'PERMISSION_ERROR', `${role} / ${name}: subscribe ${targetCache}/${targetTopic} refused`);
      }
      c.close();
    }
  }
});

t.test('permissions - permissions add up', async (t) => {
  const server = await startServer(t);
  const c = await RawClient.open(server, await tokenFor(server, { permissions: [
    { role: 'publishonly', cache: 'chat', topic: 'in' },
    { role: 'subscribeonly', cache: 'chat', topic: 'out' },
  ] }));
  t.equal((await c.request({ t: 'pub', cache: 'chat', topic: 'in', value: 'v' }))['t'], 'ok');
  t.equal((await c.request({ t: 'sub', cache: 'chat', topic: 'out' }))['t'], 'ok');
  t.match((await c.request({ t: 'pub', cache: 'chat', topic: 'out', value: 'v' }))['e'], { code: 'PERMISSION_ERROR', message: /may not publish to topic "out" in cache "chat"/ });
  t.match((await c.request({ t: 'sub', cache: 'chat', topic: 'in' }))['e'], { code: 'PERMISSION_ERROR', message: /may not subscribe/ });
});

t.test('permissions - cache permissions do not grant topic access', async (t) => {
  const server = await startServer(t);
  const c = await RawClient.open(server, await tokenFor(server, { permissions: [{ role: 'readwrite', cache: '*' }] }));
  t.match((await c.request({ t: 'pub', cache: 'chat', topic: 'x', value: 'v' }))['e'], { code: 'PERMISSION_ERROR' });
  t.match((await c.request({ t: 'sub', cache: 'chat', topic: 'x' }))['e'], { code: 'PERMISSION_ERROR' });
});
