import t from 'tap';
import {
  ExpiresAt, GenerateDisposableToken, ItemGetTtl, ListFetch, ListLength, ListPop, ListWrite, PubAppend, TopicPublish, UpdateTtl, ValueRead, GenericWrite,
} from '../../../src/client/index.js';

t.test('responses - every success, hit and miss prints its kind and a short detail, never [object Object]', async (t) => {
  const expiresAt = ExpiresAt.fromEpoch(1_800_000_000);
  const cases: Array<[object, string]> = [
    [new TopicPublish.Success(3, 17), 'Success: seq 3, page 17'],
    [new GenericWrite.Success(), 'Success'],
    [new ListWrite.Success(4), 'Success: list length 4'],
    [new ListFetch.Hit(['a', 'b'], undefined), 'Hit: 2 elements'],
    [new ListFetch.Miss(), 'Miss'],
    [new ValueRead.Hit('x'.repeat(40)), `Hit: ${'x'.repeat(32)}…`],
    [new ValueRead.Hit(new Uint8Array(5)), 'Hit: 5 bytes'],
    [new ListPop.Hit('last', 2), 'Hit: last'],
    [new ListLength.Hit(9), 'Hit: length 9'],
    [new ItemGetTtl.Hit(1500), 'Hit: 1500 ms left'],
    [new UpdateTtl.Set(), 'Set'],
    [new PubAppend.Success(1, 2, 3), 'Success: seq 1, page 2, list length 3'],
    [new GenerateDisposableToken.Success('secret.jwt.value', expiresAt, 'http://x'), 'Success: token expiring at 2027-01-15T08:00:00.000Z'],
  ];
  for (const [response, printed] of cases) t.equal(`${response}`, printed, printed);
  t.notMatch(`${cases.at(-1)![0]}`, /secret/, 'a minted token is never printed');
});

t.test('responses - ExpiresAt: whole seconds, and a credential that never expires says so', async (t) => {
  const at = ExpiresAt.fromEpochMillis(1_800_000_000_999);
  t.equal(at.epoch(), 1_800_000_000, 'Unix seconds, as Momento\'s');
  t.ok(at.doesExpire());
  const never = ExpiresAt.fromEpochMillis(null);
  t.notOk(never.doesExpire());
  t.equal(never.epoch(), 0);
  t.equal(String(never), 'never');
});
