/** BodyLease (src/server/body-budget.ts): a lease grows within the server's and its address's
 * bounds, gives its bytes back once however often it is released, and takes nothing once released
 * (a reader that kept holding after the release would keep those bytes from every later body). */
import t from 'tap';
import { BodyBudget, BodyLease } from '../../../src/server/body-budget.js';

t.test('body lease - grows within both bounds, gives back once, holds nothing once released', async (t) => {
  const budget = new BodyBudget(100, 60, '');
  const a = new BodyLease(budget, '10.0.0.1', undefined);
  t.ok(a.hold(40));
  t.ok(a.hold(30), 'a smaller total is already held');
  t.equal(budget.inFlightFrom('10.0.0.1'), 40);
  t.notOk(a.hold(61), 'past the address\'s share');
  t.equal(a.refusal, 'address');
  const b = new BodyLease(budget, '10.0.0.2', undefined);
  t.ok(b.hold(60));
  t.notOk(b.hold(61), 'past the server\'s total (and the address\'s share)');
  t.equal(b.refusal, 'server');
  a.release();
  a.release();
  t.equal(budget.inFlight, 60, 'released once');
  t.equal(budget.addresses, 1, 'the address left with its last byte');
  t.notOk(a.hold(10), 'a released lease takes nothing more');
  t.equal(budget.inFlight, 60);
  b.release();
  t.equal(budget.inFlight, 0);
  t.equal(budget.addresses, 0);
});
