/** The deadline heap does not grow with connect/disconnect churn: emptied buckets' times are
 * compacted away. */
import t from 'tap';
import { ManualClock } from '../../../src/core/clock.js';
import { Session, type Connection } from '../../../src/engine/session.js';
import { SessionDeadlines } from '../../../src/engine/session-deadlines.js';

const connection: Connection = { send: () => true, bufferedAmount: () => 0, attach: () => {}, detach: () => {}, close: () => {} };

t.test('connection churn with one token (one expiry time) does not grow the deadline heap', async (t) => {
  const clock = new ManualClock();
  const deadlines = new SessionDeadlines(clock, () => {});
  const exp = clock.now() + 24 * 3600_000; // a token valid for a day
  for (let i = 0; i < 10_000; i++) {
    const s = new Session(`s${i}`, connection);
    deadlines.expireAt(s, exp, 'notice'); // hello with the token
    deadlines.cancel(s); // the connection closes
  }
  t.equal(deadlines.size, 0, 'no deadline pending');
  const times = (deadlines as unknown as { times: number[] }).times.length;
  t.ok(times <= 100, `heap of due times holds ${times} entries for one distinct time`);
  deadlines.stop();
});
