import t from 'tap';
import { Permissions, parseScope } from '../../src/auth/scopes.js';
import { PermissionScopes, type Scope } from '../../src/index.js';

t.test('scopes - covers: minting may only narrow', async (t) => {
  const key = new Permissions(PermissionScopes.combine(
    PermissionScopes.topicNamePrefixPublishSubscribe('chat', 'room-'),
    PermissionScopes.cacheKeyPrefixReadOnly('chat', 'history-'),
  ).permissions);
  const yes = [
    PermissionScopes.topicPublishOnly('chat', 'room-1'),
    PermissionScopes.topicSubscribeOnly('chat', { namePrefix: 'room-a' }),
    PermissionScopes.cacheKeyReadOnly('chat', 'history-room-1'),
    PermissionScopes.cacheKeyPrefixReadOnly('chat', 'history-x'),
  ];
  const no = [
    PermissionScopes.topicPublishOnly('chat', 'lobby'),
    PermissionScopes.topicPublishOnly('*', 'room-1'),
    PermissionScopes.topicSubscribeOnly('chat', { namePrefix: 'room' }),
    PermissionScopes.topicSubscribeOnly('chat', { nameSuffix: '-x' }),
    PermissionScopes.cacheKeyReadWrite('chat', 'history-room-1'),
    PermissionScopes.cacheReadOnly('chat'),
  ];
  for (const s of yes) t.ok(key.covers(s.permissions), `covers ${JSON.stringify(s.permissions)}`);
  for (const s of no) t.notOk(key.covers(s.permissions), `does not cover ${JSON.stringify(s.permissions)}`);
});

t.test('scopes - suffix selectors cover narrower suffixes and matching names', async (t) => {
  const p = new Permissions(PermissionScopes.topicSubscribeOnly('chat', { nameSuffix: '-input' }).permissions);
  t.ok(p.allowsTopicSelector('subscribe', 'chat', { suffix: '-input' }));
  t.ok(p.allowsTopicSelector('subscribe', 'chat', { suffix: 'room-input' }));
  t.notOk(p.allowsTopicSelector('subscribe', 'chat', { suffix: 'input' }));
  t.notOk(p.allowsTopicSelector('subscribe', 'chat', { all: true }));
  t.notOk(p.allowsTopicSelector('publish', 'chat', { suffix: '-input' }));
  t.ok(p.covers(PermissionScopes.topicSubscribeOnly('chat', 'room1-input').permissions), 'a key on *-input mints a token for one input topic');
  t.notOk(p.covers(PermissionScopes.topicSubscribeOnly('chat', 'room1').permissions), 'but not for a topic outside its suffix');
});

t.test('scopes - parseScope refuses malformed grammar with the path named', async (t) => {
  const bad: Array<[unknown, RegExp]> = [
    [null, /permissions array/],
    [{ permissions: 'all' }, /permissions array/],
    [{ permissions: [] }, /at least one/],
    [{ permissions: [7] }, /permissions\[0\] must be an object/],
    [{ permissions: [{ role: 'readwrite' }] }, /permissions\[0\]\.cache/],
    [{ permissions: [{ role: 'readwrite', cache: '*', topic: '*' }] }, /no topic selector/],
    [{ permissions: [{ role: 'publishonly', cache: '*', item: '*' }] }, /no item selector/],
    [{ permissions: [{ role: 'publishonly', cache: '*', topic: { namePrefix: '' } }] }, /non-empty/],
    [{ permissions: [{ role: 'publishonly', cache: '*', topic: { regex: '.*' } }] }, /must be "\*"/],
    [{ permissions: [{ role: 'readonly', cache: { name: '' } }] }, /blank/],
    [{ permissions: [{ role: 'readonly', cache: '' }] }, /permissions\[0\]\.cache: cache name must not be blank/],
    [{ permissions: [{ role: 'publishonly', cache: 'chat', topic: 'a\u0000b' }] }, /permissions\[0\]\.topic: topic name must not contain control characters/],
    // One form per selector: taking the first of two would silently drop what the other asked for.
    [{ permissions: [{ role: 'subscribeonly', cache: 'chat', topic: { namePrefix: 'room-', nameSuffix: '-input' } }] }, /permissions\[0\]\.topic must be/],
  ];
  for (const [input, message] of bad) {
    t.throws(() => parseScope(input, 20), { code: 'INVALID_ARGUMENT_ERROR', message }, JSON.stringify(input));
  }
  t.same(parseScope({ permissions: [{ role: 'readonly', cache: 'c' }] }, 20), { permissions: [{ role: 'readonly', cache: 'c', item: '*' }] });
  t.same(parseScope({ permissions: [{ role: 'subscribeonly', cache: 'c', topic: 't', presence: false }] }, 20), { permissions: [{ role: 'subscribeonly', cache: 'c', topic: 't' }] }, 'presence: false is the default, not carried into the token');
});

