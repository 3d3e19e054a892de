import t from 'tap';
import { ManualClock } from '../../../src/index.js';
import { TokenBucket } from '../../../src/limits/token-bucket.js';

t.test('token bucket - starts full, refills at the rate up to the burst, never below zero', async (t) => {
  const clock = new ManualClock();
  const bucket = new TokenBucket({ perSec: 2, burst: 3 }, clock);
  t.ok(bucket.take() && bucket.take() && bucket.take(), 'the burst is there at once');
  t.notOk(bucket.take(), 'then empty');
  clock.advance(499);
  t.notOk(bucket.take(), 'less than one token refilled');
  clock.advance(1);
  t.ok(bucket.take(), 'half a second at 2/s is one token');
  clock.advance(60_000);
  t.equal(bucket.available(), 3, 'refill stops at the burst');
  t.notOk(bucket.take(4), 'a take larger than what is there takes nothing');
  t.equal(bucket.available(), 3);
  bucket.take();
  bucket.giveBack();
  bucket.giveBack();
  t.equal(bucket.available(), 3, 'giveBack never passes the burst');
  clock.set(clock.now() - 10_000);
  t.ok(bucket.take(), 'a clock stepping back neither refills nor drains');
  t.equal(bucket.available(), 2);
});
