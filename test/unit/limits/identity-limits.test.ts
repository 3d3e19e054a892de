/** IdentityLimits: request buckets outlive the connections that drained them (a tokenId reconnecting,
 * or a client address making one gRPC call after another, does not start full), are forgotten once
 * full again, and are bounded by limits.maxIdleBuckets. */
import t from 'tap';
import { ManualClock } from '../../../src/index.js';
import { DEFAULTS } from '../../../src/core/config.js';
import { IdentityLimits, type RequestRateHolder } from '../../../src/limits/identity-limits.js';
import { TokenBucket } from '../../../src/limits/token-bucket.js';

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
  t.equal(limits.idleBuckets, 0, 'while it has a connection its bucket is not among the idle ones');
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
  t.equal(limits.idleBuckets, config.maxIdleBuckets, 'maxIdleBuckets remembered, no more');
  clock.advance(5000);
  limits.admitRequest('10.0.0.99', undefined);
  t.equal(limits.idleBuckets, 1, 'buckets that filled up again are forgotten');
});

t.test('identity limits - the least recently used bucket is forgotten first; a full one is never kept', async (t) => {
  const clock = new ManualClock(0);
  const limits = new IdentityLimits(config, clock);
  limits.admitRequest('a', undefined);
  limits.connect('carol');
  limits.disconnect('carol');
  t.equal(limits.idleBuckets, 1, 'a tokenId that closes with a full bucket leaves nothing to remember');
  limits.admitRequest('a', undefined);
  limits.admitRequest('b', undefined);
  limits.admitRequest('c', undefined);
  t.match(limits.admitRequest('a', undefined)?.message, /calls from this address/, 'a is drained (and now the most recently used)');
  limits.admitRequest('d', undefined);
  t.equal(limits.idleBuckets, config.maxIdleBuckets);
  t.match(limits.admitRequest('a', undefined)?.message, /calls from this address/, 'b, used least recently, was forgotten, not a');
});

t.test('identity limits - a request charged several ops takes them from both buckets, and one costing more than a burst never passes', async (t) => {
  const clock = new ManualClock(0);
  const limits = new IdentityLimits({ ...config, connectionOpsBurst: 10, tokenIdOpsBurst: 4 }, clock);
  limits.connect('dave');
  const [first, second]: RequestRateHolder[] = [{ opsTaken: 0, opsFullAt: undefined }, { opsTaken: 0, opsFullAt: undefined }];
  t.equal(limits.admitRequest(first, 'dave', 3), undefined, '3 of the tokenId\'s 4');
  t.match(limits.admitRequest(second, 'dave', 2)?.message, /tokenId "dave"/, 'another connection finds 1 left, not 3');
  t.match(limits.admitRequest({ opsTaken: 0, opsFullAt: undefined }, undefined, 11)?.message, /this connection/, 'a full connection bucket (10) refuses 11');
  // A gRPC call (charged to its address) with a tokenId: the tokenId's refusal costs the address nothing.
  t.match(limits.admitRequest('10.0.0.1', 'dave', 2)?.message, /tokenId "dave"/);
  t.equal(limits.admitRequest('10.0.0.1', undefined, 10), undefined, 'the address still has its whole burst');
});

t.test('identity limits - a connection keeps no bucket object, yet its requests are refused exactly as by a token bucket', async (t) => {
  // The old state, one TokenBucket per connection plus the tokenId's, is the reference: for the same
  // requests at the same times, admitRequest must admit and refuse (and give back) the same way.
  // Two connections of one tokenId, so that both the connections' and the tokenId's rate bite. With
  // steps of 1/16 s every refill is exact in binary and TokenBucket itself is the reference; with any
  // ms its running float sum can land at 0.9999999999999998 where exactly 1 token had refilled (it
  // then refused that request; the new state, integers until the last division, does not), so the
  // reference is the same bucket counted in exact thousandths of a token.
  const rates = { ...config, connectionOpsPerSec: 8, connectionOpsBurst: 5, tokenIdOpsPerSec: 10, tokenIdOpsBurst: 7 };
  let seed = 7; // mulberry32: deterministic, so a failure repeats
  const random = (n: number) => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return Math.floor((((x ^ (x >>> 14)) >>> 0) / 2 ** 32) * n);
  };
  class ExactBucket {
    private milli: number;
    private last: number;
    constructor(private readonly perSec: number, private readonly burst: number, private readonly clock: ManualClock) { this.milli = burst * 1000; this.last = clock.now(); }
    take(): boolean {
      this.milli = Math.min(this.burst * 1000, this.milli + (this.clock.now() - this.last) * this.perSec);
      this.last = this.clock.now();
      if (this.milli < 1000) return false;
      this.milli -= 1000;
      return true;
    }
    giveBack(): void { this.milli = Math.min(this.burst * 1000, this.milli + 1000); }
  }
  for (const [label, step, exact] of [['steps of 1/16 s', () => 62.5 * random(3), false], ['any ms', () => random(130), true]] as const) {
    const clock = new ManualClock(1_700_000_000_000);
    const limits = new IdentityLimits(rates, clock);
    const shared = new TokenBucket({ perSec: 10, burst: 7 }, clock);
    const connections = [0, 1].map(() => {
      limits.connect('bob');
      const holder: RequestRateHolder = { opsTaken: 0, opsFullAt: undefined };
      return { holder, reference: exact ? new ExactBucket(8, 5, clock) : new TokenBucket({ perSec: 8, burst: 5 }, clock) };
    });
    const outcomes = { admitted: 0, connection: 0, tokenId: 0 };
    let mismatches = 0;
    for (let i = 0; i < 4000; i++) {
      // Bursts (several at one instant) and pauses long enough to refill completely.
      clock.advance(random(20) === 0 ? 2000 : step());
      const { holder, reference } = connections[random(3) === 0 ? 1 : 0]!;
      const expected = !reference.take() ? 'connection' : !shared.take() ? (reference.giveBack(), 'tokenId') : 'admitted';
      const refusal = limits.admitRequest(holder, 'bob');
      const got = refusal === undefined ? 'admitted' : /this connection/.test(refusal.message) ? 'connection' : 'tokenId';
      if (got !== expected) mismatches++;
      outcomes[got]++;
    }
    t.equal(mismatches, 0, `${label}: the same answer to every request (${JSON.stringify(outcomes)})`);
    t.ok(outcomes.connection > 100 && outcomes.tokenId > 100 && outcomes.admitted > 1000, `${label}: both limits bit, and requests passed`);
  }
});

t.test('identity limits - a clock stepping back never drains a connection', async (t) => {
  const clock = new ManualClock(10_000);
  const limits = new IdentityLimits({ ...config, connectionOpsBurst: 3 }, clock);
  const holder: RequestRateHolder = { opsTaken: 0, opsFullAt: undefined };
  for (let i = 0; i < 3; i++) t.equal(limits.admitRequest(holder, undefined), undefined, `request ${i + 1} of the burst`);
  t.match(limits.admitRequest(holder, undefined)?.message, /this connection/, 'then refused');
  clock.set(5_000);
  t.equal(limits.admitRequest(holder, undefined), undefined, 'after the step back: admitted (starts full rather than drained)');
  clock.advance(100);
  t.equal(limits.admitRequest(holder, undefined), undefined);
  t.equal(limits.admitRequest(holder, undefined), undefined);
  t.match(limits.admitRequest(holder, undefined)?.message, /this connection/, 'and limited again past the burst');
});
