import t from 'tap';
import { ManualClock, systemClock, type Clock } from '../../../src/core/clock.js';
import { Session, type Connection } from '../../../src/engine/session.js';
import { SessionDeadlines, type DueKind } from '../../../src/engine/session-deadlines.js';

const connection: Connection = { send: () => true, bufferedAmount: () => 0, attach: () => {}, detach: () => {}, close: () => {} };

function setup() {
  const clock = new ManualClock();
  const fired: Array<[string, DueKind, number]> = [];
  const deadlines = new SessionDeadlines(clock, (s, kind) => fired.push([s.id, kind, clock.now()]));
  return { clock, fired, deadlines, start: clock.now() };
}

t.test('deadlines - a hello deadline fires once, at its time, unless cancelled', async (t) => {
  const { clock, fired, deadlines, start } = setup();
  const a = new Session('a', connection);
  const b = new Session('b', connection);
  deadlines.helloBy(a, start + 100);
  clock.advance(10);
  deadlines.helloBy(b, start + 110);
  deadlines.cancel(a);
  clock.advance(99);
  t.same(fired, [], 'nothing before its time; the cancelled one never');
  clock.advance(1);
  t.same(fired, [['b', 'hello', start + 110]]);
  clock.advance(1000);
  t.equal(fired.length, 1, 'once');
  t.equal(deadlines.size, 0);
});

t.test('deadlines - expiry deadlines fire in time order, shared times included, and replace each other', async (t) => {
  const { clock, fired, deadlines, start } = setup();
  const s = ['a', 'b', 'c', 'd'].map((id) => new Session(id, connection));
  deadlines.expireAt(s[0]!, start + 3000, 'notice');
  deadlines.expireAt(s[1]!, start + 1000, 'expiry');
  deadlines.expireAt(s[2]!, start + 3000, 'notice');
  deadlines.expireAt(s[3]!, start + 2000, 'notice');
  deadlines.expireAt(s[3]!, start + 5000, 'expiry'); // replaces d's earlier deadline
  deadlines.cancel(s[2]!);
  t.equal(deadlines.size, 3);
  clock.advance(10_000);
  t.same(fired, [['b', 'expiry', start + 1000], ['a', 'notice', start + 3000], ['d', 'expiry', start + 5000]]);
  t.equal(deadlines.size, 0);
});

t.test('deadlines - a deadline set while one fires, and one past the timer limit', async (t) => {
  const clock = new ManualClock();
  const start = clock.now();
  const fired: string[] = [];
  const deadlines: SessionDeadlines = new SessionDeadlines(clock, (s, kind) => {
    fired.push(`${s.id}:${kind}`);
    if (kind === 'notice') deadlines.expireAt(s, clock.now() + 500, 'expiry');
  });
  const a = new Session('a', connection);
  deadlines.expireAt(a, start + 1000, 'notice');
  clock.advance(1499);
  t.same(fired, ['a:notice']);
  clock.advance(1);
  t.same(fired, ['a:notice', 'a:expiry'], 'the follow-up deadline set from the callback fires');
  const far = new Session('far', connection);
  const at = clock.now() + 2 ** 31 + 5000; // beyond what one timer can hold
  deadlines.expireAt(far, at, 'expiry');
  clock.advance(2 ** 31);
  t.equal(fired.length, 2, 'not early');
  clock.advance(5000);
  t.same(fired.at(-1), 'far:expiry', 're-armed and fired at its time');
});

t.test('deadlines - a notice and an expiry due at the same time each fire as their own kind', async (t) => {
  const { clock, fired, deadlines, start } = setup();
  const [a, b, c] = ['a', 'b', 'c'].map((id) => new Session(id, connection));
  deadlines.expireAt(a!, start + 1000, 'notice');
  deadlines.expireAt(b!, start + 1000, 'expiry');
  deadlines.expireAt(c!, start + 1000, 'expiry');
  deadlines.cancel(c!);
  t.equal(deadlines.size, 2);
  clock.advance(999);
  t.same(fired, []);
  clock.advance(1);
  t.same(fired.sort(), [['a', 'notice', start + 1000], ['b', 'expiry', start + 1000]]);
  t.equal(deadlines.size, 0);
  deadlines.expireAt(a!, start + 2000, 'expiry');
  clock.advance(1000);
  t.same(fired.at(-1), ['a', 'expiry', start + 2000], 'a time reused after its buckets fired');
});

t.test('deadlines - on the system clock, one past the timer limit (an API key expiring in a year) arms no timer that fires at once', async (t) => {
  // Node fires a timer longer than it can hold after 1 ms (with a TimeoutOverflowWarning).
  process.removeAllListeners('warning');
  let armed = 0;
  const clock: Clock = { ...systemClock, setTimeout: (fn, ms) => { armed++; return systemClock.setTimeout(fn, ms); } };
  const fired: DueKind[] = [];
  const deadlines = new SessionDeadlines(clock, (_s, kind) => fired.push(kind));
  t.teardown(() => deadlines.stop());
  deadlines.expireAt(new Session('year', connection), Date.now() + 365 * 86_400_000, 'notice');
  await new Promise((r) => setTimeout(r, 100));
  t.equal(armed, 1, 'one timer, still waiting (not re-armed every millisecond)');
  t.same(fired, []);
});
