/** The publishes a node sent but never heard the reply of (engine/redis/unheard-publishes.ts): a
 * retry of the same item within the key's window stands for one, once; nothing else does, and
 * the node keeps at most maxKeys of them. */
import t from 'tap';
import { UnheardPublishes } from '../../../src/engine/redis/unheard-publishes.js';

const item = (text: string) => [new TextEncoder().encode(text), new Uint8Array([0])] as const;
const remember = (u: UnheardPublishes, key: string, text: string, now: number) => u.remember(key, UnheardPublishes.digest(...item(text)), now, 1000);

t.test('unheard publishes - the same item retried within the window, once', async (t) => {
  const u = new UnheardPublishes(10);
  remember(u, 'k', 'hello', 0);
  t.notOk(u.take('other', ...item('hello'), 10), 'another key');
  t.ok(u.take('k', ...item('hello'), 999), 'the retry within the window');
  t.notOk(u.take('k', ...item('hello'), 999), 'once');
  remember(u, 'k', 'hello', 0);
  t.notOk(u.take('k', ...item('bye'), 10), 'another write reusing the key does not stand for it');
  t.notOk(u.take('k', ...item('hello'), 10), 'and the key is forgotten');
  remember(u, 'k', 'hello', 0);
  t.notOk(u.take('k', ...item('hello'), 1000), 'past the window (the retry is a new write)');
});

t.test('unheard publishes - at most maxKeys, the oldest and the expired go first', async (t) => {
  const u = new UnheardPublishes(2);
  remember(u, 'a', 'x', 0);
  remember(u, 'b', 'x', 1);
  remember(u, 'c', 'x', 2);
  t.notOk(u.take('a', ...item('x'), 3), 'the oldest went for a third');
  t.ok(u.take('b', ...item('x'), 3));
  remember(u, 'b', 'x', 600);
  remember(u, 'd', 'x', 1500);
  t.notOk(u.take('c', ...item('x'), 1500), 'expired ones go when a new one comes');
  t.ok(u.take('b', ...item('x'), 1500), 'a live one stays within the bound');
  t.ok(u.take('d', ...item('x'), 1500));
});
