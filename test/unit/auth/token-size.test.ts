import t from 'tap';
import { TokenAuthority, generateSigningKey, resolveConfig, systemClock, type Scope } from '../../../src/index.js';

/** `n` topic permissions, each with a `width`-character topic prefix (prefixes have no length limit of their own). */
const wideScope = (n: number, width: number): Scope => ({
  permissions: Array.from({ length: n }, (_, i) => ({ role: 'publishsubscribe', cache: `c${i}`, topic: { namePrefix: 'p'.repeat(width) } })),
} as Scope);

t.test('tokens - a scope that would make a credential over auth.maxTokenBytes is refused at mint, not handed out unusable', async (t) => {
  const { auth } = resolveConfig({ dev: true });
  const authority = new TokenAuthority(auth, [generateSigningKey()], systemClock);
  const fits = await authority.mintApiKey({ scope: wideScope(auth.maxPermissions, 100), expiresInSec: 60 });
  t.ok(fits.token.length <= auth.maxTokenBytes, `a ${fits.token.length}-byte credential`);
  t.equal(authority.verify(fits.token).kind, 'api_key', 'and it verifies');
  await t.rejects(authority.mintApiKey({ scope: wideScope(auth.maxPermissions, 1000), expiresInSec: 60 }),
    { code: 'INVALID_ARGUMENT_ERROR', message: /over auth\.maxTokenBytes \(16384\)/ });
  await t.rejects(authority.mintDisposableToken({ scope: wideScope(auth.maxPermissions, 1000), expiresInSec: 60 }),
    { code: 'INVALID_ARGUMENT_ERROR', message: /auth\.maxTokenBytes/ }, 'disposable tokens too');
});

t.test('tokens - verification refuses a credential over auth.maxTokenBytes (the knob, not a fixed size)', async (t) => {
  const key = generateSigningKey();
  const roomy = new TokenAuthority(resolveConfig({ dev: true }).auth, [key], systemClock);
  const small = (await roomy.mintApiKey({ scope: wideScope(1, 10), expiresInSec: 60 })).token;
  const large = (await roomy.mintApiKey({ scope: wideScope(4, 200), expiresInSec: 60 })).token;
  const strict = new TokenAuthority(resolveConfig({ dev: true, auth: { maxTokenBytes: small.length } }).auth, [key], systemClock);
  t.equal(strict.verify(small).kind, 'api_key', 'a credential of exactly the limit verifies');
  t.throws(() => strict.verify(large), { code: 'AUTHENTICATION_ERROR', message: /too long \(over auth\.maxTokenBytes/ });
  await t.rejects(strict.mintApiKey({ scope: wideScope(4, 200), expiresInSec: 60 }), { code: 'INVALID_ARGUMENT_ERROR' }, 'nor does it mint one');
});