t.test('scopes - presence is a topic right that only a permission asking for it grants', async (t) => {
  const seer = new Permissions(parseScope({ permissions: [{ role: 'subscribeonly', cache: 'chat', topic: { namePrefix: 'room-' }, presence: true }] }, 20).permissions);
  const plain = new Permissions(parseScope({ permissions: [{ role: 'publishsubscribe', cache: '*', topic: '*' }] }, 20).permissions);
  t.ok(seer.allowsTopic('presence', 'chat', 'room-1'));
  t.notOk(seer.allowsTopic('presence', 'chat', 'lobby'));
  t.notOk(plain.allowsTopic('presence', 'chat', 'room-1'), 'publishsubscribe on everything does not include presence');
  t.notOk(plain.covers([{ role: 'subscribeonly', cache: 'chat', topic: 'room-1', presence: true }]), 'and cannot mint it');
  t.ok(seer.covers([{ role: 'subscribeonly', cache: 'chat', topic: 'room-1', presence: true }]));
  t.throws(() => parseScope({ permissions: [{ role: 'readonly', cache: 'chat', presence: true }] }, 20), /presence belongs to a topic permission/);
  t.throws(() => parseScope({ permissions: [{ role: 'subscribeonly', cache: 'chat', topic: 'x', presence: 'yes' }] }, 20), /presence must be true or false/);
});

t.test('scopes - a chat participant publishes only to its chat\'s input and never reads another chat\'s input', async (t) => {
  const alice = new Permissions(PermissionScopes.chatParticipant('chat', 'room1').permissions);
  t.ok(alice.allowsTopic('publish', 'chat', 'room1-input'));
  t.notOk(alice.allowsTopic('publish', 'chat', 'room1'), 'not the moderated stream');
  t.ok(alice.allowsTopic('subscribe', 'chat', 'room1'));
  t.notOk(alice.allowsTopic('subscribe', 'chat', 'room1-input'), 'not the raw input');
  // A chat id ending with the suffix would name another chat's input: its stream is room1's raw,
  // unmoderated input.
  t.throws(() => PermissionScopes.chatParticipant('chat', 'room1-input'), /must not end with the input suffix "-input"/);
  t.throws(() => PermissionScopes.chatParticipant('chat', 'room1#in', '#in'), /must not end with the input suffix "#in"/);
  t.throws(() => PermissionScopes.chatParticipant('chat', ''), /needs a non-empty chat id and input suffix/);
  t.throws(() => PermissionScopes.chatParticipant('chat', 'room1', ''), /needs a non-empty chat id and input suffix/);
  t.throws(() => PermissionScopes.moderator('chat', ''), /needs a non-empty input suffix/);
});

t.test('scopes - each PermissionScopes builder grants exactly its rights, on exactly the names it selects', async (t) => {
  const P = PermissionScopes;
  const names = ['k', 'k-1', 'z'];
  /** Every right the scope gives, as `cache/name action`, over names it selects and names it does not, in its cache and another. */
  const rights = (scope: Scope): string[] => {
    const p = new Permissions(parseScope(scope, 20).permissions);
    const out: string[] = [];
    for (const cache of ['c', 'other']) {
      for (const name of names) {
        for (const a of ['publish', 'subscribe', 'presence'] as const) if (p.allowsTopic(a, cache, name)) out.push(`${cache}/${name} ${a}`);
        for (const a of ['read', 'write'] as const) if (p.allowsCache(a, cache, name)) out.push(`${cache}/${name} ${a}`);
      }
    }
    return out;
  };
  const on = (selected: string[], actions: string[]) => selected.flatMap((name) => actions.map((a) => `c/${name} ${a}`));
  const cases: Array<[string, Scope, string[]]> = [
    ['cacheReadWrite', P.cacheReadWrite('c'), on(names, ['read', 'write'])],
    ['cacheReadOnly', P.cacheReadOnly('c'), on(names, ['read'])],
    ['cacheWriteOnly', P.cacheWriteOnly('c'), on(names, ['write'])],
    ['cacheKeyReadWrite', P.cacheKeyReadWrite('c', 'k'), on(['k'], ['read', 'write'])],
    ['cacheKeyReadOnly', P.cacheKeyReadOnly('c', 'k'), on(['k'], ['read'])],
    ['cacheKeyWriteOnly', P.cacheKeyWriteOnly('c', 'k'), on(['k'], ['write'])],
    ['cacheKeyPrefixReadWrite', P.cacheKeyPrefixReadWrite('c', 'k'), on(['k', 'k-1'], ['read', 'write'])],
    ['cacheKeyPrefixReadOnly', P.cacheKeyPrefixReadOnly('c', 'k'), on(['k', 'k-1'], ['read'])],
    ['cacheKeyPrefixWriteOnly', P.cacheKeyPrefixWriteOnly('c', 'k'), on(['k', 'k-1'], ['write'])],
    ['topicPublishSubscribe', P.topicPublishSubscribe('c', 'k'), on(['k'], ['publish', 'subscribe'])],
    ['topicSubscribeOnly', P.topicSubscribeOnly('c', 'k'), on(['k'], ['subscribe'])],
    ['topicPublishOnly', P.topicPublishOnly('c', 'k'), on(['k'], ['publish'])],
    ['topicNamePrefixPublishSubscribe', P.topicNamePrefixPublishSubscribe('c', 'k'), on(['k', 'k-1'], ['publish', 'subscribe'])],
    ['topicNamePrefixSubscribeOnly', P.topicNamePrefixSubscribeOnly('c', 'k'), on(['k', 'k-1'], ['subscribe'])],
    ['topicNamePrefixPublishOnly', P.topicNamePrefixPublishOnly('c', 'k'), on(['k', 'k-1'], ['publish'])],
    ['topicPresence', P.topicPresence('c', 'k'), on(['k'], ['subscribe', 'presence'])],
  ];
  for (const [name, scope, expected] of cases) t.same(rights(scope), expected, name);
});
