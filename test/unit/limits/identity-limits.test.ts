/** IdentityLimits: request buckets outlive the connections that drained them (a tokenId reconnecting,
 * or a client address making one gRPC call after another, does not start full), are forgotten once
 * full again, and are bounded by limits.maxIdleBuckets. */
import t from 'tap';
import { ManualClock } from '../../../src/index.js';
import { DEFAULTS } from '../../../src/core/config.js';
import { IdentityLimits, type RequestRateHolder } from '../../../src/limits/identity-limits.js';

const config = { ...DEFAULTS.limits, connectionOpsPerSec: 1, connectionOpsBurst: 2, tokenIdOpsPerSec: 1, tokenIdOpsBurst: 2, maxIdleBuckets: 3 };

t.test('identity limits - a tokenId that closes and reopens keeps its drained bucket until it refills', async (t) => {
  const clock = new ManualClock(0);
  const limits = new IdentityLimits(config, clock);
  const session = (tokenId: string) => { limits.connect(tokenId); const c: RequestRateHolder = { opsTaken: 0, opsFullAt: undefined }; return { c, close: () => limits.disconnect(tokenId) }; };
  for (let i = 0; i < 2; i++) {
    const s = session('alice');
    t.equal(limits.admitRequest(s.c, 'alice'), undefined, `request ${i + 1} of the burst`);
    s.close();
  }
  const again = session('alice');
  t.match(limits.admitRequest(again.c, 'alice')?.message, /tokenId "alice"/, 'a new connection does not refill the tokenId');
  again.close();
  t.equal(limits.idleBuckets, 1);
  clock.advance(2000);
  const later = session('alice');
  t.equal(limits.admitRequest(later.c, 'alice'), undefined, 'refilled with time');
  later.close();
});

t.test('identity limits - per-address buckets (gRPC calls) are shared by calls from one address and bounded', async (t) => {
  const clock = new ManualClock(0);
  const limits = new IdentityLimits(config, clock);
  t.equal(limits.admitRequest('10.0.0.1', undefined), undefined);
  t.equal(limits.admitRequest('10.0.0.1', undefined), undefined);
  t.match(limits.admitRequest('10.0.0.1', undefined)?.message, /calls from this address/);
  t.equal(limits.admitRequest('10.0.0.2', undefined), undefined, 'another address has its own bucket');
  for (let i = 3; i < 10; i++) limits.admitRequest(`10.0.0.${i}`, undefined);
  t.ok(limits.idleBuckets <= config.maxIdleBuckets, `at most maxIdleBuckets remembered (${limits.idleBuckets})`);
  clock.advance(5000);
  limits.admitRequest('10.0.0.99', undefined);
  t.equal(limits.idleBuckets, 1, 'buckets that filled up again are forgotten');
});
