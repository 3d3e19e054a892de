import t from 'tap';
import { ConnectionAdmission, clientIp, type PendingConnection } from '../../../src/server/admission.js';

t.test('admission - pending and authenticated counted apart; eviction of the oldest pending', async (t) => {
  const admission = new ConnectionAdmission({ maxConnections: 2, maxPendingHellos: 2, maxPendingHellosPerIp: 2, maxConnectionsPerIp: 3 });
  const evicted: string[] = [];
  const conn = (ip: string, name: string): PendingConnection => {
    const c: PendingConnection = { ip, evict: () => { evicted.push(name); admission.closed(c, false); } };
    return c;
  };
  const a = conn('1.1.1.1', 'a');
  t.equal(admission.check('1.1.1.1'), undefined);
  admission.opened(a);
  const b = conn('2.2.2.2', 'b');
  admission.opened(b);
  t.equal(admission.check('3.3.3.3'), undefined, 'the pending cap is reached: room is made');
  t.same(evicted, ['a'], 'by evicting the oldest');
  t.equal(admission.awaitingHello, 1);
  const c = conn('3.3.3.3', 'c');
  admission.opened(c);
  t.ok(admission.authenticate(b));
  t.ok(admission.authenticate(c));
  t.equal(admission.authenticated, 2);
  t.match(admission.check('4.4.4.4'), { status: /^503/ }, 'maxConnections counts authenticated');
  const d = conn('4.4.4.4', 'd');
  admission.closed(c, true);
  admission.opened(d);
  admission.closed(b, true);
  t.equal(admission.authenticated, 0);
  t.equal(admission.awaitingHello, 1);
});

t.test('admission - per-IP caps', async (t) => {
  const admission = new ConnectionAdmission({ maxConnections: 100, maxPendingHellos: 100, maxPendingHellosPerIp: 2, maxConnectionsPerIp: 3 });
  const ip = '10.0.0.1';
  const conns = [0, 1].map(() => ({ ip, evict: () => {} }));
  for (const c of conns) admission.opened(c);
  t.match(admission.check(ip), { status: /^429/, message: /awaiting hello/ });
  admission.authenticate(conns[0]!);
  const third = { ip, evict: () => {} };
  t.equal(admission.check(ip), undefined);
  admission.opened(third);
  t.match(admission.check(ip), { status: /^429/, message: /from this address/ });
  admission.closed(third, false);
  t.equal(admission.check(ip), undefined, 'a closed connection frees its address slot');
  t.equal(admission.check('10.0.0.2'), undefined, 'other addresses are unaffected');
});

t.test('clientIp - the last entry of the trusted header, else the peer', async (t) => {
  t.equal(clientIp('127.0.0.1', ''), '127.0.0.1');
  t.equal(clientIp('127.0.0.1', 'spoofed, 198.51.100.7'), '198.51.100.7');
  t.equal(clientIp('127.0.0.1', ' 198.51.100.8 '), '198.51.100.8');
  t.equal(clientIp('127.0.0.1', ','), '127.0.0.1');
  // The address keys the per-IP counts: a header's worth of text must not become one key.
  t.equal(clientIp('127.0.0.1', `10.0.0.1, ${'f'.repeat(100)}`), 'f'.repeat(64), 'cut to 64 characters');
});
