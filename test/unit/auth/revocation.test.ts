import t from 'tap';
import { ManualClock } from '../../../src/index.js';
import { MemoryRevocationList, covers } from '../../../src/auth/revocation.js';

t.test('revocation list - matching by jti and by tokenId (issued up to the revocation)', async (t) => {
  const clock = new ManualClock(1_700_000_000_000);
  const list = new MemoryRevocationList(10, clock);
  const seen: unknown[] = [];
  const unsubscribe = list.subscribe((e) => seen.push(e));
  await list.revoke({ jti: 'j1', revokedAt: clock.now(), until: clock.now() + 1000 });
  await list.revoke({ tokenId: 'alice', revokedAt: clock.now(), until: null });
  t.equal(seen.length, 2, 'listeners hear every entry');
  unsubscribe();
  t.ok(list.isRevoked({ jti: 'j1', tokenId: undefined, issuedAt: undefined }));
  t.notOk(list.isRevoked({ jti: 'j2', tokenId: 'bob', issuedAt: clock.now() }));
  t.ok(list.isRevoked({ jti: 'j3', tokenId: 'alice', issuedAt: clock.now() - 5000 }), 'alice issued before');
  t.ok(list.isRevoked({ jti: 'j4', tokenId: 'alice', issuedAt: clock.now() }), 'issued in the same ms (iat has seconds: same second counts)');
  t.notOk(list.isRevoked({ jti: 'j5', tokenId: 'alice', issuedAt: clock.now() + 1000 }), 'issued after');
  t.notOk(covers({ revokedAt: 0, until: null }, { jti: 'x', tokenId: 'y', issuedAt: 0 }), 'an entry naming nothing covers nothing');
  clock.advance(1000);
  t.notOk(list.isRevoked({ jti: 'j1', tokenId: undefined, issuedAt: undefined }), 'expired with the credential it covered');
  t.equal(list.size, 1, 'and forgotten');
});

t.test('revocation list - bounded: full refuses (never evicts) until entries expire; repeats merge', async (t) => {
  const clock = new ManualClock(1_700_000_000_000);
  const list = new MemoryRevocationList(2, clock);
  await list.revoke({ tokenId: 'a', revokedAt: clock.now(), until: clock.now() + 10 });
  await list.revoke({ tokenId: 'b', revokedAt: clock.now(), until: null });
  await t.rejects(list.revoke({ tokenId: 'c', revokedAt: clock.now(), until: null }), { code: 'LIMIT_EXCEEDED_ERROR', cause_: 'revocations_limit_exceeded' });
  await list.revoke({ tokenId: 'b', revokedAt: clock.now() + 5, until: clock.now() + 99 });
  t.ok(list.isRevoked({ tokenId: 'b', jti: undefined, issuedAt: clock.now() + 5 }), 'a repeat moves the revocation time forward');
  clock.advance(11);
  await list.revoke({ tokenId: 'c', revokedAt: clock.now(), until: null });
  t.equal(list.size, 2, 'the expired entry made room');
  t.ok(list.isRevoked({ tokenId: 'b', jti: undefined, issuedAt: 0 }), 'a merged entry keeps the longer life (null = forever)');
  await t.rejects(list.revoke({ revokedAt: 0, until: null }), TypeError);
});

t.test('revocation list - holds: only an entry that would change nothing is held already', async (t) => {
  // A shared list (engine/redis/revocations.ts) skips what its mirror holds: an entry held by
  // mistake would leave the mirror with the shorter life or the earlier time.
  const clock = new ManualClock(1_700_000_000_000);
  const list = new MemoryRevocationList(10, clock);
  const at = clock.now();
  await list.revoke({ tokenId: 'a', revokedAt: at, until: at + 10 });
  t.ok(list.holds({ tokenId: 'a', revokedAt: at, until: at + 10 }), 'the same entry');
  t.ok(list.holds({ tokenId: 'a', revokedAt: at - 1, until: at + 5 }), 'an earlier, shorter one');
  t.notOk(list.holds({ tokenId: 'a', revokedAt: at, until: at + 20 }), 'a longer life, at the same time');
  t.notOk(list.holds({ tokenId: 'a', revokedAt: at, until: null }), 'forever, at the same time');
  t.notOk(list.holds({ tokenId: 'a', revokedAt: at + 1000, until: at + 10 }), 'a later time, with the same life');
  t.notOk(list.holds({ jti: 'a', revokedAt: at, until: at + 10 }), 'a jti is not a tokenId');
});

t.test('revocation list - a tokenId entry covers a credential without iat (none is minted so, yet its age is unknown)', async (t) => {
  const clock = new ManualClock(1_700_000_000_000);
  const list = new MemoryRevocationList(10, clock);
  await list.revoke({ tokenId: 'alice', revokedAt: clock.now(), until: null });
  t.ok(list.isRevoked({ jti: 'j1', tokenId: 'alice', issuedAt: undefined }));
});
