import t from 'tap';
import { TidingsError, ErrorCode, LimitCause, UnavailableCause } from '../../src/index.js';
import { toWireError } from '../../src/core/errors.js';

t.test('errors - a TidingsError carries a cause from the code table onto the wire; anything untyped becomes a bare INTERNAL', async (t) => {
  t.same(new TidingsError(ErrorCode.LIMIT_EXCEEDED_ERROR, 'too big', LimitCause.VALUE_SIZE).toWire(),
    { code: 'LIMIT_EXCEEDED_ERROR', message: 'too big', cause: 'value_size_limit_exceeded' });
  t.same(toWireError(new TidingsError(ErrorCode.SERVER_UNAVAILABLE, 'draining', UnavailableCause.SHUTTING_DOWN)),
    { code: 'SERVER_UNAVAILABLE', message: 'draining', cause: 'server_shutting_down' });
  t.same(toWireError(new Error('secret detail')), { code: 'INTERNAL_SERVER_ERROR', message: 'internal server error' });
  // Checked by tsc (the project's typecheck includes test/): a cause outside LimitCause and
  // UnavailableCause does not compile, so an inline literal with a typo cannot reach a client.
  // @ts-expect-error not a cause of the code table
  const typo = new TidingsError(ErrorCode.LIMIT_EXCEEDED_ERROR, 'too big', 'value_size_limit_exeeded');
  t.equal(typo.code, ErrorCode.LIMIT_EXCEEDED_ERROR);
});
